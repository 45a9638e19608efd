/**
 * 200 open streams with model-like timing: what the gateway adds to the time to first byte when its
 * streams mostly wait on Kiro, as in production, rather than when three processes saturate two
 * cores (the instant-simulator table above, whose 200-stream p99 is queueing for the CPU).
 *
 * A second simulator answers after `latencyMs` and sends its chunks `chunkDelayMs` apart; the load
 * generator keeps `concurrency` streams open against it directly and through a gateway, alternated
 * and through the bare pass-through proxy (the floor), alternated direct, pass-through, gateway,
 * gateway, pass-through, direct in half-length runs; the streams start spread over one stream's
 * length and pause at random between requests (without that, 200 streams of equal length reach the
 * gateway in waves, and the p99 measures the wave). The gateway's first byte carries
 * message_start and the first text delta, so it cannot come before the simulator's first frame.
 */
import type { ChildProcess } from 'node:child_process';
import { load, merge, type Result } from './load.js';
import { cpuTicks, MS_PER_TICK, peakRss, startGateway, startProcess } from './processes.js';

export interface PacedStreamsResult {
  concurrency: number;
  latencyMs: number;
  chunkDelayMs: number;
  direct: Result;
  /** The bare pass-through proxy (bench/passthrough.ts) in front of the same simulator: the floor. */
  passThrough: Result;
  gateway: Result;
  /** Gateway TTFB − direct TTFB (ms). */
  addedP50: number;
  addedP99: number;
  /** Gateway CPU per request (µs). */
  gatewayCpuUsPerRequest: number;
  /** Pass-through CPU per request (µs): a Node proxy's own cost of relaying chunks that come apart. */
  passThroughCpuUsPerRequest: number;
  /** Largest RSS (MiB) while the streams were open, and its file-backed part (the node binary's pages). */
  gatewayPeakRss: { total: number; file: number };
  passThroughPeakRss: { total: number; file: number };
}

export interface PacedStreamsOptions {
  concurrency: number;
  durationMs: number;
  chunks: string[];
  kiroBody: string;
  anthropicBody: string;
  credentialsPath: string;
  gatewayEnv: Record<string, string>;
  inOrder: (body: string) => boolean;
  latencyMs?: number;
  chunkDelayMs?: number;
}

/** `run`, each time adding the CPU ticks process `pid` spent meanwhile to `ticks()` and watching its RSS. */
function measured(pid: number, run: () => Promise<Result>): { run: () => Promise<Result>; ticks: () => number; peakRss: () => { total: number; file: number } } {
  let ticks = 0;
  let peak = { total: 0, file: 0 };
  return {
    run: async () => {
      const before = cpuTicks(pid);
      const sampler = peakRss(pid);
      const result = await run();
      const seen = sampler.stop();
      if (seen.total > peak.total) peak = seen;
      ticks += cpuTicks(pid) - before;
      return result;
    },
    ticks: () => ticks,
    peakRss: () => peak,
  };
}

export async function benchPacedStreams(opts: PacedStreamsOptions): Promise<PacedStreamsResult> {
  const latencyMs = opts.latencyMs ?? 300;
  const chunkDelayMs = opts.chunkDelayMs ?? 30;
  const children: ChildProcess[] = [];
  try {
    const sim = await startProcess('dist/src/simulator/main.js', [
      '--port', '0', '--accept-any-token', '--chunks', String(opts.chunks.length), '--text', opts.chunks.join(''),
      '--latency-ms', String(latencyMs), '--chunk-delay-ms', String(chunkDelayMs),
    ], {});
    children.push(sim.child);
    const gw = await startGateway(opts.credentialsPath, {
      ...opts.gatewayEnv,
      KIRO_UPSTREAM_API_BASE_URL: sim.url,
      KIRO_UPSTREAM_SOCIAL_REFRESH_URL: `${sim.url}/refreshToken`,
      KIRO_UPSTREAM_IDC_REFRESH_URL: `${sim.url}/token`,
    });
    children.push(gw.child);
    const proxy = await startProcess('dist/bench/passthrough.js', ['--upstream', sim.url], {});
    children.push(proxy.child);
    const gwHeaders = { 'content-type': 'application/json', 'x-api-key': opts.gatewayEnv.KIRO_CLIENT_API_KEY ?? '' };
    const simHeaders = { 'content-type': 'application/json', authorization: 'Bearer bench' };
    const half = opts.durationMs / 2;
    // Spread over one stream's length, with a little jitter: arrivals as from independent clients.
    const streamMs = latencyMs + chunkDelayMs * opts.chunks.length;
    const pacing = { staggerMs: streamMs, thinkMs: chunkDelayMs };
    const direct = () => load(sim.url, '/generateAssistantResponse', simHeaders, opts.kiroBody, opts.concurrency, opts.inOrder, half, pacing);
    const viaGateway = measured(gw.child.pid!, () => load(gw.url, '/v1/messages', gwHeaders, opts.anthropicBody, opts.concurrency, opts.inOrder, half, pacing));
    const viaPassThrough = measured(proxy.child.pid!, () => load(proxy.url, '/', simHeaders, opts.kiroBody, opts.concurrency, opts.inOrder, half, pacing));
    // Warm-up: the first request refreshes the token.
    await load(gw.url, '/v1/messages', gwHeaders, opts.anthropicBody, 1, opts.inOrder, latencyMs * 3);
    const d1 = await direct();
    const p1 = await viaPassThrough.run();
    const g1 = await viaGateway.run();
    const g2 = await viaGateway.run();
    const p2 = await viaPassThrough.run();
    const d2 = await direct();
    const directResult = merge([d1, d2]);
    const passThroughResult = merge([p1, p2]);
    const gatewayResult = merge([g1, g2]);
    return {
      concurrency: opts.concurrency,
      latencyMs,
      chunkDelayMs,
      direct: directResult,
      passThrough: passThroughResult,
      gateway: gatewayResult,
      addedP50: gatewayResult.p50 - directResult.p50,
      addedP99: gatewayResult.p99 - directResult.p99,
      gatewayCpuUsPerRequest: (viaGateway.ticks() * MS_PER_TICK * 1000) / Math.max(1, gatewayResult.requests),
      passThroughCpuUsPerRequest: (viaPassThrough.ticks() * MS_PER_TICK * 1000) / Math.max(1, passThroughResult.requests),
      gatewayPeakRss: viaGateway.peakRss(),
      passThroughPeakRss: viaPassThrough.peakRss(),
    };
  } finally {
    for (const c of children) c.kill('SIGTERM');
  }
}
