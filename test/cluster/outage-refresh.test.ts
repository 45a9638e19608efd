/**
 * Issue 9 item 2 — an ambiguous answer during a Redis outage must not become a permanent state
 * change. Redis is SIGKILLed under load on 3 replicas and the access token of credential 1 expires at
 * the upstream meanwhile, so every replica has to refresh on its own. With rotation the first
 * refresh retires the refresh token and the other replicas' refreshes are refused ("invalid refresh
 * token"): before the fix they counted that, disabled the credential, and reconciliation spread the
 * disable with the winner's good tokens to every replica — 100 % 529 until an admin reset.
 *
 * Each case checks, with and without rotation, Redis restarted from its AOF and empty:
 * - during the outage: at most one refresh call per replica; a replica left with a stale token answers
 *   529 overloaded_error with retry-after (one credential) or fails over (two credentials), never a
 *   5xx api_error; no credential disabled, no failure counted;
 * - after Redis returns: credential 1 serves again on every replica within seconds, all replicas and
 *   Redis agree on the newest token, and that token is the live one (another refresh with it works).
 *
 * Four cases (own Redis, simulator and 3 replicas each), OUTAGE_MS of outage each.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createSimulator } from '../../src/simulator/index.js';
import { startRedis } from '../helpers/redis.js';
import {
  adminCredentials,
  adminPost,
  message,
  readyz,
  sha256,
  sleep,
  startCluster,
  type Replica,
} from '../helpers/replicas.js';
import { refreshTokenFor } from '../helpers/stack.js';
import { cleanupsPerTest } from './harness.js';

const OUTAGE_MS = 10_000;
/** After Redis is back, every replica must serve from credential 1 within this. */
const RECOVERY_MS = 10_000;

const cleanups = cleanupsPerTest();

interface Answer {
  replica: string;
  status: number;
  type?: string;
  retryAfter: string | null;
  at: number;
}

