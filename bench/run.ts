/**
 * `npm run bench`: the simulator served directly vs the same conversations through the gateway.
 * Three processes (simulator, gateway, this load generator) on one machine; streaming requests at
 * 1 and 50 concurrent streams; req/s and time to first body byte (p50/p99); the ratio of the two.
 * Every response is checked: all upstream text chunks must arrive, in order.
 *
 * Redis scenario (skipped with BENCH_REDIS=0, or when redis-server is not installed): a second
 * gateway process with KIRO_REDIS_URL pointing at a redis-server the bench starts on a free port.
 * - memory store vs Redis store: the same load on both gateways;
 * - Redis commands on the hot path: every command the Redis gateway sends is captured with MONITOR
 *   and attributed (EVALSHA by script SHA, SET/MULTI by key) during an idle window and during the
 *   load windows; anything that is not a background task (batched stats flush, heartbeat, resync)
 *   counts as a synchronous hot-path command, and must be 0;
 * - in-process micro-benchmark of `CredentialPool.execute` with an instant attempt, memory vs Redis
 *   store: the latency the pool adds, and the store's own command counter across each call.
 *
 * Observability scenario (bench/observability.ts; skipped with BENCH_OBSERVABILITY=0, run alone with
 * BENCH_ONLY=observability): off vs metrics only vs metrics + tracing sampled at 10 % and 100 %.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { load, merge, percentile, type Result } from './load.js';
import { benchDecoder, type DecoderResult } from './decoder.js';
import { benchIdleStreams, type IdleStreamsResult } from './idle-streams.js';
import { benchReplicasBehindNginx, type ReplicasResult } from './replicas-behind-nginx.js';
import { writeBenchResults, type BarPanel } from './report.js';
import { requireTool } from '../test/helpers/tools.js';
import { loadConfig } from '../src/config.js';
import { ADD_SCRIPT, FLUSH_STATS_SCRIPT, READ_SCRIPT, RECONCILE_SCRIPT, REMOVE_SCRIPT, SEED_SCRIPT, UPDATE_SCRIPT } from '../src/store/redis/lua/credentials.js';
import { MemoryCredentialStore } from '../src/store/memory/memory-store.js';
import { CredentialPool } from '../src/credentials/pool.js';
import { RedisCredentialStore } from '../src/store/redis/redis-store.js';
import type { CredentialStore } from '../src/store/store.js';
import type { Credential } from '../src/credentials/types.js';
import { observabilityScenario } from './observability.js';
import { freePort } from '../loadtest/stack/ports.js';

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 20);
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '1,50,200').split(',').map(Number);
const ROOT = new URL('../../', import.meta.url).pathname;
/** BENCH_ONLY=observability runs that scenario alone (no direct/gateway table, no Redis scenario). */
const ONLY_OBSERVABILITY = process.env.BENCH_ONLY === 'observability';
const WITH_REDIS = process.env.BENCH_REDIS !== '0' && !ONLY_OBSERVABILITY;
const REDIS_BINARY = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? DURATION_MS);
const MICRO_ITERATIONS = Number(process.env.BENCH_MICRO_ITERATIONS ?? 20_000);
const REDIS_PREFIX = 'bench:';
const WITH_OBSERVABILITY = process.env.BENCH_OBSERVABILITY !== '0';

