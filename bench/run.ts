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
 *
 * Client keys scenario (bench/client-keys.ts, with Redis; skipped with BENCH_KEYS=0, run without the
 * other scenarios with BENCH_ONLY=keys): configured key vs a key with every limit, latency and Redis
 * round trips per request.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, merge, type Result } from './load.js';
import { benchDecoder } from './decoder.js';
import { benchIdleStreams } from './idle-streams.js';
import { benchReplicasBehindNginx } from './replicas-behind-nginx.js';
import { benchPacedStreams } from './paced-streams.js';
import { requireTool } from '../test/helpers/tools.js';
import { observabilityScenario } from './observability.js';
import { cpuTicks, MS_PER_TICK, REDIS_BINARY, startGateway, startProcess, startRedisServer } from './processes.js';
import { monitorRedis, redisCommandReport, type CommandWindow } from './redis-commands.js';
import { benchPoolMicro } from './pool-micro.js';
import { benchClientKeys } from './client-keys.js';
import { fmt, writeSummary, type BenchFigures } from './summary.js';
import { hotPathScenario } from './hot-path.js';

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 20);
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '1,50,200').split(',').map(Number);
/** BENCH_ONLY=observability or =hot-path runs that scenario alone (no direct/gateway table, no Redis scenario). */
const ONLY_OBSERVABILITY = process.env.BENCH_ONLY === 'observability';
const ONLY_HOT_PATH = process.env.BENCH_ONLY === 'hot-path';
/** BENCH_ONLY=keys runs the client keys scenario alone (it needs Redis). */
const ONLY_KEYS = process.env.BENCH_ONLY === 'keys';
/** One scenario alone: no direct/gateway table, and none of the others. */
const ONLY_ONE = ONLY_OBSERVABILITY || ONLY_HOT_PATH || ONLY_KEYS;
const WITH_REDIS = process.env.BENCH_REDIS !== '0' && !ONLY_OBSERVABILITY && !ONLY_HOT_PATH;
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? DURATION_MS);
const REDIS_PREFIX = 'bench:';
const WITH_OBSERVABILITY = process.env.BENCH_OBSERVABILITY !== '0' && !ONLY_HOT_PATH && !ONLY_KEYS;
const WITH_HOT_PATH = process.env.BENCH_HOT_PATH !== '0' && !ONLY_OBSERVABILITY && !ONLY_KEYS;
const WITH_KEYS = process.env.BENCH_KEYS !== '0' && !ONLY_OBSERVABILITY && !ONLY_HOT_PATH;