/** One request with the response headers kept (message() drops them). */
async function ask(r: Replica): Promise<Answer> {
  try {
    const res = await fetch(`${r.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'sk-test-client-key-0123456789abcdef' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5-20250929', max_tokens: 32, messages: [{ role: 'user', content: 'Hi' }] }),
      signal: AbortSignal.timeout(20_000),
    });
    const body = (await res.json().catch(() => undefined)) as { error?: { type?: string } } | undefined;
    return { replica: r.name, status: res.status, type: body?.error?.type, retryAfter: res.headers.get('retry-after'), at: Date.now() };
  } catch {
    return { replica: r.name, status: -1, retryAfter: null, at: Date.now() };
  }
}

/** A request loop per replica until `stop()`. */
function startLoad(replicas: Replica[]): { stop(): Promise<Answer[]> } {
  const answers: Answer[] = [];
  let stopped = false;
  const loops = replicas.map(async (r) => {
    while (!stopped) {
      answers.push(await ask(r));
      await sleep(50);
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return answers;
    },
  };
}

async function outageCase(opts: { rotate: boolean; appendonly: boolean; credentials: 1 | 2 }): Promise<void> {
  const label = `${opts.rotate ? 'rot' : 'norot'}-${opts.appendonly ? 'aof' : 'empty'}-${opts.credentials}`;
  const prefix = `outage-refresh-${label}:`;
  const redis = await startRedis({ appendonly: opts.appendonly });
  cleanups.push(() => redis.stop());
  const sim = await createSimulator({ rotateRefreshTokens: opts.rotate });
  cleanups.push(() => sim.close());
  const t1 = refreshTokenFor(`${label}-one`);
  const t2 = refreshTokenFor(`${label}-two`);
  const credentials = [{ id: 1, refreshToken: t1, authMethod: 'social', priority: 0 }];
  if (opts.credentials === 2) credentials.push({ id: 2, refreshToken: t2, authMethod: 'social', priority: 1 });
  const cluster = await startCluster({ n: 3, simUrl: sim.url, redisUrl: redis.url, credentials, env: { KIRO_REDIS_KEY_PREFIX: prefix } });
  cleanups.push(() => cluster.close());
  const replicas = cluster.replicas;
  const where = () => replicas.map((r) => `--- ${r.name}\n${r.output().slice(-3000)}`).join('\n');

  // Warm up: credential 1 refreshed once and shared; credential 2 refreshed before the outage too.
  for (const r of replicas) expect((await ask(r)).status).toBe(200);
  expect(sim.stats.byAccount[t1]?.refresh).toBe(1);
  if (opts.credentials === 2) expect((await adminPost(replicas[0]!.url, '/credentials/2/refresh')).status).toBe(200);
  for (const r of replicas) {
    await expect.poll(async () => (await adminCredentials(r.url)).get(opts.credentials)?.expiresAt ?? null, { timeout: 5_000 }).not.toBeNull();
  }

  const load = startLoad(replicas);
  redis.kill9();
  for (const r of replicas) {
    await expect.poll(async () => (await readyz(r.url)).body.status, { timeout: 5_000, interval: 50 }).toBe('degraded');
  }
  const refreshesBefore = sim.stats.byAccount[t1]!.refresh;
  sim.expireAccessTokens(t1); // every replica's token of credential 1 is now refused upstream
  const downAt = Date.now();
  await sleep(OUTAGE_MS);
  const duringRefreshes = sim.stats.byAccount[t1]!.refresh - refreshesBefore;

  // No permanent state from the outage: nothing disabled, nothing counted (each replica's own view).
  for (const r of replicas) {
    const c1 = (await adminCredentials(r.url)).get(1)!;
    expect(c1, `${label} ${r.name}`).toMatchObject({ disabled: false, failureCount: 0, refreshFailureCount: 0, failureTotal: 0 });
  }

  await redis.restart();
  const upAt = Date.now();
  for (const r of replicas) {
    await expect.poll(async () => (await readyz(r.url)).body.status, { timeout: 10_000, interval: 100 }).toBe('ready');
  }
  // Serving again from credential 1 on every replica within RECOVERY_MS of Redis's return.
  const servedBy1 = async (r: Replica) => {
    const before = sim.stats.byAccount[t1]?.generate ?? 0;
    const a = await ask(r);
    return a.status === 200 && (sim.stats.byAccount[t1]?.generate ?? 0) > before;
  };
  for (const r of replicas) {
    await expect
      .poll(() => servedBy1(r), { timeout: Math.max(1_000, upAt + RECOVERY_MS - Date.now()), interval: 200, message: `${label} ${r.name} never served from credential 1 again:\n${where()}` })
      .toBe(true);
  }
  const answers = await load.stop();

  // At most one refresh per replica while cut off (before the fix: 5–12 for 3 replicas).
  expect(duringRefreshes, label).toBeLessThanOrEqual(replicas.length);
  expect(duringRefreshes, label).toBeGreaterThanOrEqual(1);
  const outage = answers.filter((a) => a.at > downAt && a.at < upAt);
  for (const r of replicas) expect(outage.filter((a) => a.replica === r.name).length, `${label} ${r.name}`).toBeGreaterThan(5);
  const failed = answers.filter((a) => a.status !== 200);
  if (opts.credentials === 2 || !opts.rotate) {
    // Failover to credential 2, or (no rotation) every replica's own refresh works.
    expect(failed.slice(0, 3), `${label}: ${failed.length} of ${answers.length} failed`).toEqual([]);
  } else {
    // One credential, rotated: the replicas that lost the race answer a retryable 529, never api_error.
    expect(failed.length, label).toBeGreaterThan(0);
    for (const a of failed) expect(a, label).toMatchObject({ status: 529, type: 'overloaded_error', retryAfter: expect.stringMatching(/^\d+$/) });
    expect(outage.some((a) => a.status === 200), label).toBe(true); // the winner kept serving
  }

  // Reconciled: every replica and Redis hold the same, newest token, enabled, with no counts.
  const raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  cleanups.push(() => raw.disconnect());
  const stored = sha256((await raw.hget(`${prefix}cred:1`, 'refreshToken'))!);
  expect(await raw.hget(`${prefix}cred:1`, 'disabled')).not.toBe('1');
  for (const r of replicas) {
    await expect
      .poll(async () => {
        const c1 = (await adminCredentials(r.url)).get(1)!;
        return { hash: c1.refreshTokenHash, disabled: c1.disabled, failureTotal: c1.failureTotal, refreshFailureCount: c1.refreshFailureCount };
      }, { timeout: 5_000, interval: 100 })
      .toEqual({ hash: stored, disabled: false, failureTotal: 0, refreshFailureCount: 0 });
  }
  if (opts.rotate) expect(stored).not.toBe(sha256(t1));
  // The stored refresh token is the live one: refreshing with it works.
  const again = await adminPost(replicas[1]!.url, '/credentials/1/refresh');
  expect(again.status, `${label}: ${JSON.stringify(again.body)}`).toBe(200);
}

describe('a token refresh during a Redis outage', () => {
  const cases = [
    ['with rotation, one credential, Redis back from its AOF', { rotate: true, appendonly: true, credentials: 1 }],
    ['with rotation, two credentials, Redis back empty', { rotate: true, appendonly: false, credentials: 2 }],
    ['without rotation, two credentials, Redis back from its AOF', { rotate: false, appendonly: true, credentials: 2 }],
    ['without rotation, one credential, Redis back empty', { rotate: false, appendonly: false, credentials: 1 }],
  ] as const;
  // One after the other: 3 gateways per case under load is what 2 shared cores serve reliably.
  for (const [name, opts] of cases) it(name, () => outageCase(opts), 90_000);
});
