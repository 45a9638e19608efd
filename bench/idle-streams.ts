/**
 * Memory per open stream: one gateway process, N streams held open and idle (the simulator sends the
 * first text chunk, then nothing for minutes), RSS (/proc/<pid>/status) and V8 heap (the gateway's
 * own nodejs_heap_size_used_bytes) at 0 and at N open streams, after a short settle. Per-stream cost
 * = difference / N. Every stream must have delivered its first text delta before measuring.
 */
import { request, Agent } from 'node:http';
import { createSimulator, simScript } from '../src/simulator/index.js';
import { startReplica } from '../test/helpers/replicas.js';
import { rssMiB } from './processes.js';
import { API_KEY, refreshTokenFor, writeCredentials } from '../test/helpers/stack.js';

export interface IdleStreamsResult {
  streams: number;
  /** Where the gateway kept its pool state: in memory, or in Redis (the chart's setting). */
  store: 'memory' | 'redis';
  /**
   * RSS and heap on the way up, e.g. at 200 open streams (target: RSS ≤ 100 MB there): 2 s after the
   * last stream opened, and again once the streams have been idle for `settleMs` (V8's memory reducer
   * gives back the young generation that opening them in a burst grew, ~8–30 s after the burst).
   */
  checkpoints: Array<{ streams: number; rssMiB: number; heapMiB: number; settledRssMiB?: number; settledHeapMiB?: number }>;
  settleMs: number;
  rssIdleMiB: number;
  rssOpenMiB: number;
  heapIdleMiB: number;
  heapOpenMiB: number;
  rssPerStreamKiB: number;
  heapPerStreamKiB: number;
}

const MiB = 1024 * 1024;

async function heapBytes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchIdleStreams(
  streams = 1_000,
  checkpoints: readonly number[] = [200],
  redisUrl?: string,
  settleMs = Number(process.env.BENCH_IDLE_SETTLE_MS ?? 30_000),
): Promise<IdleStreamsResult> {
  const sim = await createSimulator({ recentRequests: 0 });
  const credentialsPath = writeCredentials([{ refreshToken: refreshTokenFor('bench-idle'), authMethod: 'social' }]);
  const gw = await startReplica({
    name: 'gw-idle',
    simUrl: sim.url,
    credentialsPath,
    redisUrl,
    // No admission limit: the point is to hold every stream open (the default 256 would shed the rest).
    env: { KIRO_METRICS_ENABLED: 'true', KIRO_UPSTREAM_MAX_CONNECTIONS: '0', KIRO_SSE_PING_INTERVAL_MS: '0', KIRO_ADMISSION_MAX_CONCURRENT_UPSTREAM: '0' },
    startTimeoutMs: 90_000,
  });
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const open: Array<{ destroy(): void }> = [];
  try {
    const body = JSON.stringify({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 64,
      stream: true,
      messages: [{ role: 'user', content: `hold ${simScript({ events: [{ text: 'first' }, { text: 'never soon' }], chunkDelayMs: 600_000 })}` }],
    });
    const openOne = () =>
      new Promise<void>((resolve, reject) => {
        const req = request(`${gw.url}/v1/messages`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-api-key': API_KEY } }, (res) => {
          let seen = '';
          const onData = (c: Buffer) => {
            seen += c.toString('utf8');
            if (seen.includes('"text_delta"')) {
              res.off('data', onData);
              resolve();
            }
          };
          res.on('data', onData);
          res.once('error', reject);
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
        });
        req.once('error', reject);
        req.end(body);
        open.push(req);
      });
    // Warm up (first refresh, JIT), then the idle baseline.
    await Promise.all(Array.from({ length: 20 }, openOne));
    for (const r of open.splice(0)) r.destroy();
    await settle(2_000);
    const rss0 = rssMiB(gw.pid);
    const heap0 = await heapBytes(gw.url);
    const at: IdleStreamsResult['checkpoints'] = [];
    const stops = [...checkpoints.filter((n) => n > 0 && n < streams), streams];
    let opened = 0;
    for (const stop of stops) {
      while (opened < stop) {
        const batch = Math.min(100, stop - opened);
        await Promise.all(Array.from({ length: batch }, openOne));
        opened += batch;
      }
      await settle(2_000);
      const point: IdleStreamsResult['checkpoints'][number] = { streams: stop, rssMiB: rssMiB(gw.pid), heapMiB: (await heapBytes(gw.url)) / MiB };
      if (settleMs > 0 && stop !== streams) {
        await settle(settleMs);
        point.settledRssMiB = rssMiB(gw.pid);
        point.settledHeapMiB = (await heapBytes(gw.url)) / MiB;
      }
      at.push(point);
    }
    const rss1 = rssMiB(gw.pid);
    const heap1 = await heapBytes(gw.url);
    return {
      streams,
      store: redisUrl ? 'redis' : 'memory',
      settleMs,
      checkpoints: at,
      rssIdleMiB: rss0,
      rssOpenMiB: rss1,
      heapIdleMiB: heap0 / MiB,
      heapOpenMiB: heap1 / MiB,
      rssPerStreamKiB: ((rss1 - rss0) * 1024) / streams,
      heapPerStreamKiB: (heap1 - heap0) / streams / 1024,
    };
  } finally {
    for (const r of open) r.destroy();
    agent.destroy();
    await gw.kill9();
    await sim.close();
  }
}
