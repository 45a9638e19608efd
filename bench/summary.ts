/**
 * The bench's results: the tables on stdout and in bench/results/ (bench.md, bench.json) with the
 * headline figures as bar charts against their targets (report.ts).
 */
import { cpus, totalmem } from 'node:os';
import type { Result } from './load.js';
import type { DecoderResult } from './decoder.js';
import type { IdleStreamsResult } from './idle-streams.js';
import type { ReplicasResult } from './replicas-behind-nginx.js';
import type { PacedStreamsResult } from './paced-streams.js';
import type { HotPathFigures } from './hot-path.js';
import { writeBenchResults, type BarPanel } from './report.js';
import { requireTool } from '../test/helpers/tools.js';
import type { ClientKeysFigure } from './client-keys.js';

/** TTFB p50 / p99 in ms, as the tables show it. */
export const fmt = (r: Result) => `${r.p50.toFixed(2)} / ${r.p99.toFixed(2)}`;

/** What bench.json holds. */
export interface BenchFigures {
  machine?: string;
  gatewayVsSimulator: Array<Record<string, number>>;
  redisHotPathCommands?: number;
  redisCommandsPerRequest?: Record<string, number>;
  decoder?: DecoderResult;
  idleStreams?: IdleStreamsResult[];
  replicas?: ReplicasResult[];
  /** Open streams with model-like timing: the TTFB the gateway adds when the CPU is not saturated. */
  pacedStreams?: PacedStreamsResult;
  hotPath?: HotPathFigures;
  /** Client key enforcement: configured key vs a key with every limit. */
  clientKeys?: ClientKeysFigure[];
}

/** Table rows (Markdown) built while measuring. */
export interface BenchTables {
  /** Simulator direct vs gateway, per concurrency. */
  rows: string[];
  /** CPU time per request, per concurrency. */
  cpuRows: string[];
  /** Memory vs Redis store, per concurrency. */
  storeRows: string[];
  /** Redis commands and the pool micro-benchmark (whole sections). */
  redisLines: string[];
  /** The observability scenario (a whole section). */
  obsLines: string[];
  /** The hot-path scenario: small and Claude Code requests against their floors (a whole section). */
  hotLines: string[];
  /** The client keys scenario (a whole section). */
  keyLines?: string[];
}