function expectedChunks(): string[] {
  return Array.from({ length: CHUNKS }, (_, i) => `chunk-${String(i).padStart(4, '0')} `);
}

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

  const figures: BenchFigures = { gatewayVsSimulator: [] };
  const rows: string[] = [];
  const storeRows: string[] = [];
  const redisLines: string[] = [];
  const obsLines: string[] = [];
  const hotLines: string[] = [];
  const keyLines: string[] = [];
  const cpuRows: string[] = [];
  try {
    // The direct vs gateway table's gateway; the scenarios run alone start their own.
    const gw = ONLY_OBSERVABILITY || ONLY_HOT_PATH ? undefined : await startGateway(credentialsFile('memory.json'), gatewayEnv);
    if (gw) children.push(gw.child);
    const redis = WITH_REDIS ? await startRedisServer() : undefined;
    if (WITH_REDIS && !redis) redisLines.push(`Redis scenario skipped: ${REDIS_BINARY} could not be run (install redis-server or set REDIS_SERVER_BIN).`);
    let gwr: { url: string; child: ChildProcess } | undefined;
    let mon: Awaited<ReturnType<typeof monitorRedis>> | undefined;
    const windows: CommandWindow[] = [];
    if (redis) {
      children.push(redis.child);
      gwr = await startGateway(credentialsFile('redis.json'), { ...gatewayEnv, KIRO_REDIS_URL: redis.url, KIRO_REDIS_KEY_PREFIX: REDIS_PREFIX });
      children.push(gwr.child);
      // Warm up both: the first request refreshes the token (for Redis: lock + update script); let the stats flush settle.
      await load(gw!.url, '/v1/messages', gwHeaders, anthropicBody, 1, inOrder, 300);
      await load(gwr.url, '/v1/messages', gwHeaders, anthropicBody, 1, inOrder, 300);
      await new Promise((r) => setTimeout(r, 500));
      mon = await monitorRedis(redis.url, REDIS_PREFIX);
      const idleFrom = Date.now();
      await new Promise((r) => setTimeout(r, IDLE_MS));
      windows.push({ label: 'idle (no requests)', spans: [[idleFrom, Date.now()]], requests: 0 });
    }

    for (const c of ONLY_ONE ? [] : CONCURRENCIES) {
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
        const gwBefore1 = cpuTicks(gw!.child.pid!);
        const simBefore1 = cpuTicks(sim.child.pid!);
        const m1 = await load(gw!.url, '/v1/messages', gwHeaders, anthropicBody, c, inOrder, half);
        gwTicks += cpuTicks(gw!.child.pid!) - gwBefore1;
        simBehindTicks += cpuTicks(sim.child.pid!) - simBefore1;
        const r1 = await onRedis();
        const r2 = await onRedis();
        const gwBefore2 = cpuTicks(gw!.child.pid!);
        const simBefore2 = cpuTicks(sim.child.pid!);
        const m2 = await load(gw!.url, '/v1/messages', gwHeaders, anthropicBody, c, inOrder, half);
        gwTicks += cpuTicks(gw!.child.pid!) - gwBefore2;
        simBehindTicks += cpuTicks(sim.child.pid!) - simBefore2;
        viaMemory = merge([m1, m2]);
        const viaRedis = merge([r1, r2]);
        windows.push({ label: `load, ${c} stream${c === 1 ? '' : 's'}`, spans, requests: viaRedis.requests - viaRedis.errors - viaRedis.outOfOrder });
        storeRows.push(
          `| ${c} | ${viaMemory.rps.toFixed(0)} | ${viaRedis.rps.toFixed(0)} | ${fmt(viaMemory)} | ${fmt(viaRedis)} | ` +
            `${(viaRedis.p50 - viaMemory.p50).toFixed(2)} / ${(viaRedis.p99 - viaMemory.p99).toFixed(2)} | ${viaRedis.errors} | ${viaRedis.outOfOrder} |`,
        );
      } else {
        const gwBefore = cpuTicks(gw!.child.pid!);
        const simBefore0 = cpuTicks(sim.child.pid!);
        viaMemory = await load(gw!.url, '/v1/messages', gwHeaders, anthropicBody, c, inOrder, DURATION_MS);
        gwTicks += cpuTicks(gw!.child.pid!) - gwBefore;
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
      const report = redisCommandReport(windows, mon.captured);
      redisLines.push(...report.lines);
      figures.redisHotPathCommands = report.hotPath;
      if (!ONLY_KEYS) redisLines.push(...(await benchPoolMicro(redis.url)));
    }
    const keysRedis = redis && WITH_KEYS ? await startRedisServer() : undefined;
    if (keysRedis) {
      children.push(keysRedis.child);
      const keys = await benchClientKeys({
        redisUrl: keysRedis.url,
        load: (url, key, concurrency, durationMs) =>
          load(url, '/v1/messages', { ...gwHeaders, 'x-api-key': key }, anthropicBody, concurrency, inOrder, durationMs),
        startGateway: (name, env) => startGateway(credentialsFile(name), { ...gatewayEnv, ...env }),
        merge,
        fmt,
        configKey: gwHeaders['x-api-key'],
        concurrencies: [1, Math.min(50, Math.max(...CONCURRENCIES))],
        durationMs: DURATION_MS,
      });
      children.push(keys.child);
      keyLines.push(...keys.lines);
      figures.clientKeys = keys.figures;
    }

    if (WITH_HOT_PATH) {
      const hot = await hotPathScenario({
        durationMs: DURATION_MS,
        chunks,
        concurrency: Number(process.env.BENCH_HOT_CONCURRENCY ?? 50),
        verify: inOrder,
        baselineRoot: process.env.BENCH_BASELINE || undefined,
        profile: process.env.BENCH_PROFILE === '1',
        rounds: Number(process.env.BENCH_ROUNDS ?? 2),
        nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
        workloads: (process.env.BENCH_HOT_WORKLOADS ?? 'small,claude-code').split(','),
      });
      figures.hotPath = hot.figures;
      hotLines.push(...hot.lines);
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
    if (!ONLY_ONE) {
      if (process.env.BENCH_DECODER !== '0') figures.decoder = benchDecoder();
      if (process.env.BENCH_IDLE_STREAMS !== '0') {
        const streams = Number(process.env.BENCH_IDLE_STREAMS ?? 1_000);
        figures.idleStreams = [await benchIdleStreams(streams)];
        // With Redis as in the chart (ioredis and the shared pool's state loaded too).
        if (redis) figures.idleStreams.push(await benchIdleStreams(streams, [200], `${redis.url}/5`));
      }
      if (process.env.BENCH_PACED !== '0') {
        figures.pacedStreams = await benchPacedStreams({
          concurrency: Math.max(...CONCURRENCIES),
          durationMs: Math.max(DURATION_MS, 10_000),
          chunks,
          kiroBody,
          anthropicBody,
          credentialsPath: credentialsFile('paced.json'),
          gatewayEnv,
          inOrder,
        });
      }
      if (process.env.BENCH_REPLICAS !== '0') {
        figures.replicas = await benchReplicasBehindNginx({
          nginxBinary: requireTool('nginx', 'apt-get install nginx'),
          concurrency: Math.max(...CONCURRENCIES),
          durationMs: DURATION_MS,
          chunks,
        });
      }
    }
  } finally {
    for (const child of children) child.kill('SIGKILL');
  }
  await writeSummary(figures, { rows, cpuRows, storeRows, redisLines, obsLines, hotLines, keyLines }, { chunks: CHUNKS, durationMs: DURATION_MS });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
