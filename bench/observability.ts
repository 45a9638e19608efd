/**
 * Observability scenario of `npm run bench` (skipped with BENCH_OBSERVABILITY=0; alone with
 * BENCH_ONLY=observability): four gateway processes under the same load —
 *   off (no metrics recorded, no tracing) · metrics only · metrics + tracing sampling 10 % ·
 *   metrics + tracing sampling 100 %
 * with every sampled span exported over OTLP/HTTP to a local sink. Tracing at 10 % uses
 * `OTEL_TRACES_SAMPLER=parentbased_traceidratio`, `OTEL_TRACES_SAMPLER_ARG=0.1`. Runs are
 * alternated off-metrics-10-100-100-10-metrics-off so drift of a shared machine hits all alike;
 * req/s, TTFB and the gateway's CPU time per request.
 */
import { createServer } from 'node:http';
import type { ChildProcess } from 'node:child_process';
import type { Result } from './load.js';

/** The figures of one load run (bench/load.ts) that this scenario reports. */
export type LoadResult = Pick<Result, 'rps' | 'p50' | 'p99' | 'requests' | 'errors' | 'outOfOrder'>;

/** What the scenario borrows from bench/run.ts. */
export interface ObservabilityKit<R extends LoadResult> {
  /** Streams `/v1/messages` at `concurrency` for `durationMs` against `url`. */
  load(url: string, concurrency: number, durationMs: number): Promise<R>;
  /** Starts a gateway with the bench's settings plus `env`. */
  startGateway(name: string, env: Record<string, string>): Promise<{ url: string; child: ChildProcess }>;
  merge(runs: R[]): R;
  fmt(r: R): string;
  /** CPU ticks used so far by `pid`, and milliseconds per tick. */
  cpuTicks(pid: number): number;
  msPerTick: number;
  concurrency: number;
  durationMs: number;
}

interface Variant {
  label: string;
  env: Record<string, string>;
}

/** Runs the scenario; returns its Markdown lines. */
export async function observabilityScenario<R extends LoadResult>(kit: ObservabilityKit<R>): Promise<string[]> {
  const sink = await startOtlpSink();
  const tracing = (ratio: string) => ({
    KIRO_METRICS_ENABLED: 'true',
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
    OTEL_BSP_SCHEDULE_DELAY: '200',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: ratio,
  });
  const variants: Variant[] = [
    { label: 'off', env: { KIRO_METRICS_ENABLED: 'false' } },
    { label: 'metrics only', env: { KIRO_METRICS_ENABLED: 'true' } },
    { label: 'metrics + tracing, 10 % sampled', env: tracing('0.1') },
    { label: 'metrics + tracing, 100 % sampled', env: tracing('1') },
  ];
  const children: ChildProcess[] = [];
  try {
    const gateways = [];
    for (const [i, v] of variants.entries()) {
      const gw = await kit.startGateway(`obs-${i}.json`, v.env);
      children.push(gw.child);
      await kit.load(gw.url, 1, 300); // warm-up: the first request refreshes the token
      gateways.push(gw);
    }
    const half = kit.durationMs / 2;
    const runs = variants.map(() => [] as R[]);
    const ticks = variants.map(() => 0);
    const order = [...variants.keys(), ...[...variants.keys()].reverse()];
    for (const i of order) {
      const pid = gateways[i]!.child.pid!;
      const before = kit.cpuTicks(pid);
      runs[i]!.push(await kit.load(gateways[i]!.url, kit.concurrency, half));
      ticks[i]! += kit.cpuTicks(pid) - before;
    }
    await new Promise((r) => setTimeout(r, 500));

    const merged = runs.map((r) => kit.merge(r));
    const off = merged[0]!;
    const lines = [
      `### Observability off / metrics only / tracing at 10 % and 100 % (${kit.concurrency} streams, runs alternated off-metrics-10%-100%-100%-10%-metrics-off)`,
      '',
      '| observability | req/s | × of off | TTFB p50/p99 ms | gateway CPU µs/req | errors | out of order |',
      '|---|---|---|---|---|---|---|',
    ];
    for (const [i, v] of variants.entries()) {
      const r = merged[i]!;
      const cpuUs = ((ticks[i]! * kit.msPerTick) / Math.max(1, r.requests)) * 1000;
      lines.push(
        `| ${v.label} | ${r.rps.toFixed(0)} | ${(r.rps / off.rps).toFixed(3)} | ${kit.fmt(r)} | ${cpuUs.toFixed(0)} | ${r.errors} | ${r.outOfOrder} |`,
      );
    }
    lines.push('');
    lines.push(`OTLP export requests received by the sink: ${sink.requests()} (${(sink.bytes() / 1024).toFixed(0)} KiB)`);
    return lines;
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await sink.close();
  }
}

/** A stand-in OTLP/HTTP collector on loopback: accepts every export and counts them. */
async function startOtlpSink(): Promise<{ url: string; requests(): number; bytes(): number; close(): Promise<void> }> {
  let count = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      count++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    bytes: () => bytes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
