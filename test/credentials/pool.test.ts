import { describe, expect, it } from 'vitest';
import { loadConfig, type GatewayConfig } from '../../src/config.js';
import { ApiError, InvalidRequestError, OverloadedError, RateLimitError, RequestTooLargeError } from '../../src/errors.js';
import { MemoryCredentialStore } from '../../src/store/memory/memory-store.js';
import { CredentialPool, type AttemptResult, type Lease, type PoolEvent } from '../../src/credentials/pool.js';
import { RefreshError, type RefreshResult } from '../../src/credentials/refresh.js';
import type { CredentialStore } from '../../src/store/store.js';
import type { Credential } from '../../src/credentials/types.js';

const T0 = Date.parse('2026-03-15T12:00:00.000Z');
const HOUR = 3_600_000;
const REFRESH = 'aorA' + 'p'.repeat(150);
const SONNET = 'claude-sonnet-4.5';
const OPUS = 'claude-opus-4.5';

const BEARER_INVALID = '{"message":"The bearer token included in the request is invalid."}';
const SUSPENDED = '{"message":"Your User ID temporarily is suspended."}';
const QUOTA = '{"message":"You have reached the limit.","reason":"MONTHLY_REQUEST_COUNT"}';

type Answer = AttemptResult<string>;
const OK = (v = 'ok'): Answer => ({ ok: true, value: v });
const FAIL = (status: number, body = '{}'): Answer => ({ ok: false, status, body });
const NETWORK: Answer = { ok: false, networkError: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) };

function cred(id: number, extra: Partial<Credential> = {}): Credential {
  return {
    id,
    authMethod: 'social',
    refreshToken: REFRESH + id,
    accessToken: `at-${id}`,
    expiresAt: new Date(T0 + HOUR).toISOString(),
    priority: id,
    machineId: 'ab'.repeat(32),
    disabled: false,
    ...extra,
  };
}

interface Setup {
  pool: CredentialPool;
  store: MemoryCredentialStore;
  clock: { now: number };
  sleeps: number[];
  events: PoolEvent[];
  refreshes: Array<{ id: number; token?: string }>;
  calls: Array<{ id: number; token: string; attempt: number }>;
  /** Runs one request; `answers` maps a credential id to its successive answers (last one repeats). */
  run(answers: Record<number, Answer[] | Answer>, model?: string, signal?: AbortSignal): Promise<{ value: string; lease: Lease }>;
}

function makeConfig(pool: Partial<GatewayConfig['pool']> = {}): GatewayConfig {
  const config = loadConfig({ argv: [], env: { KIRO_CLIENT_API_KEY: 'k' } });
  Object.assign(config.pool, pool);
  return config;
}

function setup(
  creds: Credential[],
  opts: {
    pool?: Partial<GatewayConfig['pool']>;
    mode?: 'priority' | 'balanced';
    refresh?: (c: Credential) => Promise<RefreshResult>;
    store?: (s: MemoryCredentialStore) => CredentialStore;
  } = {},
): Setup {
  const config = makeConfig(opts.pool);
  if (opts.mode) config.loadBalancingMode = opts.mode;
  const store = new MemoryCredentialStore({ credentials: creds, form: 'array', path: null });
  const clock = { now: T0 };
  const sleeps: number[] = [];
  const events: PoolEvent[] = [];
  const refreshes: Setup['refreshes'] = [];
  const calls: Setup['calls'] = [];
  let refreshCounter = 0;
  const refresh =
    opts.refresh ??
    (async (c: Credential) => ({ accessToken: `fresh-${c.id}-${++refreshCounter}`, expiresAt: new Date(clock.now + HOUR).toISOString() }));
  const pool = new CredentialPool({
    store: opts.store ? opts.store(store) : store,
    refresher: {
      refresh: async (c: Credential) => {
        refreshes.push({ id: c.id, token: c.accessToken });
        return refresh(c);
      },
    },
    config,
    now: () => clock.now,
    onEvent: (e) => events.push(e),
    random: () => 0,
    sleep: async (ms, signal) => {
      signal.throwIfAborted();
      sleeps.push(ms);
    },
  });
  const run: Setup['run'] = (answers, model = SONNET, signal = new AbortController().signal) => {
    const seen = new Map<number, number>();
    return pool.execute({ kiroModelId: model, signal }, async (lease) => {
      const id = lease.credential.id;
      calls.push({ id, token: lease.accessToken, attempt: lease.attempt });
      const list = answers[id];
      if (!list) throw new Error(`test did not expect credential ${id}`);
      const all = Array.isArray(list) ? list : [list];
      const n = seen.get(id) ?? 0;
      seen.set(id, n + 1);
      return all[Math.min(n, all.length - 1)];
    });
  };
  return { pool, store, clock, sleeps, events, refreshes, calls, run };
}

async function settle(): Promise<void> {
  await new Promise((r) => setImmediate(r));
}