/** Prints every table and writes bench/results/. */
export async function writeSummary(
  figures: BenchFigures,
  tables: BenchTables,
  setup: { chunks: number; durationMs: number },
): Promise<void> {
  const lines: string[] = [];
  const print = (s = '') => {
    console.log(s);
    lines.push(s);
  };
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  figures.machine = `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
  print(`\nkiro-gateway bench — ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  print(`${setup.chunks} upstream chunks per response, ${setup.durationMs / 1000}s per measurement, streaming requests\n`);
  if (tables.rows.length > 0) {
    print('| streams | simulator req/s | gateway req/s | ratio | sim TTFB p50/p99 ms | gw TTFB p50/p99 ms | added p50 / p99 ms | errors | out of order |');
    print('|---|---|---|---|---|---|---|---|---|');
    for (const r of tables.rows) print(r);
    print('\n### CPU time per request (from /proc/<pid>/stat; the load generator is not counted)\n');
    print('| streams | simulator µs/req, served directly | simulator µs/req, behind the gateway | gateway µs/req | gateway ÷ simulator |');
    print('|---|---|---|---|---|');
    for (const r of tables.cpuRows) print(r);
  }
  if (tables.storeRows.length > 0) {
    print('\n### Credential store: memory vs Redis (one gateway process each, same load, runs alternated A-B-B-A)\n');
    print('| streams | memory req/s | redis req/s | memory TTFB p50/p99 ms | redis TTFB p50/p99 ms | redis − memory p50/p99 ms | errors | out of order |');
    print('|---|---|---|---|---|---|---|---|');
    for (const r of tables.storeRows) print(r);
  }
  if (tables.redisLines.length > 0) print(`\n${tables.redisLines.join('\n')}`);
  if (tables.hotLines.length > 0) print(`\n${tables.hotLines.join('\n')}`);
  if (tables.obsLines.length > 0) print(`\n${tables.obsLines.join('\n')}`);
  if (tables.keyLines?.length) print(`\n${tables.keyLines.join('\n')}`);
  const d = figures.decoder;
  if (d) {
    print(`\n### Event-stream decoder vs @smithy/eventstream-codec (${(d.bytes / 1e6).toFixed(1)} MB, ${d.frames} frames, ${d.chunkBytes / 1024} KiB chunks, best of 5)\n`);
    print('| decoder | MB/s |');
    print('|---|---|');
    print(`| gateway FrameDecoder | ${d.gatewayMBps.toFixed(0)} |`);
    print(`| @smithy/eventstream-codec | ${d.smithyMBps.toFixed(0)} |`);
    print(`\nRatio ${d.ratio.toFixed(2)}× (target ≥ 2×)`);
  }
  for (const idle of figures.idleStreams ?? []) {
    print(`\n### Memory at 0 and ${idle.streams} idle open streams (one gateway process, pool state in ${idle.store === 'redis' ? 'Redis' : 'memory'})\n`);
    const settledFor = `after ${(idle.settleMs / 1000).toFixed(0)} s idle`;
    print(`| open streams | RSS MiB | V8 heap used MiB | RSS MiB ${settledFor} | heap MiB ${settledFor} |`);
    print('|---|---|---|---|---|');
    print(`| 0 | ${idle.rssIdleMiB.toFixed(1)} | ${idle.heapIdleMiB.toFixed(1)} | | |`);
    for (const c of idle.checkpoints) print(`| ${c.streams} | ${c.rssMiB.toFixed(1)} | ${c.heapMiB.toFixed(1)} | ${c.settledRssMiB?.toFixed(1) ?? ''} | ${c.settledHeapMiB?.toFixed(1) ?? ''} |`);
    print(`\nPer open stream: ${idle.rssPerStreamKiB.toFixed(1)} KiB RSS, ${idle.heapPerStreamKiB.toFixed(1)} KiB heap (target ≤ 64 KB)`);
    const at200 = idle.checkpoints.find((c) => c.streams === 200);
    const mb = (mib: number) => `${mib.toFixed(1)} MiB = ${((mib * 1024 * 1024) / 1e6).toFixed(1)} MB`;
    if (at200) print(`RSS with 200 open streams: ${mb(at200.rssMiB)} 2 s after they opened${at200.settledRssMiB === undefined ? '' : `, ${mb(at200.settledRssMiB)} ${settledFor}`} (target ≤ 100 MB)`);
  }
  const paced = figures.pacedStreams;
  if (paced) {
    print(`\n### ${paced.concurrency} open streams with model-like timing (first frame after ${paced.latencyMs} ms, chunks ${paced.chunkDelayMs} ms apart; alternated direct-gateway-gateway-direct)\n`);
    print('| served by | req/s | TTFB p50/p99 ms | CPU µs/req | errors | out of order |');
    print('|---|---|---|---|---|---|');
    const rows = [['simulator direct', paced.direct, undefined], ['pass-through', paced.passThrough, paced.passThroughCpuUsPerRequest], ['gateway', paced.gateway, paced.gatewayCpuUsPerRequest]] as const;
    for (const [name, r, cpu] of rows) print(`| ${name} | ${r.rps.toFixed(0)} | ${fmt(r)} | ${cpu === undefined ? '—' : cpu.toFixed(0)} | ${r.errors} | ${r.outOfOrder} |`);
    print(`\nAdded TTFB at ${paced.concurrency} open streams: p50 ${paced.addedP50.toFixed(2)} ms, p99 ${paced.addedP99.toFixed(2)} ms (target p99 ≤ 5 ms); the pass-through adds p50 ${(paced.passThrough.p50 - paced.direct.p50).toFixed(2)} ms, p99 ${(paced.passThrough.p99 - paced.direct.p99).toFixed(2)} ms. Gateway CPU per request ${(paced.gatewayCpuUsPerRequest / Math.max(1, paced.passThroughCpuUsPerRequest)).toFixed(2)}× the pass-through's.` +
      ` Peak RSS with the ${paced.concurrency} streams open: gateway ${paced.gatewayPeakRss.total.toFixed(1)} MiB (${paced.gatewayPeakRss.file.toFixed(0)} file-backed; target ≤ 100 MB), pass-through ${paced.passThroughPeakRss.total.toFixed(1)} MiB.`);
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
      bars: figures.gatewayVsSimulator
        .map((g) => ({ label: `${g.streams} streams`, value: Math.max(0, g.addedTtfbP99!) }))
        .concat(paced ? [{ label: `${paced.concurrency} paced streams`, value: Math.max(0, paced.addedP99) }] : []),
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
  const idle = figures.idleStreams?.[0];
  if (d) panels.push({ title: 'Event-stream decoding', unit: 'MB/s', bars: [{ label: 'gateway FrameDecoder', value: d.gatewayMBps }, { label: '@smithy/eventstream-codec', value: d.smithyMBps, color: '#aaa' }], target: { value: d.smithyMBps * 2, label: '2× smithy' } });
  if (idle) panels.push({ title: 'Memory per idle open stream', unit: 'KiB', bars: [{ label: 'RSS', value: idle.rssPerStreamKiB }, { label: 'V8 heap', value: idle.heapPerStreamKiB, color: '#ff7f0e' }], target: { value: 64, label: '≤ 64 KB' } });
  const hot = figures.hotPath;
  if (hot) {
    const cpu = (workload: string, streams: number) => hot.rows.filter((r) => r.workload === workload && r.streams === streams);
    const small = cpu('small', 50);
    const floor = small.find((r) => r.target === 'pass-through');
    if (floor) {
      panels.push({
        title: 'CPU per request, small streamed request at 50 streams',
        unit: 'µs',
        bars: small.map((r) => ({ label: r.target, value: r.cpuUsPerRequest, color: r.target === 'pass-through' ? '#aaa' : undefined })),
        target: { value: floor.cpuUsPerRequest * 1.5, label: '1.5× pass-through' },
      });
    }
    panels.push({
      title: 'CPU per request, Claude Code tool-result turn',
      unit: 'µs',
      bars: [1, 10].flatMap((n) => cpu('claude-code', n).map((r) => ({ label: `${r.target}, ${n} stream${n === 1 ? '' : 's'}`, value: r.cpuUsPerRequest, color: r.target.startsWith('gateway') ? undefined : '#aaa' }))),
    });
    if (hot.claudeCodeAddedTtfbP50 !== undefined) {
      panels.push({
        title: 'Time to first byte above the simulator, Claude Code request at 1 stream (p50)',
        unit: 'ms',
        bars: [
          { label: 'pass-through (a hop)', value: Math.max(0, hot.passThroughAddedTtfbP50 ?? 0), color: '#aaa' },
          { label: 'gateway', value: Math.max(0, hot.claudeCodeAddedTtfbP50) },
        ],
        target: { value: 1, label: '≤ 1 ms' },
      });
    }
    const idle200 = idle?.checkpoints.find((c) => c.streams === 200);
    const rssBars = [
      ...(idle200 ? [{ label: '200 idle open streams', value: idle200.rssMiB }] : []),
      ...(hot.rssWith200StreamsMiB !== undefined ? [{ label: '200 streams at full load (peak)', value: hot.rssWith200StreamsMiB, color: '#ff7f0e' }] : []),
    ];
    if (rssBars.length > 0) panels.push({ title: 'Gateway RSS with 200 open streams', unit: 'MiB', bars: rssBars, target: { value: 100, label: '≤ 100 MB' } });
  }
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
