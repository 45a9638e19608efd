/**
 * In-process micro-benchmark of `CredentialPool.execute` with an instant attempt, memory vs Redis
 * store: the latency the pool itself adds, and the store's own command counter across each call.
 */
import { loadConfig } from '../src/config.js';
import { CredentialPool } from '../src/credentials/pool.js';
import type { Credential } from '../src/credentials/types.js';
import { MemoryCredentialStore } from '../src/store/memory/memory-store.js';
import { RedisCredentialStore } from '../src/store/redis/redis-store.js';
import type { CredentialStore } from '../src/store/store.js';
import { percentile } from './load.js';

const MICRO_ITERATIONS = Number(process.env.BENCH_MICRO_ITERATIONS ?? 20_000);

interface Micro {
  p50us: number;
  p99us: number;
  meanUs: number;
  /** Store commands issued between the call and its resolution, summed over all calls. */
  commandsInside: number;
  /** Commands the store's timers sent during the run (batched flushes). */
  commandsTotal: number;
}

function benchCredential(): Credential {
  return {
    id: 1,
    authMethod: 'social',
    refreshToken: 'm'.repeat(120),
    accessToken: 'bench-access-token',
    expiresAt: new Date(Date.now() + 24 * 3_600_000).toISOString(),
    priority: 0,
    machineId: 'a'.repeat(64),
    disabled: false,
  };
}

/**
 * Times `pool.execute` with an attempt that succeeds at once: what the pool itself adds to a request
 * (pick, token, lease, stats). Every 500 calls the loop yields to the event loop so the store's
 * timers (stats flush) run as they would under real traffic.
 */
async function microPool(store: CredentialStore, commands: () => number): Promise<Micro> {
  const config = loadConfig({ argv: [], env: {}, warn: () => {} });
  const pool = new CredentialPool({
    store,
    config,
    refresher: { refresh: () => Promise.reject(new Error('the bench credential never needs a refresh')) },
  });
  const signal = new AbortController().signal;
  const request = { kiroModelId: 'claude-sonnet-4.5', signal };
  const attempt = async () => ({ ok: true as const, value: 1 });
  const times: number[] = [];
  let inside = 0;
  const startCommands = commands();
  for (let i = 0; i < MICRO_ITERATIONS + 2_000; i++) {
    const before = commands();
    const t0 = performance.now();
    const { lease } = await pool.execute(request, attempt);
    const dt = performance.now() - t0;
    lease.release();
    inside += commands() - before;
    if (i >= 2_000) times.push(dt * 1000); // after warm-up
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  pool.dispose();
  times.sort((a, b) => a - b);
  return {
    p50us: percentile(times, 50),
    p99us: percentile(times, 99),
    meanUs: times.reduce((a, b) => a + b, 0) / times.length,
    commandsInside: inside,
    commandsTotal: commands() - startCommands,
  };
}

/** Runs the micro-benchmark on a memory store and on a Redis store at `redisUrl`; returns its Markdown table. */
export async function benchPoolMicro(redisUrl: string): Promise<string[]> {
  const lines: string[] = [];
  const memStore = new MemoryCredentialStore({ credentials: [benchCredential()], form: 'array', path: null });
  await memStore.init();
  const mem = await microPool(memStore, () => 0);
  await memStore.close();
  const redisStore = new RedisCredentialStore({
    url: redisUrl,
    keyPrefix: 'bench-micro:',
    resyncIntervalMs: 30_000,
    lockTtlMs: 10_000,
    seed: [benchCredential()],
    replicaId: 'bench-micro',
  });
  await redisStore.init();
  const red = await microPool(redisStore, () => redisStore.commandCount);
  await redisStore.close();
  lines.push(`### CredentialPool.execute with an instant attempt (in-process, ${MICRO_ITERATIONS} calls after 2000 warm-up)`);
  lines.push('');
  lines.push('| store | p50 µs | p99 µs | mean µs | Redis commands issued inside execute | commands by the store\'s timers meanwhile |');
  lines.push('|---|---|---|---|---|---|');
  for (const [name, m] of [['memory', mem], ['redis', red]] as const) {
    lines.push(
      `| ${name} | ${m.p50us.toFixed(1)} | ${m.p99us.toFixed(1)} | ${m.meanUs.toFixed(1)} | ${name === 'memory' ? '—' : m.commandsInside} | ${name === 'memory' ? '—' : m.commandsTotal} |`,
    );
  }
  return lines;
}