describe('selection', () => {
  it('uses the lowest priority number first and sticks to it', async () => {
    const s = setup([cred(1, { priority: 5 }), cred(2, { priority: 0 }), cred(3, { priority: 1 })]);
    const { value, lease } = await s.run({ 2: OK('from-2') });
    expect(value).toBe('from-2');
    expect(lease.credential.id).toBe(2);
    expect(lease.accessToken).toBe('at-2');
    expect(lease.attempt).toBe(1);
    lease.release();
    expect(s.pool.currentId()).toBe(2);
  });

  it('keeps the current credential after a failover and switches only when it is disabled', async () => {
    const s = setup([cred(1), cred(2)]);
    (await s.run({ 1: FAIL(403, '{"message":"denied"}'), 2: OK() })).lease.release();
    expect(s.calls.map((c) => c.id)).toEqual([1, 2]);
    (await s.run({ 1: OK() })).lease.release();
    expect(s.calls.at(-1)?.id).toBe(1);
    await s.store.update(1, { disabled: true });
    (await s.run({ 2: OK() })).lease.release();
    await s.store.update(1, { disabled: false });
    (await s.run({ 2: OK() })).lease.release(); // sticky on 2 now, even though 1 is back
    expect(s.calls.slice(-2).map((c) => c.id)).toEqual([2, 2]);
  });

  it('re-selects by priority when priorities change', async () => {
    const s = setup([cred(1), cred(2)]);
    (await s.run({ 1: OK() })).lease.release();
    await s.store.update(2, { priority: -1 });
    (await s.run({ 2: OK() })).lease.release();
    expect(s.calls.map((c) => c.id)).toEqual([1, 2]);
  });

  it('balanced mode picks the least used credential, ties by priority', async () => {
    const s = setup([cred(1), cred(2), cred(3)], { mode: 'balanced' });
    s.store.updateStats(1, () => ({ successCount: 5 }));
    s.store.updateStats(2, () => ({ successCount: 2 }));
    s.store.updateStats(3, () => ({ successCount: 2 }));
    const a = await s.run({ 2: OK() }); // 2 and 3 tie: priority decides
    a.lease.release();
    const b = await s.run({ 3: OK() }); // 2 now has 3 successes
    b.lease.release();
    expect([a.lease.credential.id, b.lease.credential.id]).toEqual([2, 3]);
  });

  it('balanced mode counts in-flight requests as use', async () => {
    const s = setup([cred(1), cred(2)], { mode: 'balanced' });
    const a = await s.run({ 1: OK(), 2: OK() });
    const b = await s.run({ 1: OK(), 2: OK() });
    expect([a.lease.credential.id, b.lease.credential.id]).toEqual([1, 2]);
  });

  it('switches mode at run time', () => {
    const s = setup([cred(1)]);
    expect(s.pool.mode).toBe('priority');
    s.pool.setMode('balanced');
    expect(s.pool.mode).toBe('balanced');
  });

  it('respects the per-credential concurrency cap and counts in-flight leases', async () => {
    const s = setup([cred(1), cred(2)], { pool: { maxConcurrencyPerCredential: 1 } });
    const a = await s.run({ 1: OK() });
    const b = await s.run({ 1: OK(), 2: OK() });
    expect([a.lease.credential.id, b.lease.credential.id]).toEqual([1, 2]);
    expect(s.pool.inFlight(1)).toBe(1);
    const err = await s.run({ 1: OK(), 2: OK() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OverloadedError);
    expect((err as Error).message).toMatch(/2 at the concurrency limit of 1/);
    a.lease.release();
    a.lease.release(); // idempotent
    expect(s.pool.inFlight(1)).toBe(0);
    const c = await s.run({ 1: OK() });
    expect(c.lease.credential.id).toBe(1);
    b.lease.release();
    c.lease.release();
    expect(s.pool.inFlight(2)).toBe(0);
  });

  it('skips free-tier credentials for Opus models only', async () => {
    const s = setup([cred(1, { subscriptionTitle: 'KIRO FREE' }), cred(2, { subscriptionTitle: 'KIRO PRO+' })]);
    expect((await s.run({ 2: OK() }, OPUS)).lease.credential.id).toBe(2);
    expect((await s.run({ 1: OK() }, SONNET)).lease.credential.id).toBe(1);
    await s.store.update(2, { disabled: true });
    const err = await s.run({}, OPUS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OverloadedError);
    expect((err as Error).message).toMatch(/1 free-tier \(no Opus models\)/);
  });
});

describe('retry limits and transient failures', () => {
  it('tries one credential at most 3 times and fails with 502 when the upstream keeps failing', async () => {
    const s = setup([cred(1)]);
    const err = await s.run({ 1: FAIL(500, '{"message":"Internal error"}') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 502 });
    expect((err as Error).message).toMatch(/HTTP 500/);
    expect(s.calls).toHaveLength(3);
    expect(s.sleeps).toEqual([200, 400]);
  });

  it('stops at 9 attempts per request over all credentials', async () => {
    const s = setup([cred(1), cred(2), cred(3), cred(4)]);
    await expect(s.run({ 1: NETWORK, 2: NETWORK, 3: NETWORK, 4: NETWORK })).rejects.toMatchObject({ status: 502 });
    expect(s.calls).toHaveLength(9);
    expect(s.calls.map((c) => c.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(s.sleeps).toEqual([200, 400, 800, 1600, 2000, 2000, 2000, 2000]);
  });

  it('adds up to 25% jitter to the backoff', async () => {
    const s = setup([cred(1)]);
    const pool = new CredentialPool({
      store: s.store,
      refresher: { refresh: async () => ({ accessToken: 'x' }) },
      config: makeConfig(),
      now: () => T0,
      random: () => 0.999,
      sleep: async (ms) => void s.sleeps.push(ms),
    });
    await pool.execute({ kiroModelId: SONNET, signal: new AbortController().signal }, async () => FAIL(503)).catch(() => {});
    expect(s.sleeps).toEqual([250, 500]);
  });

  it('retries 5xx, 408 and network errors on the same credential without blaming it', async () => {
    const s = setup([cred(1), cred(2)]);
    const { value } = await s.run({ 1: [FAIL(503), FAIL(408), OK('third')] });
    expect(value).toBe('third');
    expect(s.calls.map((c) => c.id)).toEqual([1, 1, 1]);
    expect(s.sleeps).toEqual([200, 400]);

    const t = setup([cred(1)]);
    const ok = await t.run({ 1: [FAIL(502), OK('second')] });
    expect(ok.value).toBe('second');
    expect(t.store.get(1)?.stats).toMatchObject({ failureCount: 0, successCount: 1, failureTotal: 0 });
    expect(t.sleeps).toEqual([200]);
  });

  it('answers 429 by cooling the credential down and trying the next one at once', async () => {
    const s = setup([cred(1), cred(2)], { pool: { rateLimitCooldownMs: 5_000 } });
    const { lease } = await s.run({ 1: FAIL(429, '{"message":"Too many requests"}'), 2: OK() });
    lease.release();
    expect(s.calls.map((c) => c.id)).toEqual([1, 2]);
    expect(s.sleeps).toEqual([]);
    expect(s.store.get(1)?.stats).toMatchObject({ failureCount: 0, cooldownUntil: T0 + 5_000 });
    // Still cooling: the sticky credential 1 is passed over.
    (await s.run({ 2: OK() })).lease.release();
    s.clock.now += 5_001;
    (await s.run({ 1: OK() })).lease.release();
    expect(s.calls.map((c) => c.id)).toEqual([1, 2, 2, 1]);
    expect(s.store.get(1)?.stats.cooldownUntil).toBeUndefined();
  });

  it('doubles the cool-down with each 429 in a row, up to the maximum, and starts over after a success', async () => {
    const s = setup([cred(1), cred(2)], { pool: { rateLimitCooldownMs: 30_000, rateLimitCooldownMaxMs: 100_000 } });
    const cooldowns: number[] = [];
    for (let i = 0; i < 4; i++) {
      (await s.run({ 1: FAIL(429), 2: OK() })).lease.release();
      cooldowns.push(s.store.get(1)!.stats.cooldownUntil! - s.clock.now);
      s.clock.now += cooldowns.at(-1)! + 1;
    }
    expect(cooldowns).toEqual([30_000, 60_000, 100_000, 100_000]);
    (await s.run({ 1: OK() })).lease.release();
    (await s.run({ 1: FAIL(429), 2: OK() })).lease.release();
    expect(s.store.get(1)!.stats.cooldownUntil! - s.clock.now).toBe(30_000);
  });

  it('retries a lone rate-limited credential after a backoff', async () => {
    const s = setup([cred(1)]);
    const { value } = await s.run({ 1: [FAIL(429), OK('after-backoff')] });
    expect(value).toBe('after-backoff');
    expect(s.sleeps).toEqual([200]);
  });

  it('fails with a rate limit error when every try was answered 429', async () => {
    const s = setup([cred(1), cred(2)], { pool: { rateLimitCooldownMs: 10_000 } });
    const err = await s.run({ 1: FAIL(429), 2: FAIL(429) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err).toMatchObject({ status: 429, retryAfterSeconds: 10 });
    expect(s.calls).toHaveLength(6);
    expect(s.store.get(1)?.stats.failureCount).toBe(0);
  });
});

describe('credential failures', () => {
  it('force-refreshes once on "bearer token invalid" and retries the same credential', async () => {
    const s = setup([cred(1), cred(2)]);
    const { lease, value } = await s.run({ 1: [FAIL(401, BEARER_INVALID), OK('with-new-token')] });
    expect(value).toBe('with-new-token');
    expect(s.refreshes).toEqual([{ id: 1, token: 'at-1' }]); // forced although the token looked valid
    expect(s.calls.map((c) => [c.id, c.token])).toEqual([
      [1, 'at-1'],
      [1, 'fresh-1-1'],
    ]);
    expect(lease.credential.accessToken).toBe('fresh-1-1');
    expect(s.store.get(1)?.credential.accessToken).toBe('fresh-1-1');
    expect(s.store.get(1)?.stats.failureCount).toBe(0);
    expect(s.sleeps).toEqual([]);
  });

  it('skips the forced refresh when another holder already replaced the rejected token', async () => {
    const s = setup([cred(1)]);
    let n = 0;
    const { value } = await s.pool.execute({ kiroModelId: SONNET, signal: new AbortController().signal }, async (lease) => {
      s.calls.push({ id: lease.credential.id, token: lease.accessToken, attempt: lease.attempt });
      if (n++ > 0) return OK('retried');
      await s.store.update(1, { accessToken: 'refreshed-elsewhere', expiresAt: new Date(T0 + HOUR).toISOString() });
      return FAIL(401, BEARER_INVALID);
    });
    expect(value).toBe('retried');
    expect(s.refreshes).toHaveLength(0);
    expect(s.calls.map((c) => c.token)).toEqual(['at-1', 'refreshed-elsewhere']);
  });

  it('counts a second "bearer token invalid" in the same request as a failure and moves on', async () => {
    const s = setup([cred(1), cred(2)]);
    await s.run({ 1: FAIL(403, BEARER_INVALID), 2: OK() });
    expect(s.refreshes).toHaveLength(1);
    expect(s.calls.map((c) => c.id)).toEqual([1, 1, 2]);
    expect(s.store.get(1)?.stats).toMatchObject({ failureCount: 1, failureTotal: 1 });
  });

  it('disables a credential after 3 consecutive 401/403 failures, and a success resets the count', async () => {
    const s = setup([cred(1), cred(2)]);
    const denied = FAIL(403, '{"message":"AccessDeniedException"}');
    (await s.run({ 1: denied, 2: OK() })).lease.release();
    (await s.run({ 1: OK() })).lease.release();
    expect(s.store.get(1)?.stats.failureCount).toBe(0);
    for (let i = 0; i < 3; i++) (await s.run({ 1: denied, 2: OK() })).lease.release();
    expect(s.store.get(1)?.credential).toMatchObject({ disabled: true, disabledReason: 'TooManyFailures' });
    expect(s.events).toContainEqual({ type: 'disable', credentialId: 1, reason: 'TooManyFailures' });
  });

  it('disables a suspended credential at once and never retries it', async () => {
    const s = setup([cred(1), cred(2)]);
    (await s.run({ 1: FAIL(403, SUSPENDED), 2: OK() })).lease.release();
    expect(s.calls.map((c) => c.id)).toEqual([1, 2]);
    expect(s.store.get(1)?.credential).toMatchObject({ disabled: true, disabledReason: 'Suspended' });
    (await s.run({ 2: OK() })).lease.release();
    expect(s.calls.filter((c) => c.id === 1)).toHaveLength(1);
  });

  it('disables on monthly quota until the 1st of next month (UTC) and re-enables itself then', async () => {
    const s = setup([cred(1), cred(2)]);
    (await s.run({ 1: FAIL(402, QUOTA), 2: OK() })).lease.release();
    expect(s.sleeps).toEqual([]);
    expect(s.store.get(1)?.credential).toMatchObject({
      disabled: true,
      disabledReason: 'QuotaExceeded',
      disabledUntil: '2026-04-01T00:00:00.000Z',
    });
    s.clock.now = Date.parse('2026-03-31T23:59:59.000Z');
    (await s.run({ 2: OK() })).lease.release();
    await s.store.update(2, { disabled: true }); // only 1 could serve now
    s.clock.now = Date.parse('2026-04-01T00:00:01.000Z');
    (await s.run({ 1: OK('back') })).lease.release();
    await settle();
    expect(s.store.get(1)?.credential.disabled).toBe(false);
    expect(s.store.get(1)?.credential).not.toHaveProperty('disabledReason');
    expect(s.store.get(1)?.stats.failureCount).toBe(0);
    expect(s.events).toContainEqual({ type: 'enable', credentialId: 1, reason: 'quota_reset' });
  });

  it('uses the reset date from the balance cache when it knows one', async () => {
    const s = setup([cred(1), cred(2)]);
    const reset = Date.parse('2026-03-20T00:00:00.000Z');
    s.pool.setQuotaResetLookup((id) => (id === 1 ? reset : undefined));
    (await s.run({ 1: FAIL(402, QUOTA), 2: OK() })).lease.release();
    expect(s.store.get(1)?.credential.disabledUntil).toBe('2026-03-20T00:00:00.000Z');
  });

  it('does not treat a 402 without MONTHLY_REQUEST_COUNT as quota and does not retry it', async () => {
    const s = setup([cred(1), cred(2)]);
    await expect(s.run({ 1: FAIL(402, '{"message":"Payment required"}') })).rejects.toMatchObject({ status: 502 });
    expect(s.calls).toHaveLength(1);
    expect(s.store.get(1)?.credential.disabled).toBe(false);
  });

  it('self-heals: when nothing is enabled, TooManyFailures credentials come back with counters reset', async () => {
    const s = setup([cred(1, { disabled: true, disabledReason: 'TooManyFailures' }), cred(2, { disabled: true, disabledReason: 'Manual' })]);
    s.store.updateStats(1, () => ({ failureCount: 3 }));
    const { value } = await s.run({ 1: OK('healed') });
    expect(value).toBe('healed');
    expect(s.store.get(1)?.credential.disabled).toBe(false);
    expect(s.store.get(2)?.credential.disabled).toBe(true);
    expect(s.events).toContainEqual({ type: 'enable', credentialId: 1, reason: 'self_heal' });
  });

  it('does not self-heal while another credential is enabled', async () => {
    const s = setup([cred(1, { disabled: true, disabledReason: 'TooManyFailures' }), cred(2, { subscriptionTitle: 'KIRO FREE' })]);
    await expect(s.run({}, OPUS)).rejects.toBeInstanceOf(OverloadedError);
    expect(s.store.get(1)?.credential.disabled).toBe(true);
  });
});

describe('token refresh', () => {
  it('refreshes a token with less than 10 minutes left before using it, storing the rotated tokens', async () => {
    const s = setup([cred(1, { expiresAt: new Date(T0 + 9 * 60_000).toISOString() })], {
      refresh: async () => ({ accessToken: 'new-at', refreshToken: REFRESH + 'rotated', profileArn: 'arn:p', expiresAt: new Date(T0 + HOUR).toISOString() }),
    });
    const { lease } = await s.run({ 1: OK() });
    expect(lease.accessToken).toBe('new-at');
    expect(s.store.get(1)?.credential).toMatchObject({ accessToken: 'new-at', refreshToken: REFRESH + 'rotated', profileArn: 'arn:p' });
    expect(s.events).toContainEqual(expect.objectContaining({ type: 'refresh', credentialId: 1, outcome: 'success' }));
  });

  it('refreshes a credential without expiresAt and assumes one hour when the answer has none', async () => {
    const s = setup([cred(1, { expiresAt: undefined })], { refresh: async () => ({ accessToken: 'x' }) });
    await s.run({ 1: OK() });
    expect(s.store.get(1)?.credential.expiresAt).toBe(new Date(T0 + HOUR).toISOString());
    await s.run({ 1: OK() });
    expect(s.refreshes).toHaveLength(1);
  });

  it('runs a single refresh for concurrent requests', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const s = setup([cred(1, { expiresAt: undefined })], {
      refresh: async () => {
        await gate;
        return { accessToken: 'shared', expiresAt: new Date(T0 + HOUR).toISOString() };
      },
    });
    const runs = Array.from({ length: 5 }, () => s.run({ 1: OK() }));
    await settle();
    release();
    const results = await Promise.all(runs);
    expect(results.map((r) => r.lease.accessToken)).toEqual(Array(5).fill('shared'));
    expect(s.refreshes).toHaveLength(1);
  });

  it('never refreshes API-key credentials and sends the key as bearer', async () => {
    const s = setup([cred(1, { authMethod: 'api_key', kiroApiKey: 'ksk_key', accessToken: undefined, expiresAt: undefined })]);
    const { lease } = await s.run({ 1: FAIL(401, BEARER_INVALID), 2: OK() }).catch(() => ({ lease: undefined }) as never);
    expect(lease).toBeUndefined();
    expect(s.refreshes).toHaveLength(0);
    expect(s.calls[0].token).toBe('ksk_key');
    expect(await s.pool.accessTokenFor(1, { force: true })).toBe('ksk_key');
  });

  it('moves to the next credential when a refresh fails and disables after 3 refresh failures', async () => {
    const s = setup([cred(1, { expiresAt: undefined }), cred(2)], {
      refresh: async () => {
        throw new RefreshError('server', 'token refresh failed with HTTP 500', { status: 500 });
      },
    });
    for (let i = 0; i < 3; i++) (await s.run({ 2: OK() })).lease.release();
    expect(s.calls.map((c) => c.id)).toEqual([2, 2, 2]);
    expect(s.store.get(1)?.credential).toMatchObject({ disabled: true, disabledReason: 'TooManyRefreshFailures' });
    expect(s.store.get(1)?.stats.refreshFailureCount).toBe(3);
  });

  it('after an auth outage has disabled every credential for failed refreshes, tries them again once the retry time has passed', async () => {
    let authUp = false;
    let refreshCalls = 0;
    const RETRY_MS = 120_000;
    const s = setup([cred(1, { expiresAt: undefined }), cred(2, { expiresAt: undefined })], {
      pool: { refreshFailureRetryMs: RETRY_MS },
      refresh: async () => {
        refreshCalls++;
        if (!authUp) throw new RefreshError('server', 'token refresh failed with HTTP 503', { status: 503 });
        return { accessToken: 'after-outage', expiresAt: new Date(s.clock.now + HOUR).toISOString() };
      },
    });
    // Three requests while the auth service answers 503: each tries both credentials' refresh.
    for (let i = 0; i < 3; i++) await expect(s.run({})).rejects.toBeDefined();
    expect([1, 2].map((id) => s.store.get(id)?.credential)).toMatchObject([
      { disabled: true, disabledReason: 'TooManyRefreshFailures', disabledUntil: new Date(s.clock.now + RETRY_MS).toISOString() },
      { disabled: true, disabledReason: 'TooManyRefreshFailures' },
    ]);
    // While the outage lasts, requests do not turn into refresh calls.
    const callsBefore = refreshCalls;
    await expect(s.run({})).rejects.toBeDefined();
    expect(refreshCalls).toBe(callsBefore);
    // The auth service is back; after the retry time the credentials are tried again, counters reset.
    authUp = true;
    s.clock.now += RETRY_MS;
    const { lease } = await s.run({ 1: OK(), 2: OK() });
    expect(lease.accessToken).toBe('after-outage');
    const served = lease.credential.id;
    expect(s.events).toContainEqual({ type: 'enable', credentialId: served, reason: 'refresh_retry' });
    await settle();
    expect(s.store.get(served)?.credential.disabled).toBe(false);
    expect(s.store.get(served)?.stats.refreshFailureCount).toBe(0);
  });

  it('disables at once on invalid_grant', async () => {
    const s = setup([cred(1, { expiresAt: undefined }), cred(2)], {
      refresh: async () => {
        throw new RefreshError('invalid_grant', 'token refresh failed with HTTP 400: invalid_grant', { status: 400 });
      },
    });
    (await s.run({ 2: OK() })).lease.release();
    expect(s.store.get(1)?.credential).toMatchObject({ disabled: true, disabledReason: 'InvalidRefreshToken' });
  });

  it('does not count refresh network errors against the credential', async () => {
    const s = setup([cred(1, { expiresAt: undefined })], {
      refresh: async () => {
        throw new RefreshError('network', 'token refresh request failed: ECONNREFUSED');
      },
    });
    const err = await s.run({ 1: OK() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as Error).message).toMatch(/token refresh failed.*ECONNREFUSED/);
    expect(s.store.get(1)?.stats.refreshFailureCount).toBe(0);
    expect(s.store.get(1)?.credential.disabled).toBe(false);
  });

  it('prefers other credentials for a cool-down after a refresh that got no answer, instead of waiting on the same auth host each request', async () => {
    let refreshCalls = 0;
    const s = setup([cred(1, { expiresAt: undefined }), cred(2, { priority: 1 })], {
      refresh: async () => {
        refreshCalls++;
        throw new RefreshError('network', 'token refresh request failed: ETIMEDOUT');
      },
    });
    for (let i = 0; i < 3; i++) (await s.run({ 2: OK() })).lease.release();
    expect(refreshCalls).toBe(1);
    expect(s.calls.map((c) => c.id)).toEqual([2, 2, 2]);
    expect(s.store.get(1)?.stats).toMatchObject({ refreshFailureCount: 0, cooldownUntil: s.clock.now + 30_000 });
  });

  it('re-reads under the lock and reuses a token another holder already refreshed', async () => {
    const s = setup([cred(1, { expiresAt: undefined })]);
    let waiting!: Promise<string>;
    await s.store.withRefreshLock(1, async () => {
      waiting = s.pool.accessTokenFor(1); // queues behind this holder
      await s.store.update(1, { accessToken: 'by-other-replica', expiresAt: new Date(T0 + HOUR).toISOString() });
    });
    expect(await waiting).toBe('by-other-replica');
    expect(s.refreshes).toHaveLength(0);
  });
});

describe('final errors', () => {
  it('maps an upstream 400 to invalid_request_error with the upstream message, without retry or blame', async () => {
    const s = setup([cred(1), cred(2)]);
    const err = await s.run({ 1: FAIL(400, '{"message":"Improperly formed request.","reason":null}') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as Error).message).toBe('Improperly formed request.');
    expect(s.calls).toHaveLength(1);
    expect(s.store.get(1)?.stats.failureCount).toBe(0);
  });

  it.each([
    [400, '{"message":"Input is too long for requested model.","reason":"CONTENT_LENGTH_EXCEEDS_THRESHOLD"}'],
    [400, '{"message":"Input is too long."}'],
    [500, '{"message":"CONTENT_LENGTH_EXCEEDS_THRESHOLD"}'],
  ])('maps context overflow (HTTP %i) to "prompt is too long" so clients compact', async (status, body) => {
    const s = setup([cred(1)]);
    const err = await s.run({ 1: FAIL(status, body) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as Error).message).toMatch(/^prompt is too long/);
    expect(s.calls).toHaveLength(1);
  });

  it('maps 413 to request_too_large and other 4xx to 502, without retry', async () => {
    const s = setup([cred(1), cred(2)]);
    await expect(s.run({ 1: FAIL(413, 'too big') })).rejects.toBeInstanceOf(RequestTooLargeError);
    await expect(s.run({ 1: FAIL(404, '{"message":"Not found"}') })).rejects.toMatchObject({ status: 502, type: 'api_error' });
    expect(s.calls).toHaveLength(2);
  });

  it('answers overloaded with a secret-free summary when no credential is usable', async () => {
    const empty = setup([]);
    await expect(empty.run({})).rejects.toThrow(/^no usable credential: no credentials configured$/);
    const s = setup([
      cred(1, { disabled: true, disabledReason: 'QuotaExceeded', disabledUntil: '2026-04-01T00:00:00.000Z' }),
      cred(2, { disabled: true, disabledReason: 'Manual' }),
      cred(3, { disabled: true, disabledReason: 'InvalidRefreshToken' }),
    ]);
    const err = (await s.run({}).catch((e: unknown) => e)) as OverloadedError;
    expect(err).toBeInstanceOf(OverloadedError);
    expect(err.status).toBe(529);
    expect(err.message).toBe('no usable credential: 3 configured; 3 disabled (QuotaExceeded: 1, Manual: 1, InvalidRefreshToken: 1)');
    expect(err.message).not.toContain(REFRESH);
  });

  it('answers 502 when every credential failed authentication', async () => {
    const s = setup([cred(1), cred(2)]);
    const err = await s.run({ 1: FAIL(403, '{"message":"denied"}'), 2: FAIL(401, '{"message":"nope"}') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 502 });
  });

  it('answers 502 when all credentials ran out of quota during the request', async () => {
    const s = setup([cred(1), cred(2)]);
    const err = await s.run({ 1: FAIL(402, QUOTA), 2: FAIL(402, QUOTA) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 502 });
    expect(s.calls.map((c) => c.id)).toEqual([1, 2]);
  });

  it('propagates GatewayErrors thrown by the attempt and releases the slot', async () => {
    const s = setup([cred(1)]);
    const thrown = new InvalidRequestError('bad conversion');
    await expect(s.pool.execute({ kiroModelId: SONNET, signal: new AbortController().signal }, async () => Promise.reject(thrown))).rejects.toBe(thrown);
    expect(s.pool.inFlight(1)).toBe(0);
  });

  it('treats other exceptions from the attempt as network errors', async () => {
    const s = setup([cred(1)]);
    let n = 0;
    const { value } = await s.pool.execute({ kiroModelId: SONNET, signal: new AbortController().signal }, async () => {
      if (n++ === 0) throw new Error('ECONNRESET');
      return OK('second');
    });
    expect(value).toBe('second');
  });
});

describe('abort and hot path', () => {
  it('rejects with the abort reason before starting and while backing off', async () => {
    const s = setup([cred(1)]);
    const ac = new AbortController();
    const reason = new Error('client gone');
    ac.abort(reason);
    await expect(s.run({ 1: OK() }, SONNET, ac.signal)).rejects.toBe(reason);

    const t = setup([cred(1)]);
    const ac2 = new AbortController();
    const pool = new CredentialPool({
      store: t.store,
      refresher: { refresh: async () => ({ accessToken: 'x' }) },
      config: makeConfig(),
      now: () => T0,
    });
    const pending = pool.execute({ kiroModelId: SONNET, signal: ac2.signal }, async () => FAIL(503));
    setTimeout(() => ac2.abort(reason), 20); // during the real 200 ms backoff
    await expect(pending).rejects.toBe(reason);
    expect(pool.inFlight(1)).toBe(0);
  });

  it('does not blame the credential for a failure caused by the abort', async () => {
    const s = setup([cred(1), cred(2)]);
    const ac = new AbortController();
    const reason = new Error('client gone');
    const err = await s.pool
      .execute({ kiroModelId: SONNET, signal: ac.signal }, async () => {
        ac.abort(reason);
        return NETWORK; // what an HTTP client reports for an aborted request
      })
      .catch((e: unknown) => e);
    expect(err).toBe(reason);
    expect(s.events.filter((e) => e.type === 'attempt')).toHaveLength(0);
    expect(s.pool.inFlight(1)).toBe(0);
  });

  it('serves a request with a valid token without waiting for any store write', async () => {
    const never = new Promise<never>(() => {});
    const s = setup([cred(1)], {
      store: (inner) =>
        new Proxy(inner, {
          get(target, prop, receiver) {
            if (prop === 'update' || prop === 'add' || prop === 'remove' || prop === 'withRefreshLock') return () => never;
            const v = Reflect.get(target, prop, receiver) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        }),
    });
    const { value } = await s.run({ 1: OK('fast') });
    expect(value).toBe('fast');
    expect(s.store.get(1)?.stats).toMatchObject({ successCount: 1, lastUsedAt: new Date(T0).toISOString() });
  });

  it('reports attempts, failovers and disables as events', async () => {
    const s = setup([cred(1), cred(2)]);
    (await s.run({ 1: FAIL(403, SUSPENDED), 2: OK() })).lease.release();
    expect(s.events).toEqual([
      { type: 'attempt', credentialId: 1, attempt: 1, outcome: 'suspended', status: 403, durationMs: 0 },
      { type: 'disable', credentialId: 1, reason: 'Suspended' },
      { type: 'failover', fromId: 1, reason: 'suspended' },
      { type: 'attempt', credentialId: 2, attempt: 2, outcome: 'success', durationMs: 0 },
    ]);
  });
});

/**
 * The pool over a store that can be switched to `degraded` (Redis unreachable: the refresh lock is
 * local only, `exclusive` false), as the Redis store behaves during an outage.
 */
function switchable(inner: MemoryCredentialStore, state: { degraded: boolean }): CredentialStore {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'health') return () => ({ ok: true, degraded: state.degraded });
      if (prop === 'withRefreshLock') {
        return (id: number, fn: Parameters<CredentialStore['withRefreshLock']>[1]) =>
          target.withRefreshLock(id, (fresh, signal) => fn(fresh, signal, !state.degraded));
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('a degraded store: ambiguous auth answers never become permanent state', () => {
  const invalidGrant = async (): Promise<RefreshResult> => {
    throw new RefreshError('invalid_grant', 'token refresh failed with HTTP 400: invalid_grant', { status: 400 });
  };

  it('refreshes only an expired token, never refreshBeforeExpiryMs early', async () => {
    const state = { degraded: true };
    const s = setup([cred(1, { expiresAt: new Date(T0 + 5 * 60_000).toISOString() })], { store: (i) => switchable(i, state) });
    (await s.run({ 1: OK() })).lease.release();
    expect(s.refreshes).toEqual([]); // 5 minutes left: used as it is while cut off
    s.clock.now = T0 + 5 * 60_000 + 1;
    (await s.run({ 1: OK() })).lease.release();
    expect(s.refreshes).toHaveLength(1); // expired: refreshed
    state.degraded = false;
    s.clock.now += HOUR - 5 * 60_000;
    (await s.run({ 1: OK() })).lease.release();
    expect(s.refreshes).toHaveLength(2); // online again: the early refresh is back
  });

  it('a refused refresh token neither counts nor disables; the credential waits (529 + retry-after) until the store brings a newer token', async () => {
    const state = { degraded: true };
    const s = setup([cred(1)], { store: (i) => switchable(i, state), refresh: invalidGrant });
    const first = await s.run({ 1: FAIL(403, BEARER_INVALID) }).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(OverloadedError);
    expect((first as OverloadedError).retryAfterSeconds).toBeGreaterThan(0);
    expect(s.refreshes).toHaveLength(1);
    // Later requests do not call the auth service again and are not counted either.
    for (let i = 0; i < 5; i++) {
      const e = await s.run({ 1: OK() }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(OverloadedError);
      expect((e as OverloadedError).retryAfterSeconds).toBeGreaterThan(0);
      expect((e as Error).message).toContain('waiting for a newer token');
    }
    expect(s.refreshes).toHaveLength(1);
    expect(s.calls).toHaveLength(1);
    expect(s.store.get(1)?.credential.disabled).toBe(false);
    expect(s.store.get(1)?.stats).toMatchObject({ failureCount: 0, refreshFailureCount: 0, failureTotal: 0 });

    // The store delivers the token another replica obtained: served again at once.
    await s.store.update(1, { refreshToken: REFRESH + 'rotated', accessToken: 'from-the-winner', expiresAt: new Date(T0 + HOUR).toISOString() });
    const { value, lease } = await s.run({ 1: OK('served') });
    expect([value, lease.accessToken]).toEqual(['served', 'from-the-winner']);
  });

  it('fails over to another credential while one waits for the store', async () => {
    const state = { degraded: true };
    const s = setup([cred(1), cred(2)], { store: (i) => switchable(i, state), refresh: invalidGrant });
    for (let i = 0; i < 3; i++) (await s.run({ 1: FAIL(403, BEARER_INVALID), 2: OK() })).lease.release();
    expect(s.calls.map((c) => c.id)).toEqual([1, 2, 2, 2]);
    expect(s.store.get(1)?.stats).toMatchObject({ failureCount: 0, failureTotal: 0 });
  });

  it('once the store is back, an unchanged refused token is judged normally after the grace period', async () => {
    const state = { degraded: true };
    const s = setup([cred(1), cred(2)], { store: (i) => switchable(i, state), refresh: invalidGrant });
    (await s.run({ 1: FAIL(403, BEARER_INVALID), 2: OK() })).lease.release();
    state.degraded = false;
    (await s.run({ 2: OK() })).lease.release(); // within the grace: still waiting, no refresh
    expect(s.refreshes).toHaveLength(1);
    s.clock.now += 5_001;
    (await s.run({ 1: FAIL(403, BEARER_INVALID), 2: OK() })).lease.release();
    expect(s.refreshes).toHaveLength(2);
    expect(s.store.get(1)?.credential).toMatchObject({ disabled: true, disabledReason: 'InvalidRefreshToken' });
  });

  it('does not count a "bearer token invalid" while degraded (another replica may have replaced the token)', async () => {
    const state = { degraded: true };
    const s = setup([cred(1)], { store: (i) => switchable(i, state) });
    for (let i = 0; i < 4; i++) {
      const e = await s.run({ 1: FAIL(403, BEARER_INVALID) }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(OverloadedError);
    }
    expect(s.store.get(1)?.credential.disabled).toBe(false);
    expect(s.store.get(1)?.stats).toMatchObject({ failureCount: 0, failureTotal: 0 });
    expect(s.refreshes).toHaveLength(1); // one forced refresh per pacing interval
  });
});

describe('a token the upstream keeps refusing: forced refreshes are paced', () => {
  it('forces at most one refresh per interval, counts each refusal, cools down and disables after maxFailures', async () => {
    const s = setup([cred(1), cred(2)], { pool: { rateLimitCooldownMs: 1_000, forcedRefreshIntervalMs: 60_000 } });
    for (let i = 0; i < 30; i++) {
      (await s.run({ 1: FAIL(403, BEARER_INVALID), 2: OK() })).lease.release();
      s.clock.now += 100;
    }
    expect(s.refreshes.filter((r) => r.id === 1)).toHaveLength(1);
    // First request: refused, forced refresh, refused again (1). Then one try per cool-down (2, 3).
    expect(s.calls.filter((c) => c.id === 1)).toHaveLength(4);
    expect(s.store.get(1)?.credential).toMatchObject({ disabled: true, disabledReason: 'TooManyFailures' });
    expect(s.store.get(1)?.stats).toMatchObject({ failureCount: 3, failureTotal: 3 });
  });

  it('allows the next forced refresh once the interval has passed', async () => {
    const s = setup([cred(1)], { pool: { forcedRefreshIntervalMs: 60_000 } });
    await expect(s.run({ 1: FAIL(403, BEARER_INVALID) })).rejects.toBeInstanceOf(ApiError);
    s.clock.now += 30_000;
    await expect(s.run({ 1: FAIL(403, BEARER_INVALID) })).rejects.toBeInstanceOf(ApiError);
    expect(s.refreshes).toHaveLength(1);
    s.clock.now += 30_001;
    (await s.run({ 1: [FAIL(403, BEARER_INVALID), OK()] })).lease.release();
    expect(s.refreshes).toHaveLength(2);
  });

  it('does not pace after a forced refresh that helped (its token served a request)', async () => {
    const s = setup([cred(1)], { pool: { forcedRefreshIntervalMs: 60_000 } });
    for (let i = 0; i < 3; i++) {
      (await s.run({ 1: [FAIL(403, BEARER_INVALID), OK()] })).lease.release();
      await settle();
      s.clock.now += 1_000;
    }
    expect(s.refreshes).toHaveLength(3);
    expect(s.store.get(1)?.stats.failureCount).toBe(0);
  });

  it('an operator refresh is never paced', async () => {
    const s = setup([cred(1)], { pool: { forcedRefreshIntervalMs: 60_000 } });
    await s.pool.accessTokenFor(1, { force: true });
    await s.pool.accessTokenFor(1, { force: true });
    expect(s.refreshes).toHaveLength(2);
    await expect(s.pool.accessTokenFor(1, { rejected: s.store.get(1)!.credential.accessToken })).rejects.toThrow(/force-refreshed/);
  });
});
