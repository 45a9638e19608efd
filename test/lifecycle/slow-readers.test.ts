/**
 * Slow readers must not starve a replica. 200 clients (a separate process, real sockets with a
 * small SO_RCVBUF) ask for long streams and never read them. With the upstream connection pool set
 * below the admission limit — the old hidden cap — the real gateway process must still:
 * - answer every ordinary request, or shed it with 529 overloaded_error + retry-after, within the
 *   admission queue timeout plus a margin (never leave it silent);
 * - free the slots and upstream calls of the stalled clients (cut off after `sse.writeStallTimeoutMs`
 *   when their socket buffers are full), so ordinary requests are served again;
 * - show it in /metrics (admitted, shed, cut off, active, queued);
 * - keep its memory bounded (RSS and heap are printed for the report and bounded loosely).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, simScript, type Simulator } from '../../src/simulator/index.js';
import { startReplica, type Replica } from '../helpers/replicas.js';
import { startSlowReaders } from '../helpers/slow-readers.js';
import { API_KEY, eventually, refreshTokenFor, writeCredentials } from '../helpers/stack.js';
import { requireTool } from '../helpers/tools.js';
import { parseProm } from '../observability/prom-parse.js';

const SLOW_CLIENTS = 200;
/** Every slow client gets a slot, so the memory figures are those of 200 held streams. */
const LIMIT = SLOW_CLIENTS;
const QUEUE = 20;
const QUEUE_TIMEOUT_MS = 1_000;
const STALL_MS = 6_000;
/**
 * Answered or shed within the queue timeout plus this. Generous on purpose: the 2-core machine is
 * shared (load averages of 20 were seen), and the defect this guards against is a request that gets
 * no answer at all for as long as the slow clients stay, not a slow one.
 */
const MARGIN_MS = 20_000;
const MODEL = 'claude-sonnet-4-6';
/**
 * The default reply: 200 frames of ~8 KB, 60 ms apart (12 s, twice the stall timeout, so the
 * simulator is still sending when a client is cut off and sees the abort), so the
 * clients' socket buffers fill within the first few frames while the simulator (in this process)
 * stays light enough not to skew the timings measured here.
 */
const LONG_TEXT = 'lorem ipsum dolor sit amet '.repeat(200 * 300);
const REPLY_FRAMES = 200;
const REPLY_FRAME_DELAY_MS = 60;

const ordinaryBody = JSON.stringify({
  model: MODEL,
  max_tokens: 32,
  messages: [{ role: 'user', content: `Hi ${simScript({ events: [{ text: 'short answer' }], chunkDelayMs: 0 })}` }],
});

interface Answer {
  status: number;
  retryAfter: string | null;
  errorType?: string;
  ms: number;
}

async function ordinary(url: string): Promise<Answer> {
  const started = Date.now();
  const res = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' },
    body: ordinaryBody,
  });
  const ms = Date.now() - started;
  const json = (await res.json()) as { error?: { type: string } };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), errorType: json.error?.type, ms };
}

async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const s of parseProm(text).samples) {
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    out.set(labels ? `${s.name}{${labels}}` : s.name, s.value);
  }
  return out;
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))!;
  return Number(/(\d+)/.exec(line)![1]) / 1024;
}