function startProcess(script: string, args: string[], env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, script), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let seen = '';
    const onData = (data: Buffer) => {
      seen += data.toString();
      const match = /https?:\/\/(?:127\.0\.0\.1|localhost|\[::1\]|0\.0\.0\.0):\d+/.exec(seen);
      if (match) {
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        resolve({ url: match[0].replace('0.0.0.0', '127.0.0.1'), child });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${seen}`)));
    setTimeout(() => reject(new Error(`${script} did not start: ${seen}`)), 20_000).unref();
  });
}

const MS_PER_TICK = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** CPU time (user + system) a process has used so far, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function expectedChunks(): string[] {
  return Array.from({ length: CHUNKS }, (_, i) => `chunk-${String(i).padStart(4, '0')} `);
}

// --- processes ----------------------------------------------------------------------------------


/**
 * Starts a gateway on a port chosen here and waits for /healthz: at log level `warn` the gateway
 * does not print its "listening on" line, and a quiet log keeps logging out of the measurement.
 */
async function startGateway(credentialsPath: string, env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'dist/src/main.js'), '--credentials', credentialsPath], {
    env: { ...process.env, ...env, KIRO_PORT: String(port), KIRO_HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}: ${stderr}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, child };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not start within 20 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A throwaway redis-server (no persistence) on a free loopback port; undefined when not installed. */
async function startRedisServer(): Promise<{ url: string; port: number; child: ChildProcess } | undefined> {
  const probe = spawnSync(REDIS_BINARY, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return undefined;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kiro-bench-redis-'));
  const child = spawn(REDIS_BINARY, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
  client.on('error', () => {});
  const deadline = Date.now() + 10_000;
  try {
    for (;;) {
      try {
        if (client.status === 'wait') await client.connect();
        if ((await client.ping()) === 'PONG') return { url, port, child };
      } catch {
        // starting
      }
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.disconnect();
  }
}

// --- Redis command accounting -------------------------------------------------------------------

interface Captured {
  at: number;
  kind: string;
}

/** Script SHA-1 → name, for attributing EVALSHA calls. */
const SCRIPT_NAMES = new Map(
  Object.entries({
    read: READ_SCRIPT,
    seed: SEED_SCRIPT,
    add: ADD_SCRIPT,
    update: UPDATE_SCRIPT,
    reconcile: RECONCILE_SCRIPT,
    remove: REMOVE_SCRIPT,
    flush_stats: FLUSH_STATS_SCRIPT,
  }).map(([name, source]) => [createHash('sha1').update(source).digest('hex'), name]),
);

/** What a command is for: `background:*` (timers of the store), or anything else (would be the hot path). */
function classify(args: string[]): string {
  const cmd = (args[0] ?? '').toLowerCase();
  const key = args[1] ?? '';
  // Redlock's acquire, extend and release scripts: the one key they touch is the lock.
  if ((cmd === 'evalsha' || cmd === 'eval') && (args[3] ?? '').startsWith(`${REDIS_PREFIX}lock:`)) return 'refresh-lock';
  if (cmd === 'evalsha' || cmd === 'eval') {
    const name = cmd === 'evalsha' ? (SCRIPT_NAMES.get(key) ?? 'unknown-script') : 'eval';
    if (name === 'flush_stats') return 'background:stats-flush';
    if (name === 'read') return 'background:resync';
    return `script:${name}`;
  }
  if (['multi', 'exec'].includes(cmd)) return 'background:heartbeat';
  if (key.startsWith(`${REDIS_PREFIX}replica`)) return 'background:heartbeat';
  if (cmd === 'hgetall' && key === `${REDIS_PREFIX}settings`) return 'background:resync'; // shared settings, re-read with each resync
  return `cmd:${cmd}`;
}

/** Captures every command of other clients with MONITOR until `stop()`. */
async function monitorRedis(url: string): Promise<{ captured: Captured[]; stop(): Promise<void> }> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  const monitor = await client.monitor();
  const captured: Captured[] = [];
  // Commands run inside a Lua script show up too, with source "lua": the script call itself is what was sent.
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua') captured.push({ at: Date.now(), kind: classify(args) });
  });
  return {
    captured,
    async stop() {
      monitor.disconnect();
      client.disconnect();
    },
  };
}

function countKinds(captured: Captured[], from: number, to: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of captured) if (c.at >= from && c.at < to) out.set(c.kind, (out.get(c.kind) ?? 0) + 1);
  return out;
}

// --- pool micro-benchmark ------------------------------------------------------------------------

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

// --- main ----------------------------------------------------------------------------------------

const fmt = (r: Result) => `${r.p50.toFixed(2)} / ${r.p99.toFixed(2)}`;

async function main(): Promise<void> {
  const chunks = expectedChunks();
  const text = chunks.join('');
  const children: ChildProcess[] = [];
  const sim = await startProcess('dist/src/simulator/main.js', [
    '--port', '0', '--accept-any-token', '--chunks', String(CHUNKS), '--text', text,
  ], {});
  children.push(sim.child);
  const dir = mkdtempSync(join(tmpdir(), 'kiro-bench-'));
  const credentialsFile = (name: string) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify([{ refreshToken: 'b'.repeat(120), authMethod: 'social' }]));
    return path;
  };
  const gatewayEnv = {
    KIRO_CLIENT_API_KEY: 'bench-key',
    KIRO_UPSTREAM_API_BASE_URL: sim.url,
    KIRO_UPSTREAM_SOCIAL_REFRESH_URL: `${sim.url}/refreshToken`,
    KIRO_UPSTREAM_IDC_REFRESH_URL: `${sim.url}/token`,
    KIRO_LOG_LEVEL: 'warn',
    KIRO_LOG_PRETTY: 'false',
    ...(process.env.BENCH_GATEWAY_ENV ? JSON.parse(process.env.BENCH_GATEWAY_ENV) : {}),
  };

  const kiroBody = JSON.stringify({
    conversationState: {
      agentContinuationId: '00000000-0000-4000-8000-000000000001',
      agentTaskType: 'vibe',
      chatTriggerType: 'MANUAL',
      conversationId: '00000000-0000-4000-8000-000000000002',
      currentMessage: { userInputMessage: { content: 'Say hello', modelId: 'claude-sonnet-4.5', origin: 'AI_EDITOR', userInputMessageContext: {} } },
    },
  });
  const anthropicBody = JSON.stringify({
    model: 'claude-sonnet-4-5-20250929',
    max_tokens: 1024,
    stream: true,
    messages: [{ role: 'user', content: 'Say hello' }],
  });
  // Upstream frames carry the chunks verbatim; the SSE deltas must carry them in the same order.
  const inOrder = (body: string) => {
    let at = 0;
    for (const c of chunks) {
      const found = body.indexOf(c, at);
      if (found < 0) return false;
      at = found + c.length;
    }
    return true;
  };
  const gwHeaders = { 'content-type': 'application/json', 'x-api-key': 'bench-key' };

  const figures: {
    machine?: string;
    gatewayVsSimulator: Array<Record<string, number>>;
    redisHotPathCommands?: number;
    redisCommandsPerRequest?: Record<string, number>;
    decoder?: DecoderResult;
    idleStreams?: IdleStreamsResult;
    replicas?: ReplicasResult[];
  } = { gatewayVsSimulator: [] };
  const rows: string[] = [];
  const storeRows: string[] = [];
  const redisLines: string[] = [];
  const obsLines: string[] = [];
  const cpuRows: string[] = [];
  try {
    const gw = await startGateway(credentialsFile('memory.json'), gatewayEnv);
    children.push(gw.child);
    const redis = WITH_REDIS ? await startRedisServer() : undefined;
    if (WITH_REDIS && !redis) redisLines.push(`Redis scenario skipped: ${REDIS_BINARY} could not be run (install redis-server or set REDIS_SERVER_BIN).`);
    let gwr: { url: string; child: ChildProcess } | undefined;
    let mon: Awaited<ReturnType<typeof monitorRedis>> | undefined;
    const windows: Array<{ label: string; spans: Array<[number, number]>; requests: number }> = [];
    if (redis) {
      children.push(redis.child);
      gwr = await startGateway(credentialsFile('redis.json'), { ...gatewayEnv, KIRO_REDIS_URL: redis.url, KIRO_REDIS_KEY_PREFIX: REDIS_PREFIX });
      children.push(gwr.child);
      // Warm up both: the first request refreshes the token (for Redis: lock + update script); let the stats flush settle.
      await load(gw.url, '/v1/messages', gwHeaders, anthropicBody, 1, inOrder, 300);
      await load(gwr.url, '/v1/messages', gwHeaders, anthropicBody, 1, inOrder, 300);
      await new Promise((r) => setTimeout(r, 500));
      mon = await monitorRedis(redis.url);
      const idleFrom = Date.now();
      await new Promise((r) => setTimeout(r, IDLE_MS));
      windows.push({ label: 'idle (no requests)', spans: [[idleFrom, Date.now()]], requests: 0 });
    }

    for (const c of ONLY_OBSERVABILITY ? [] : CONCURRENCIES) {
      const simBefore = cpuTicks(sim.child.pid!);
      const direct = await load(sim.url, '/generateAssistantResponse', { 'content-type': 'application/json', authorization: 'Bearer bench' }, kiroBody, c, inOrder, DURATION_MS);
      const simDirectTicks = cpuTicks(sim.child.pid!) - simBefore;
      let gwTicks = 0;
      let simBehindTicks = 0;
      let viaMemory: Result;
      if (gwr) {
        // Memory and Redis gateways alternate A-B-B-A in half-length runs, so drift of a shared machine hits both alike.
        const half = DURATION_MS / 2;
        const spans: Array<[number, number]> = [];
        const onRedis = async () => {
          const from = Date.now();
          const r = await load(gwr!.url, '/v1/messages', gwHeaders, anthropicBody, c, inOrder, half);
          spans.push([from, Date.now()]);
          return r;
        };
        const gwBefore1 = cpuTicks(gw.child.pid!);
        const simBefore1 = cpuTicks(sim.child.pid!);
        const m1 = await load(gw.url, '/v1/messages', gwHeaders, anthropicBody, c, inOrder, half);
        gwTicks += cpuTicks(gw.child.pid!) - gwBefore1;
        simBehindTicks += cpuTicks(sim.child.pid!) - simBefore1;
        const r1 = await onRedis();
        const r2 = await onRedis();
        const gwBefore2 = cpuTicks(gw.child.pid!);
        const simBefore2 = cpuTicks(sim.child.pid!);
        const m2 = await load(gw.url, '/v1/messages', gwHeaders, anthropicBody, c, inOrder, half);
        gwTicks += cpuTicks(gw.child.pid!) - gwBefore2;
        simBehindTicks += cpuTicks(sim.child.pid!) - simBefore2;
        viaMemory = merge([m1, m2]);
        const viaRedis = merge([r1, r2]);
        windows.push({ label: `load, ${c} stream${c === 1 ? '' : 's'}`, spans, requests: viaRedis.requests - viaRedis.errors - viaRedis.outOfOrder });
        storeRows.push(
          `| ${c} | ${viaMemory.rps.toFixed(0)} | ${viaRedis.rps.toFixed(0)} | ${fmt(viaMemory)} | ${fmt(viaRedis)} | ` +
            `${(viaRedis.p50 - viaMemory.p50).toFixed(2)} / ${(viaRedis.p99 - viaMemory.p99).toFixed(2)} | ${viaRedis.errors} | ${viaRedis.outOfOrder} |`,
        );
      } else {
        const gwBefore = cpuTicks(gw.child.pid!);
        const simBefore0 = cpuTicks(sim.child.pid!);
        viaMemory = await load(gw.url, '/v1/messages', gwHeaders, anthropicBody, c, inOrder, DURATION_MS);
        gwTicks += cpuTicks(gw.child.pid!) - gwBefore;
        simBehindTicks += cpuTicks(sim.child.pid!) - simBefore0;
      }
      const via = viaMemory;
      rows.push(
        `| ${c} | ${direct.rps.toFixed(0)} | ${via.rps.toFixed(0)} | ${(via.rps / direct.rps).toFixed(2)}× | ` +
          `${fmt(direct)} | ${fmt(via)} | ${(via.p50 - direct.p50).toFixed(2)} / ${(via.p99 - direct.p99).toFixed(2)} | ${via.errors + direct.errors} | ${via.outOfOrder + direct.outOfOrder} |`,
      );
      const perReq = (ticks: number, r: Result) => (ticks * MS_PER_TICK) / Math.max(1, r.requests);
      const simMs = perReq(simDirectTicks, direct);
      const gwMs = perReq(gwTicks, via);
      figures.gatewayVsSimulator.push({
        streams: c,
        simulatorRps: direct.rps,
        gatewayRps: via.rps,
        simulatorTtfbP50: direct.p50,
        simulatorTtfbP99: direct.p99,
        gatewayTtfbP50: via.p50,
        gatewayTtfbP99: via.p99,
        addedTtfbP50: via.p50 - direct.p50,
        addedTtfbP99: via.p99 - direct.p99,
        simulatorCpuUsPerRequest: simMs * 1000,
        gatewayCpuUsPerRequest: gwMs * 1000,
        errors: via.errors + direct.errors,
        outOfOrder: via.outOfOrder + direct.outOfOrder,
      });
      cpuRows.push(
        `| ${c} | ${(simMs * 1000).toFixed(0)} | ${(perReq(simBehindTicks, via) * 1000).toFixed(0)} | ${(gwMs * 1000).toFixed(0)} | ${(gwMs / simMs).toFixed(2)}× |`,
      );
    }

    if (redis && mon) {
      await mon.stop();
      redisLines.push('### Redis commands sent by the Redis-backed gateway');
      redisLines.push('');
      redisLines.push(
        'Method: MONITOR on the bench redis-server captures every command the gateway sends (commands run inside ' +
          'Lua scripts are left out: the script call is what was sent). EVALSHA is attributed by script SHA, ' +
          'SET/MULTI/ZADD by key. Background = the store\'s timers (stats flush every 200 ms when there is something ' +
          'to send, heartbeat every 5 s, full resync every 30 s); they do not scale with requests. Anything else ' +
          'during a load window would be a command on the request path ("synchronous"). Load windows are the Redis ' +
          'gateway\'s runs only; the idle window, before them, is as long as one of them.',
      );
      redisLines.push('');
      redisLines.push('| window | s | requests ok | all commands | background: stats flush / heartbeat / resync | other (hot path) | commands per request |');
      redisLines.push('|---|---|---|---|---|---|---|');
      let hotPath = 0;
      for (const w of windows) {
        const kinds = new Map<string, number>();
        for (const [from, to] of w.spans) for (const [k, n] of countKinds(mon.captured, from, to)) kinds.set(k, (kinds.get(k) ?? 0) + n);
        const seconds = w.spans.reduce((a, [from, to]) => a + (to - from), 0) / 1000;
        const total = [...kinds.values()].reduce((a, b) => a + b, 0);
        const bg = (k: string) => kinds.get(`background:${k}`) ?? 0;
        const other = [...kinds].filter(([k]) => !k.startsWith('background:'));
        const otherCount = other.reduce((a, [, n]) => a + n, 0);
        if (w.requests > 0) hotPath += otherCount;
        redisLines.push(
          `| ${w.label} | ${seconds.toFixed(1)} | ${w.requests} | ${total} | ${bg('stats-flush')} / ${bg('heartbeat')} / ${bg('resync')} | ` +
            `${otherCount}${other.length ? ` (${other.map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''} | ` +
            `${w.requests > 0 ? (total / w.requests).toFixed(4) : '—'} |`,
        );
      }
      redisLines.push('');
      redisLines.push(`Synchronous Redis commands on the request path: ${hotPath} ${hotPath === 0 ? '(OK)' : '(EXPECTED 0)'}`);
      figures.redisHotPathCommands = hotPath;
      redisLines.push('');

      // In-process: the pool's own cost with each store.
      const memStore = new MemoryCredentialStore({ credentials: [benchCredential()], form: 'array', path: null });
      await memStore.init();
      const mem = await microPool(memStore, () => 0);
      await memStore.close();
      const redisStore = new RedisCredentialStore({
        url: redis.url,
        keyPrefix: 'bench-micro:',
        resyncIntervalMs: 30_000,
        lockTtlMs: 10_000,
        seed: [benchCredential()],
        replicaId: 'bench-micro',
      });
      await redisStore.init();
      const red = await microPool(redisStore, () => redisStore.commandCount);
      await redisStore.close();
      redisLines.push(`### CredentialPool.execute with an instant attempt (in-process, ${MICRO_ITERATIONS} calls after 2000 warm-up)`);
      redisLines.push('');
      redisLines.push('| store | p50 µs | p99 µs | mean µs | Redis commands issued inside execute | commands by the store\'s timers meanwhile |');
      redisLines.push('|---|---|---|---|---|---|');
      for (const [name, m] of [['memory', mem], ['redis', red]] as const) {
        redisLines.push(
          `| ${name} | ${m.p50us.toFixed(1)} | ${m.p99us.toFixed(1)} | ${m.meanUs.toFixed(1)} | ${name === 'memory' ? '—' : m.commandsInside} | ${name === 'memory' ? '—' : m.commandsTotal} |`,
        );
      }
    }

    if (WITH_OBSERVABILITY) {
      obsLines.push(
        ...(await observabilityScenario({
          load: (url, concurrency, durationMs) => load(url, '/v1/messages', gwHeaders, anthropicBody, concurrency, inOrder, durationMs),
          startGateway: (name, env) => startGateway(credentialsFile(name), { ...gatewayEnv, ...env }),
          merge,
          fmt,
          cpuTicks,
          msPerTick: MS_PER_TICK,
          concurrency: Math.max(...CONCURRENCIES),
          durationMs: DURATION_MS,
        })),
      );
    }
    if (process.env.BENCH_DECODER !== '0') figures.decoder = benchDecoder();
    if (process.env.BENCH_IDLE_STREAMS !== '0') figures.idleStreams = await benchIdleStreams(Number(process.env.BENCH_IDLE_STREAMS ?? 1_000));
    if (process.env.BENCH_REPLICAS !== '0') {
      figures.replicas = await benchReplicasBehindNginx({
        nginxBinary: requireTool('nginx', 'apt-get install nginx'),
        concurrency: Math.max(...CONCURRENCIES),
        durationMs: DURATION_MS,
        chunks,
      });
    }
  } finally {
    for (const child of children) child.kill('SIGKILL');
  }
  const lines: string[] = [];
  const print = (s = '') => {
    console.log(s);
    lines.push(s);
  };
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  figures.machine = `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
  print(`\nkiro-gateway bench — ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  print(`${CHUNKS} upstream chunks per response, ${DURATION_MS / 1000}s per measurement, streaming requests\n`);
  if (rows.length > 0) {
    print('| streams | simulator req/s | gateway req/s | ratio | sim TTFB p50/p99 ms | gw TTFB p50/p99 ms | added p50 / p99 ms | errors | out of order |');
    print('|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) print(r);
    print('\n### CPU time per request (from /proc/<pid>/stat; the load generator is not counted)\n');
    print('| streams | simulator µs/req, served directly | simulator µs/req, behind the gateway | gateway µs/req | gateway ÷ simulator |');
    print('|---|---|---|---|---|');
    for (const r of cpuRows) print(r);
  }
  if (storeRows.length > 0) {
    print('\n### Credential store: memory vs Redis (one gateway process each, same load, runs alternated A-B-B-A)\n');
    print('| streams | memory req/s | redis req/s | memory TTFB p50/p99 ms | redis TTFB p50/p99 ms | redis − memory p50/p99 ms | errors | out of order |');
    print('|---|---|---|---|---|---|---|---|');
    for (const r of storeRows) print(r);
  }
  if (redisLines.length > 0) print(`\n${redisLines.join('\n')}`);
  if (obsLines.length > 0) print(`\n${obsLines.join('\n')}`);
  const d = figures.decoder;
  if (d) {
    print(`\n### Event-stream decoder vs @smithy/eventstream-codec (${(d.bytes / 1e6).toFixed(1)} MB, ${d.frames} frames, ${d.chunkBytes / 1024} KiB chunks, best of 5)\n`);
    print('| decoder | MB/s |');
    print('|---|---|');
    print(`| gateway FrameDecoder | ${d.gatewayMBps.toFixed(0)} |`);
    print(`| @smithy/eventstream-codec | ${d.smithyMBps.toFixed(0)} |`);
    print(`\nRatio ${d.ratio.toFixed(2)}× (target ≥ 2×)`);
  }
  const idle = figures.idleStreams;
  if (idle) {
    print(`\n### Memory at 0 and ${idle.streams} idle open streams (one gateway process)\n`);
    print('| open streams | RSS MiB | V8 heap used MiB |');
    print('|---|---|---|');
    print(`| 0 | ${idle.rssIdleMiB.toFixed(1)} | ${idle.heapIdleMiB.toFixed(1)} |`);
    print(`| ${idle.streams} | ${idle.rssOpenMiB.toFixed(1)} | ${idle.heapOpenMiB.toFixed(1)} |`);
    print(`\nPer open stream: ${idle.rssPerStreamKiB.toFixed(1)} KiB RSS, ${idle.heapPerStreamKiB.toFixed(1)} KiB heap (target ≤ 64 KB)`);
  }
  if (figures.replicas) {
    print(`\n### 1 vs 3 replicas behind nginx (instant simulator, ${figures.replicas[0]?.concurrency} streams, all processes on this machine)\n`);
    print('| replicas | req/s | TTFB p50/p99 ms | errors | out of order |');
    print('|---|---|---|---|---|');
    for (const r of figures.replicas) print(`| ${r.replicas} | ${r.result.rps.toFixed(0)} | ${fmt(r.result)} | ${r.result.errors} | ${r.result.outOfOrder} |`);
  }
  const panels: BarPanel[] = [
    {
      title: 'Added TTFB p99, gateway vs simulator direct',
      unit: 'ms',
      bars: figures.gatewayVsSimulator.map((g) => ({ label: `${g.streams} streams`, value: Math.max(0, g.addedTtfbP99!) })),
      target: { value: 5, label: 'target ≤ 5 ms at 200' },
    },
    {
      title: 'Throughput',
      unit: 'req/s',
      bars: figures.gatewayVsSimulator.flatMap((g) => [
        { label: `simulator, ${g.streams} streams`, value: g.simulatorRps!, color: '#aaa' },
        { label: `gateway, ${g.streams} streams`, value: g.gatewayRps! },
      ]).concat((figures.replicas ?? []).map((r) => ({ label: `${r.replicas} replica(s) via nginx, ${r.concurrency}`, value: r.result.rps, color: '#2ca02c' }))),
    },
  ];
  if (d) panels.push({ title: 'Event-stream decoding', unit: 'MB/s', bars: [{ label: 'gateway FrameDecoder', value: d.gatewayMBps }, { label: '@smithy/eventstream-codec', value: d.smithyMBps, color: '#aaa' }], target: { value: d.smithyMBps * 2, label: '2× smithy' } });
  if (idle) panels.push({ title: 'Memory per idle open stream', unit: 'KiB', bars: [{ label: 'RSS', value: idle.rssPerStreamKiB }, { label: 'V8 heap', value: idle.heapPerStreamKiB, color: '#ff7f0e' }], target: { value: 64, label: '≤ 64 KB' } });
  if (figures.redisHotPathCommands !== undefined) panels.push({ title: 'Redis commands on the hot path (all load windows)', unit: 'commands', bars: [{ label: 'synchronous commands', value: figures.redisHotPathCommands }], target: { value: 0, label: 'must be 0' } });
  let chromiumPath: string | undefined;
  try {
    chromiumPath = requireTool('chromium', 'apt-get install chromium');
  } catch {
    chromiumPath = undefined;
  }
  const files = await writeBenchResults({ figures, markdown: lines.join('\n') + '\n', title: `kiro-gateway bench — ${figures.machine}`, panels, chromiumPath });
  console.log(`\nresults: ${files.json}, ${files.md}, ${files.png ?? files.svg}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
