/**
 * The arithmetic of client key limits, with a clock the test moves: token buckets (capacity, refill,
 * debt), UTC days, concurrency slots, the per-replica share of the fallback, and the headers and
 * retry-after a client sees. The Lua script implements the same rules and is tested on a real
 * redis-server (test/store/redis-key-limiter.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { LocalLimiter } from '../../src/keys/local-limiter.js';
import { describeRefusal, rateLimitHeaders, retryAfterSeconds } from '../../src/keys/limits.js';

const T0 = Date.UTC(2025, 11, 7, 12, 0, 0);

function clock(start = T0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('LocalLimiter', () => {
  it('admits a burst of exactly the requests per minute, then one more per refilled request', () => {
    const c = clock();
    const limiter = new LocalLimiter({ now: c.now });
    const results = Array.from({ length: 12 }, () => limiter.reserve('k', { requestsPerMinute: 10 }).allowed);
    expect(results.filter(Boolean)).toHaveLength(10);
    c.advance(5_999);
    expect(limiter.reserve('k', { requestsPerMinute: 10 }).allowed).toBe(false);
    c.advance(1);
    expect(limiter.reserve('k', { requestsPerMinute: 10 }).allowed).toBe(true);
  });

  it('admits while the token bucket is above 0, charges what answers used, and lets it go into debt', () => {
    const c = clock();
    const limiter = new LocalLimiter({ now: c.now });
    const limits = { tokensPerMinute: 1_000 };
    const first = limiter.reserve('k', limits);
    expect(first.allowed).toBe(true);
    limiter.settle('k', limits, first.slot, 1_500, 0);
    const refused = limiter.reserve('k', limits);
    expect(refused.refused).toEqual(['tokensPerMinute']);
    expect(refused.snapshot.tokensMinute!.level).toBe(-500);
    // 500 tokens of debt at 1,000 a minute: 30 s, plus one token's refill.
    expect(retryAfterSeconds(refused)).toBe(31);
    c.advance(31_000);
    expect(limiter.reserve('k', limits).allowed).toBe(true);
  });

  it('counts tokens and credits per UTC day and starts again at midnight', () => {
    const c = clock(Date.UTC(2025, 11, 7, 23, 59, 0));
    const limiter = new LocalLimiter({ now: c.now, dayUsage: () => ({ tokens: 900, credits: 0.5 }) });
    const limits = { tokensPerDay: 1_000, creditsPerDay: 1 };
    const d = limiter.reserve('k', limits);
    expect(d.allowed).toBe(true);
    expect(d.snapshot.tokensDay).toEqual({ limit: 1_000, used: 900 });
    limiter.settle('k', limits, d.slot, 100, 0.5);
    const refused = limiter.reserve('k', limits);
    expect(refused.refused).toEqual(['tokensPerDay', 'creditsPerDay']);
    expect(retryAfterSeconds(refused)).toBe(60);
    c.advance(60_000);
    expect(limiter.reserve('k', limits).allowed).toBe(true);
  });

  it('holds concurrent streams until their slots are released', () => {
    const limiter = new LocalLimiter({ now: clock().now });
    const limits = { concurrentStreams: 2 };
    const a = limiter.reserve('k', limits);
    const b = limiter.reserve('k', limits);
    expect(limiter.reserve('k', limits).refused).toEqual(['concurrentStreams']);
    limiter.settle('k', limits, a.slot, 0, 0);
    expect(limiter.reserve('k', limits).allowed).toBe(true);
    expect(b.snapshot.concurrent).toEqual({ limit: 2, inUse: 2 });
  });

  it('enforces a share of each limit: minute limits divided (at least 1), what is left of a day limit divided', () => {
    const limiter = new LocalLimiter({ now: clock().now, share: () => 3, dayUsage: () => ({ tokens: 400, credits: 0 }) });
    expect(Array.from({ length: 5 }, () => limiter.reserve('a', { requestsPerMinute: 7 }).allowed).filter(Boolean)).toHaveLength(2);
    expect(Array.from({ length: 3 }, () => limiter.reserve('b', { requestsPerMinute: 2 }).allowed).filter(Boolean)).toHaveLength(1);
    const day = limiter.reserve('c', { tokensPerDay: 1_000 });
    // 600 left of 1,000, a third of it here: 400 + 200.
    expect(day.snapshot.tokensDay).toEqual({ limit: 600, used: 400 });
  });
});

describe('what a client sees', () => {
  it('sends the anthropic-ratelimit-* headers, tokens for the most restrictive token limit', () => {
    const now = T0 + 400;
    const headers = rateLimitHeaders({
      now,
      requests: { limit: 60, level: 58.5 },
      tokensMinute: { limit: 100_000, level: 90_000 },
      tokensDay: { limit: 1_000_000, used: 950_000 },
    });
    expect(headers).toEqual({
      'anthropic-ratelimit-requests-limit': '60',
      'anthropic-ratelimit-requests-remaining': '58',
      // 1.5 requests to refill at one a second, rounded up to the second.
      'anthropic-ratelimit-requests-reset': '2025-12-07T12:00:02Z',
      'anthropic-ratelimit-tokens-limit': '1000000',
      'anthropic-ratelimit-tokens-remaining': '50000',
      'anthropic-ratelimit-tokens-reset': '2025-12-08T00:00:00Z',
    });
    expect(rateLimitHeaders({ now, tokensMinute: { limit: 1_000, level: -20 } })['anthropic-ratelimit-tokens-remaining']).toBe('0');
  });

  it('names the limit, the key and the wait in the 429 message', () => {
    const decision = {
      refused: ['requestsPerMinute' as const],
      snapshot: { now: T0, requests: { limit: 2, level: 0.5 } },
      scope: 'local' as const,
    };
    expect(describeRefusal('"team" (key_1)', decision)).toBe(
      `This request would exceed the rate limit of API key "team" (key_1) of 2 requests per minute (this replica's share while the shared store is unreachable); retry after 15 s`,
    );
  });
});
