/**
 * Issue 11 §4: faults under steady k6 load on one local stack (3 replicas behind nginx, Redis with
 * AOF, 2 credentials, rotating refresh tokens). Each scenario asserts exact counts; the table of all
 * of them is printed at the end. Clients retry as the Anthropic SDKs do (429/5xx/529, honouring
 * retry-after: loadtest/lib/retry.js), so `failed` counts the requests lost after retries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import {
  credentialsIntact,
  disconnectMidStream,
  expect as allow,
  inflight,
  loadWith,
  printFaultTable,
  type FaultContext,
  type FaultRow,
} from '../../loadtest/stack/faults.js';
import { startLocalStack, type LocalStack } from '../../loadtest/stack/local-stack.js';
import { refreshTokenFor } from '../helpers/stack.js';
import { requireTool } from '../helpers/tools.js';

const OUTAGE_MS = 20_000;
const TOKENS = [refreshTokenFor('fault-1'), refreshTokenFor('fault-2')];
let stack: LocalStack;
let ctx: FaultContext;
const rows: FaultRow[] = [];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

beforeAll(async () => {
  stack = await startLocalStack({
    replicas: 3,
    nginxBinary: requireTool('nginx', 'apt-get install nginx'),
    credentials: TOKENS.map((refreshToken, i) => ({ id: i + 1, refreshToken, authMethod: 'social' as const })),
    simulator: { rotateRefreshTokens: true, firstByteLatencyMs: 100, chunkDelayMs: 20, defaultChunks: 20 },
    redis: { appendonly: true },
    env: { KIRO_LOAD_BALANCING_MODE: 'balanced', KIRO_UPSTREAM_IDLE_TIMEOUT_MS: '3000' },
  });
  ctx = { stack, k6Binary: requireTool('k6', 'bash .ci/tools/40-k6.sh') };
}, 240_000);

afterAll(async () => {
  let table = '';
  printFaultTable(rows, (s) => (table += s));
  process.stdout.write(table);
  await stack?.close();
});

function record(row: FaultRow): void {
  rows.push(row);
  const failed = row.expectations.filter((e) => !e.ok);
  expect(failed.map((e) => `${e.what}: got ${e.got}`), `${row.name}${row.needs ? ` (needs ${row.needs})` : ''}`).toEqual([]);
}

const baseline = (c: { failed: number; cut: number }) => [allow('failed requests 0', c.failed === 0, c.failed), allow('cut streams 0', c.cut === 0, c.cut)];

describe('faults under load', () => {
  it('upstream 429 storm on one credential: failover, nothing lost', async () => {
    const { counts } = await loadWith(ctx, {}, async () => {
      stack.sim.setAccount(TOKENS[0]!, { mode: 'rate-limit-429' });
      await sleep(6_000);
      stack.sim.setAccount(TOKENS[0]!, { mode: 'ok' });
    }, 2_000);
    const creds = await credentialsIntact(stack);
    record({ name: '429 storm (6 s, one credential)', counts, expectations: [...baseline(counts), allow('credentials enabled, same on every replica', creds.ok, creds.got)] });
  }, 120_000);

  it('upstream 5xx burst: retried or failed over, nothing lost', async () => {
    const { counts } = await loadWith(ctx, {}, async () => {
      stack.sim.setAccount(TOKENS[1]!, { mode: 'server-error-500', times: 20 });
    }, 2_000);
    stack.sim.setAccount(TOKENS[1]!, { mode: 'ok' });
    record({ name: '5xx burst (20 × 500)', counts, expectations: baseline(counts) });
  }, 120_000);

  for (const [name, fault, needs] of [
    ['upstream stall after 2 frames', { fault: { kind: 'stall', afterFrames: 2 } }, undefined],
    ['upstream truncation (body ends mid-frame)', { fault: { kind: 'cut', afterFrames: 3, mode: 'end' } }, undefined],
    ['CRC corruption (bad message CRC)', { fault: { kind: 'bad-message-crc', afterFrames: 2 } }, undefined],
  ] as const) {
    it(`${name}: every faulted stream ends with a visible SSE error, the others complete`, async () => {
      const { counts } = await loadWith(ctx, { K6_FAULT_SCRIPT: JSON.stringify(fault), K6_FAULT_EVERY: '5' });
      record({
        name,
        counts,
        needs,
        expectations: [
          ...baseline(counts),
          allow('faulted streams end with an SSE error', counts.injectedCleanError === counts.injected && counts.injected > 0, `${counts.injectedCleanError}/${counts.injected}`),
          allow('unfaulted streams complete', counts.complete === counts.requests - counts.injected, `${counts.complete}/${counts.requests - counts.injected}`),
        ],
      });
    }, 120_000);
  }

  it('one replica SIGKILLed: only its open streams are cut (visibly), new requests go elsewhere', async () => {
    let openOnVictim = 0;
    const { counts } = await loadWith(ctx, {}, async () => {
      const victim = stack.replicas[2]!;
      const text = await (await fetch(`${victim.url}/metrics`)).text();
      openOnVictim = Number(/^kiro_gateway_inflight_streams(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? 0);
      await stack.killReplica(victim);
      await sleep(1_000);
      await stack.replaceReplica(victim); // the Deployment recreates the pod
    });
    const creds = await credentialsIntact(stack);
    record({
      name: 'replica SIGKILL',
      counts,
      expectations: [
        allow(`failed + cut ≤ streams open on the victim (${openOnVictim} + 2 in flight to it)`, counts.failed + counts.cut <= openOnVictim + 2, counts.failed + counts.cut),
        allow('every other stream complete', counts.complete === counts.requests - counts.failed - counts.cut, counts.complete),
        allow('credentials enabled, same on every replica', creds.ok, creds.got),
      ],
    });
  }, 120_000);

  for (const [name, empty, expire, needs] of [
    ['Redis SIGKILL 20 s, restart with AOF', false, false, undefined],
    ['Redis SIGKILL 20 s, restart empty', true, false, undefined],
    ['Redis SIGKILL 20 s + access tokens expire meanwhile, restart with AOF', false, true, undefined],
  ] as const) {
    it(`${name}: nothing lost, credential state intact`, async () => {
      const { counts } = await loadWith(ctx, { K6_RUN_TIME: '28s' }, async () => {
        stack.redis.kill9();
        await sleep(5_000);
        if (expire) stack.sim.expireAccessTokens();
        await sleep(OUTAGE_MS - 5_000);
        await stack.redis.restart();
        if (empty) {
          const client = new Redis(stack.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
          await client.connect();
          await client.flushall();
          client.disconnect();
        }
      });
      const creds = await credentialsIntact(stack);
      record({ name, counts, needs, expectations: [...baseline(counts), allow('credentials enabled, same refresh token on every replica', creds.ok, creds.got)] });
    }, 150_000);
  }

  it('clients that disconnect mid-stream: upstream calls cancelled, no stream left open', async () => {
    const abortedBefore = stack.sim.stats.streamsAborted;
    const left = await disconnectMidStream(stack, 50);
    await sleep(3_000);
    const open = await inflight(stack);
    const aborted = stack.sim.stats.streamsAborted - abortedBefore;
    record({
      name: '50 clients disconnect mid-stream',
      counts: { requests: 50, failed: 0, complete: 0, cleanError: 0, cut: left, injected: 0, injectedComplete: 0, injectedCleanError: 0 },
      expectations: [
        allow('all 50 left after the first delta', left === 50, left),
        allow('upstream streams cancelled', aborted === 50, aborted),
        allow('in-flight streams back to 0', open === 0, open),
      ],
    });
  }, 60_000);
});
