/**
 * The arithmetic of a key's limits, shared by every limiter: what one check saw, whether a key has
 * any limit at all, how long a refused client should wait, and the `anthropic-ratelimit-*` headers
 * that describe it (as Anthropic's API sends them: limit, remaining, and the RFC 3339 time at which
 * the limit is fully replenished). The Redis Lua script (store/redis/lua/client-keys.ts) and
 * LocalLimiter implement the same rules.
 */
import { LIMIT_NAMES, type KeyLimits, type LimitName } from './types.js';

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;

/** What one check saw after its own reservation (absent = that limit does not apply). */
export interface LimitSnapshot {
  /** Epoch ms of the check (Redis TIME for the shared limiter). */
  now: number;
  /** Token bucket of requests: level after this request took its token. */
  requests?: { limit: number; level: number };
  /** Token bucket of tokens: level (negative while in debt; a request needs a level above 0). */
  tokensMinute?: { limit: number; level: number };
  /** Tokens used today (UTC) against the daily limit. */
  tokensDay?: { limit: number; used: number };
  creditsDay?: { limit: number; used: number };
  /** Streams in flight, this one included when admitted. */
  concurrent?: { limit: number; inUse: number };
}

/** The outcome of one check-and-reserve. */
export interface LimitDecision {
  allowed: boolean;
  /** The limits that refused the request (empty when allowed). */
  refused: LimitName[];
  snapshot: LimitSnapshot;
  /** The concurrency slot taken (release it when the request is over). */
  slot?: string;
  /** Where the decision was made: the shared store, or this replica alone. */
  scope: 'shared' | 'local';
}

/** True when any limit applies, i.e. a check is needed at all. */
export function hasLimits(limits: KeyLimits): boolean {
  return LIMIT_NAMES.some((name) => (limits[name] ?? 0) > 0);
}

/** A minute token bucket's level at `now`: refilled at `capacity` per minute, capped at `capacity`. */
export function refill(level: number, at: number, capacity: number, now: number): number {
  return Math.min(capacity, level + (Math.max(0, now - at) * capacity) / MINUTE_MS);
}

/** Epoch ms of the next 00:00 UTC after `now`. */
export function nextUtcMidnight(now: number): number {
  return (Math.floor(now / DAY_MS) + 1) * DAY_MS;
}

/** The UTC day number of `now` (days since the epoch), as the Lua script computes it. */
export function utcDay(now: number): number {
  return Math.floor(now / DAY_MS);
}

function untilRefilledTo(target: number, level: number, capacity: number): number {
  return Math.max(0, ((target - level) * MINUTE_MS) / capacity);
}

/** How long until `name` would admit a request again (ms). */
function waitMs(name: LimitName, s: LimitSnapshot): number {
  switch (name) {
    case 'requestsPerMinute':
      return s.requests ? untilRefilledTo(1, s.requests.level, s.requests.limit) : 0;
    case 'tokensPerMinute':
      // Admitted again once the bucket is above 0; one token's refill past that.
      return s.tokensMinute ? untilRefilledTo(1, s.tokensMinute.level, s.tokensMinute.limit) : 0;
    case 'tokensPerDay':
    case 'creditsPerDay':
      return nextUtcMidnight(s.now) - s.now;
    case 'concurrentStreams':
      // Unknown: a stream ends when it ends. A short wait, as Anthropic's overloaded answers suggest.
      return 1_000;
  }
}

/** Whole seconds (at least 1) a refused client should wait: the longest wait of the limits that refused it. */
export function retryAfterSeconds(decision: Pick<LimitDecision, 'refused' | 'snapshot'>): number {
  const ms = Math.max(0, ...decision.refused.map((name) => waitMs(name, decision.snapshot)));
  return Math.max(1, Math.ceil(ms / 1000));
}

/** RFC 3339 in whole seconds (rounded up), as Anthropic's reset headers. */
function resetTime(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The `anthropic-ratelimit-*` headers of a snapshot. `tokens-*` describes the most restrictive
 * token limit in effect (the one with the fewest tokens left), as Anthropic's does. The key's token
 * limits count input and output together, so no `input-tokens-*` / `output-tokens-*` are sent.
 */
export function rateLimitHeaders(s: LimitSnapshot): Record<string, string> {
  const headers: Record<string, string> = {};
  if (s.requests) {
    const { limit, level } = s.requests;
    headers['anthropic-ratelimit-requests-limit'] = String(limit);
    headers['anthropic-ratelimit-requests-remaining'] = String(Math.max(0, Math.floor(level)));
    headers['anthropic-ratelimit-requests-reset'] = resetTime(s.now + untilRefilledTo(limit, level, limit));
  }
  const tokenCandidates: Array<{ limit: number; remaining: number; reset: number }> = [];
  if (s.tokensMinute) {
    const { limit, level } = s.tokensMinute;
    tokenCandidates.push({ limit, remaining: Math.max(0, Math.floor(level)), reset: s.now + untilRefilledTo(limit, level, limit) });
  }
  if (s.tokensDay) {
    const { limit, used } = s.tokensDay;
    tokenCandidates.push({ limit, remaining: Math.max(0, Math.floor(limit - used)), reset: nextUtcMidnight(s.now) });
  }
  const tightest = tokenCandidates.sort((a, b) => a.remaining - b.remaining)[0];
  if (tightest) {
    headers['anthropic-ratelimit-tokens-limit'] = String(tightest.limit);
    headers['anthropic-ratelimit-tokens-remaining'] = String(tightest.remaining);
    headers['anthropic-ratelimit-tokens-reset'] = resetTime(tightest.reset);
  }
  return headers;
}

/** Words for the 429 message. */
const DESCRIPTIONS: Record<LimitName, (n: number) => string> = {
  requestsPerMinute: (n) => `${n} requests per minute`,
  tokensPerMinute: (n) => `${n} input and output tokens per minute`,
  tokensPerDay: (n) => `${n} input and output tokens per day (UTC)`,
  creditsPerDay: (n) => `${n} Kiro credits per day (UTC)`,
  concurrentStreams: (n) => `${n} concurrent requests`,
};

/** The limit value in effect for `name` in a snapshot. */
function limitIn(name: LimitName, s: LimitSnapshot): number {
  const part = {
    requestsPerMinute: s.requests,
    tokensPerMinute: s.tokensMinute,
    tokensPerDay: s.tokensDay,
    creditsPerDay: s.creditsDay,
    concurrentStreams: s.concurrent,
  }[name];
  return part?.limit ?? 0;
}

/** "This request would exceed the rate limit of API key … of 10 requests per minute". */
export function describeRefusal(keyLabel: string, decision: Pick<LimitDecision, 'refused' | 'snapshot' | 'scope'>): string {
  const limits = decision.refused.map((name) => DESCRIPTIONS[name](limitIn(name, decision.snapshot))).join(' and ');
  const scope = decision.scope === 'local' ? " (this replica's share while the shared store is unreachable)" : '';
  return `This request would exceed the rate limit of API key ${keyLabel} of ${limits}${scope}; retry after ${retryAfterSeconds(decision)} s`;
}