describe('slow readers do not starve a replica (real gateway process, 200 clients that never read)', () => {
  let sim: Simulator;
  let gw: Replica;
  let python: string;

  beforeAll(async () => {
    python = requireTool('python3', 'apt-get install python3');
    sim = await createSimulator({ defaultText: LONG_TEXT, defaultChunks: REPLY_FRAMES, chunkDelayMs: REPLY_FRAME_DELAY_MS });
    gw = await startReplica({
      simUrl: sim.url,
      credentialsPath: writeCredentials([{ refreshToken: refreshTokenFor('slow-readers'), authMethod: 'social' }]),
      env: {
        KIRO_METRICS_ENABLED: 'true',
        KIRO_ADMISSION_MAX_CONCURRENT_UPSTREAM: String(LIMIT),
        KIRO_ADMISSION_QUEUE_SIZE: String(QUEUE),
        KIRO_ADMISSION_QUEUE_TIMEOUT_MS: String(QUEUE_TIMEOUT_MS),
        KIRO_SSE_WRITE_STALL_TIMEOUT_MS: String(STALL_MS),
        // Below the admission limit on purpose: the pool must not become a hidden queue.
        KIRO_UPSTREAM_MAX_CONNECTIONS: '10',
      },
    });
  }, 240_000);

  afterAll(async () => {
    await gw?.stop();
    await sim?.close();
  });

  it('answers or sheds every ordinary request within the bound, cuts the stalled clients off, then serves again', async () => {
    // Warm up (token refresh, JIT) and take the baseline.
    for (let i = 0; i < 5; i++) expect((await ordinary(gw.url)).status).toBe(200);
    const baselineRss = rssMiB(gw.pid);
    const before = await scrape(gw.url);
    const baselineHeap = before.get('nodejs_heap_size_used_bytes') ?? 0;
    const abortedBefore = sim.stats.streamsAborted;

    const slow = startSlowReaders({
      python,
      url: gw.url,
      count: SLOW_CLIENTS,
      apiKey: API_KEY,
      body: { model: MODEL, max_tokens: 32, stream: true, messages: [{ role: 'user', content: 'Tell me a long story' }] },
    });
    try {
      await slow.sent;
      // Every one of the 200 decided: a slot (held by a client that reads nothing), or shed.
      const decided = (m: Map<string, number>) =>
        ['admitted_total{path=immediate}', 'admitted_total{path=queued}', 'shed_total{reason=queue_full}', 'shed_total{reason=queue_timeout}']
          .map((k) => (m.get(`kiro_gateway_admission_${k}`) ?? 0) - (before.get(`kiro_gateway_admission_${k}`) ?? 0))
          .reduce((a, b) => a + b, 0);
      await eventually(async () => decided(await scrape(gw.url)) >= SLOW_CLIENTS, 60_000);
      // All 200 hold a slot and an upstream call with their socket buffers full (the cut-off comes
      // STALL_MS after a buffer fills): the memory they cost now is the figure that matters.
      const held = await scrape(gw.url);
      const heldActive = held.get('kiro_gateway_admission_active') ?? 0;
      const peakRss = rssMiB(gw.pid);
      const peakHeap = held.get('nodejs_heap_size_used_bytes') ?? 0;
      const during = await Promise.all(Array.from({ length: 30 }, () => ordinary(gw.url)));
      for (const a of during) {
        expect(a.ms).toBeLessThan(QUEUE_TIMEOUT_MS + MARGIN_MS);
        if (a.status !== 200) {
          expect(a).toMatchObject({ status: 529, errorType: 'overloaded_error' });
          expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
        }
      }

      // The stalled clients are cut off after STALL_MS: slots and upstream calls are freed (the
      // simulator sees its streams aborted), and ordinary requests are served again.
      await eventually(async () => (await scrape(gw.url)).get('kiro_gateway_admission_active') === 0, 60_000);
      await eventually(() => sim.stats.streamsInFlight === 0, 30_000);

      const after = await Promise.all(Array.from({ length: 20 }, () => ordinary(gw.url)));
      expect(after.map((a) => a.status)).toEqual(Array(20).fill(200));

      const m = await scrape(gw.url);
      const moved = (key: string) => (m.get(key) ?? 0) - (before.get(key) ?? 0);
      const shed = moved('kiro_gateway_admission_shed_total{reason=queue_full}') + moved('kiro_gateway_admission_shed_total{reason=queue_timeout}');
      const admitted = moved('kiro_gateway_admission_admitted_total{path=immediate}') + moved('kiro_gateway_admission_admitted_total{path=queued}');
      const cutoffs = moved('kiro_gateway_slow_client_cutoffs_total');
      const aborted = sim.stats.streamsAborted - abortedBefore;
      const endRss = rssMiB(gw.pid);
      const endHeap = m.get('nodejs_heap_size_used_bytes') ?? 0;
      const mib = (b: number) => (b / 2 ** 20).toFixed(1);
      console.log(
        `slow readers: ${heldActive} held at once, ${cutoffs} cut off, ${aborted} upstream streams aborted; gateway RSS baseline ${baselineRss.toFixed(1)} MiB, ` +
          `${SLOW_CLIENTS} held ${peakRss.toFixed(1)} MiB, after ${endRss.toFixed(1)} MiB; heap used baseline ${mib(baselineHeap)} MiB, held ${mib(peakHeap)} MiB, ` +
          `after ${mib(endHeap)} MiB; ordinary during: ${during.filter((a) => a.status === 200).length} ok / ${during.filter((a) => a.status === 529).length} shed, ` +
          `slowest ${Math.max(...during.map((a) => a.ms))} ms; shed total ${shed}`,
      );
      // Every one of the 250 requests was admitted or shed; none vanished.
      expect(admitted + shed).toBe(SLOW_CLIENTS + during.length + after.length);
      expect(heldActive).toBe(SLOW_CLIENTS);
      // Each stalled client was cut off and its upstream call aborted: the simulator is still
      // pacing its answer (12 s) when the cut-off comes (6 s after the client's buffer filled).
      expect(cutoffs).toBe(SLOW_CLIENTS);
      expect(aborted).toBeGreaterThanOrEqual(SLOW_CLIENTS);
      expect(m.get('kiro_gateway_admission_queued')).toBe(0);
      expect(m.get('kiro_gateway_admission_limit')).toBe(LIMIT);
      // Bounded: a held stream costs its socket buffers and one upstream chunk, not its whole answer
      // (1.6 MB each here, 320 MB for all of them if buffered).
      expect(peakHeap - baselineHeap).toBeLessThan(SLOW_CLIENTS * 64 * 1024 + 32 * 2 ** 20);
      expect(peakRss - baselineRss).toBeLessThan(200);
    } finally {
      slow.kill();
    }
  }, 400_000);
});
