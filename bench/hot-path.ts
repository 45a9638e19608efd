/**
 * The hot path's cost (issue 14), measured against a floor in the same run:
 *
 * - small: a one-word streamed request ("hi") at `BENCH_HOT_CONCURRENCY` (50) streams, through the
 *   gateway and through the bare pass-through proxy (bench/passthrough.ts), which forwards a Kiro
 *   body of the same conversation to the same simulator: gateway CPU per request ÷ the floor's
 *   (target ≤ 1.5×);
 * - the same small request at 200 streams: the gateway's peak RSS with 200 streams open (target
 *   ≤ 100 MB);
 * - claude-code: the captured Claude Code tool-result turn (test/fixtures/claude-code/, 76 KB, 24
 *   tools) streamed through the gateway at 1 and 10 streams, against the simulator served
 *   directly with the Kiro body the gateway sends for it, and that body through the pass-through
 *   (a hop's own cost): gateway CPU per request, and time to first content delta at 1 stream vs
 *   the simulator's own first byte (target ≤ +1 ms).
 *
 * Each workload gets fresh gateways; the compared targets run alternated in palindromic rounds
 * (A B C C B A, twice by default: BENCH_ROUNDS), so drift of a shared machine hits them alike. CPU is the process's utime + stime from
 * /proc (the load generator is another process). With `BENCH_BASELINE=<checkout>` (a built copy
 * of another commit: `git worktree add /tmp/base <ref> && (cd /tmp/base && npx tsc -p
 * tsconfig.build.json)`), a gateway from that build runs in the same alternation, so a change is
 * reported as a ratio to the build before it. With `BENCH_PROFILE=1` every gateway runs under
 * `--cpu-prof`; profiles land in bench/results/profiles/ (read them with bench/profile-summary.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, merge, type Result } from './load.js';
import { cpuTicksSplit, MS_PER_TICK, peakRss, startGateway, startProcess } from './processes.js';
import { ROOT } from '../test/helpers/replicas.js';
import { convertRequest } from '../src/convert/request.js';
import type { MessagesRequest } from '../src/anthropic/types.js';
import { fmt } from './summary.js';

export interface HotPathRow {
  workload: string;
  streams: number;
  target: string;
  rps: number;
  ttfbP50: number;
  ttfbP99: number;
  cpuUsPerRequest: number;
  /** The kernel's share of it (system time: sockets, mostly). */
  systemUsPerRequest: number;
  /** Largest RSS of the serving process during its runs (MiB). */
  peakRssMiB: number;
  /** Its file-backed part (the node binary's and libraries' pages, shared with other node processes). */
  peakRssFileMiB: number;
  requests: number;
  errors: number;
  outOfOrder: number;
}

export interface HotPathFigures {
  rows: HotPathRow[];
  /** Gateway CPU per request ÷ the pass-through's, small request (target ≤ 1.5). */
  smallCpuRatio?: number;
  /** The gateway's largest RSS while serving 200 streams at once (MiB, target ≤ 100). */
  rssWith200StreamsMiB?: number;
  /** The file-backed part of that peak (node binary and libraries, MiB). */
  rssWith200StreamsFileMiB?: number;
  /** Gateway TTFB p50 − simulator direct TTFB p50, Claude Code request at 1 stream (ms, target ≤ 1). */
  claudeCodeAddedTtfbP50?: number;
  /** The same for the pass-through proxy: the cost of a hop by itself (ms). */
  passThroughAddedTtfbP50?: number;
  /** Gateway ÷ baseline CPU per request, per workload and concurrency (only with BENCH_BASELINE). */
  baselineCpuRatios?: Record<string, number>;
  loadAverage: number[];
}

interface Target {
  label: string;
  url: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  pid: number;
}

export interface HotPathOptions {
  durationMs: number;
  chunks: string[];
  concurrency: number;
  verify: (text: string) => boolean;
  baselineRoot?: string;
  profile: boolean;
  /** Extra node arguments of the gateway under test, not of the baseline (BENCH_NODE_ARGS). */
  nodeArgs: string[];
  /** Palindromes per measurement (BENCH_ROUNDS, default 2). */
  rounds: number;
  /** `small`, `claude-code` (BENCH_HOT_WORKLOADS). */
  workloads: string[];
}

const GATEWAY_KEY = 'bench-key';
const OPEN_STREAMS = 200;
export const PROFILES_DIR = join(ROOT, 'bench', 'results', 'profiles');

/** The captured Claude Code tool-result turn, as its client sent it. */
export function claudeCodeRequest(): { body: MessagesRequest; headers: Record<string, string> } {
  const fixture = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/claude-code/tool-result-turn.json'), 'utf8')) as {
    headers: Record<string, string>;
    body: MessagesRequest;
  };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(fixture.headers)) if (!['host', 'connection', 'accept-encoding', 'content-length'].includes(k)) headers[k] = v;
  return { body: { ...fixture.body, stream: true }, headers };
}

/** The Kiro body the gateway sends for `request` (conversion is deterministic but for its ids). */
function kiroBodyOf(request: MessagesRequest): string {
  return JSON.stringify(convertRequest(request).body);
}

/**
 * Loads every target for `totalMs` in all, in `rounds` palindromes (A B C C B A, A B C C B A …) of
 * short runs, so drift hits every target alike; merged results, CPU per request and peak RSS.
 */
async function alternate(
  targets: Target[],
  rounds: number,
  concurrency: number,
  totalMs: number,
  verify: (text: string) => boolean,
): Promise<Measured[]> {
  const forward = [...targets.keys()];
  const order = Array.from({ length: rounds }, () => [...forward, ...[...forward].reverse()]).flat();
  const runMs = totalMs / (2 * rounds);
  const runs = targets.map(() => [] as Result[]);
  const user = targets.map(() => 0);
  const system = targets.map(() => 0);
  const rss = targets.map(() => ({ total: 0, file: 0 }));
  for (const i of order) {
    const t = targets[i]!;
    const before = cpuTicksSplit(t.pid);
    const sampler = peakRss(t.pid);
    runs[i]!.push(await load(t.url, t.path, t.headers, t.body, concurrency, verify, runMs));
    const peak = sampler.stop();
    if (peak.total > rss[i]!.total) rss[i] = peak;
    const after = cpuTicksSplit(t.pid);
    user[i]! += after.user - before.user;
    system[i]! += after.system - before.system;
  }
  return targets.map((_, i) => {
    const result = merge(runs[i]!);
    const perRequest = (ticks: number) => ((ticks * MS_PER_TICK) / Math.max(1, result.requests)) * 1000;
    return { result, cpuUs: perRequest(user[i]! + system[i]!), systemUs: perRequest(system[i]!), peakRssMiB: rss[i]!.total, peakRssFileMiB: rss[i]!.file };
  });
}

interface Measured {
  result: Result;
  cpuUs: number;
  systemUs: number;
  peakRssMiB: number;
  peakRssFileMiB: number;
}

function row(workload: string, streams: number, target: string, m: Measured): HotPathRow {
  const r = m.result;
  return { workload, streams, target, rps: r.rps, ttfbP50: r.p50, ttfbP99: r.p99, cpuUsPerRequest: m.cpuUs, systemUsPerRequest: m.systemUs, peakRssMiB: m.peakRssMiB, peakRssFileMiB: m.peakRssFileMiB, requests: r.requests, errors: r.errors, outOfOrder: r.outOfOrder };
}

export async function hotPathScenario(opts: HotPathOptions): Promise<{ figures: HotPathFigures; lines: string[] }> {
  const text = opts.chunks.join('');
  const children: ChildProcess[] = [];
  const gateways: ChildProcess[] = [];
  const figures: HotPathFigures = { rows: [], loadAverage: [] };
  const dir = mkdtempSync(join(tmpdir(), 'kiro-bench-hot-'));
  if (opts.profile) mkdirSync(PROFILES_DIR, { recursive: true });
  figures.loadAverage = loadavg();
  try {
    const sim = await startProcess('dist/src/simulator/main.js', ['--port', '0', '--accept-any-token', '--chunks', String(opts.chunks.length), '--text', text], {});
    children.push(sim.child);
    const simPid = sim.child.pid!;
    const env = {
      KIRO_CLIENT_API_KEY: GATEWAY_KEY,
      KIRO_UPSTREAM_API_BASE_URL: sim.url,
      KIRO_UPSTREAM_SOCIAL_REFRESH_URL: `${sim.url}/refreshToken`,
      KIRO_UPSTREAM_IDC_REFRESH_URL: `${sim.url}/token`,
      KIRO_LOG_LEVEL: 'warn',
      KIRO_LOG_PRETTY: 'false',
      // ListAvailableModels off: the simulator's lists would otherwise be fetched in the background.
      KIRO_MODELS_LIST_REFRESH_INTERVAL_MS: '0',
    };
    let n = 0;
    const gateway = async (label: string, profileName: string, root?: string): Promise<Target & { child: ChildProcess }> => {
      const credentials = join(dir, `credentials-${n++}.json`);
      writeFileSync(credentials, JSON.stringify([{ refreshToken: 'b'.repeat(120), authMethod: 'social' }]));
      const nodeArgs = opts.profile ? ['--cpu-prof', '--cpu-prof-dir', PROFILES_DIR, '--cpu-prof-name', `gateway-${profileName}-${Date.now()}.cpuprofile`] : [];
      // Node/V8 flags for the build under test only (e.g. against the same build as baseline).
      if (!root) nodeArgs.push(...opts.nodeArgs);
      const gw = await startGateway(credentials, env, { root, nodeArgs });
      children.push(gw.child);
      gateways.push(gw.child);
      return { label, url: gw.url, path: '/v1/messages', headers: {}, body: '', pid: gw.child.pid!, child: gw.child };
    };
    const warmUpMs = Math.min(2_000, opts.durationMs / 2);
    const targetsWithBaseline = async (workload: string): Promise<Target[]> => {
      const list: Target[] = [await gateway('gateway', workload)];
      if (opts.baselineRoot) list.push(await gateway('gateway, baseline build', `${workload}-baseline`, opts.baselineRoot));
      return list;
    };

    const proxy = await startProcess('dist/bench/passthrough.js', ['--upstream', sim.url], {});
    children.push(proxy.child);

    // --- small request vs the pass-through floor ---
    if (opts.workloads.includes('small')) {
      const anthropic = { model: 'claude-sonnet-4-5-20250929', max_tokens: 1024, stream: true, messages: [{ role: 'user' as const, content: 'hi' }] };
      const floor: Target = {
        label: 'pass-through',
        url: proxy.url,
        path: '/',
        headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
        body: kiroBodyOf(anthropic),
        pid: proxy.child.pid!,
      };
      const gws = (await targetsWithBaseline('small')).map((t) => ({
        ...t,
        headers: { 'content-type': 'application/json', 'x-api-key': GATEWAY_KEY },
        body: JSON.stringify(anthropic),
      }));
      const targets = [floor, ...gws];
      for (const t of targets) await load(t.url, t.path, t.headers, t.body, opts.concurrency, opts.verify, warmUpMs); // token refresh, JIT
      const measured = await alternate(targets, opts.rounds, opts.concurrency, opts.durationMs, opts.verify);
      measured.forEach((m, i) => figures.rows.push(row('small', opts.concurrency, targets[i]!.label, m)));
      figures.smallCpuRatio = measured[1]!.cpuUs / measured[0]!.cpuUs;
      if (opts.baselineRoot) (figures.baselineCpuRatios ??= {})[`small@${opts.concurrency}`] = measured[1]!.cpuUs / measured[2]!.cpuUs;
      // 200 streams open at once: the gateway's RSS under that load (target ≤ 100 MB).
      const wide = await alternate(targets, opts.rounds, OPEN_STREAMS, opts.durationMs, opts.verify);
      wide.forEach((m, i) => figures.rows.push(row('small', OPEN_STREAMS, targets[i]!.label, m)));
      figures.rssWith200StreamsMiB = wide[1]!.peakRssMiB;
      figures.rssWith200StreamsFileMiB = wide[1]!.peakRssFileMiB;
      if (opts.baselineRoot) (figures.baselineCpuRatios ??= {})[`small@${OPEN_STREAMS}`] = wide[1]!.cpuUs / wide[2]!.cpuUs;
    }

    // --- the Claude Code request vs the simulator served directly ---
    if (opts.workloads.includes('claude-code')) {
      const cc = claudeCodeRequest();
      const direct: Target = {
        label: 'simulator direct',
        url: sim.url,
        path: '/generateAssistantResponse',
        headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
        body: kiroBodyOf(cc.body),
        pid: simPid,
      };
      // The same Kiro body through the pass-through: what any proxy's extra hop costs here.
      const hop: Target = { ...direct, label: 'pass-through', url: proxy.url, path: '/', pid: proxy.child.pid! };
      const gws = (await targetsWithBaseline('claude-code')).map((t) => ({
        ...t,
        path: '/v1/messages?beta=true',
        headers: { ...cc.headers, 'x-api-key': GATEWAY_KEY },
        body: JSON.stringify(cc.body),
      }));
      const targets = [direct, hop, ...gws];
      for (const t of targets) await load(t.url, t.path, t.headers, t.body, 10, opts.verify, warmUpMs);
      for (const streams of [1, 10]) {
        const measured = await alternate(targets, opts.rounds, streams, opts.durationMs, opts.verify);
        measured.forEach((m, i) => figures.rows.push(row('claude-code', streams, targets[i]!.label, m)));
        if (streams === 1) {
          figures.claudeCodeAddedTtfbP50 = measured[2]!.result.p50 - measured[0]!.result.p50;
          figures.passThroughAddedTtfbP50 = measured[1]!.result.p50 - measured[0]!.result.p50;
        }
        if (opts.baselineRoot) (figures.baselineCpuRatios ??= {})[`claude-code@${streams}`] = measured[2]!.cpuUs / measured[3]!.cpuUs;
      }
    }
  } finally {
    // Profiles are written when a gateway exits on its own (SIGTERM drains, then exits).
    await Promise.all(
      gateways.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill(opts.profile ? 'SIGTERM' : 'SIGKILL');
          }),
      ),
    );
    for (const child of children) child.kill('SIGKILL');
  }
  return { figures, lines: hotPathLines(figures, opts) };
}

function hotPathLines(f: HotPathFigures, opts: HotPathOptions): string[] {
  const lines = [
    `### Hot path: CPU per request against floors (load average ${f.loadAverage.map((l) => l.toFixed(1)).join(' / ')} at start; runs alternated A-B-…-B-A)`,
    '',
    '| workload | streams | served by | req/s | TTFB p50/p99 ms | CPU µs/req | of which kernel | peak RSS MiB | of which file-backed | errors | out of order |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of f.rows) {
    const asResult = { p50: r.ttfbP50, p99: r.ttfbP99 } as Result;
    lines.push(`| ${r.workload} | ${r.streams} | ${r.target} | ${r.rps.toFixed(0)} | ${fmt(asResult)} | ${r.cpuUsPerRequest.toFixed(0)} | ${r.systemUsPerRequest.toFixed(0)} | ${r.peakRssMiB.toFixed(0)} | ${r.peakRssFileMiB.toFixed(0)} | ${r.errors} | ${r.outOfOrder} |`);
  }
  lines.push('');
  if (f.smallCpuRatio !== undefined) lines.push(`Small request at ${opts.concurrency} streams: gateway CPU per request ${f.smallCpuRatio.toFixed(2)}× the pass-through's (target ≤ 1.5×).`);
  if (f.rssWith200StreamsMiB !== undefined) lines.push(`Gateway RSS with ${OPEN_STREAMS} streams open: ${f.rssWith200StreamsMiB.toFixed(0)} MiB at most (target ≤ 100 MB), of which ${(f.rssWith200StreamsFileMiB ?? NaN).toFixed(0)} MiB file-backed (the node binary's and libraries' pages).`);
  if (f.claudeCodeAddedTtfbP50 !== undefined) {
    lines.push(
      `Claude Code request at 1 stream: time to first content delta ${f.claudeCodeAddedTtfbP50.toFixed(2)} ms above the simulator's own first byte (target ≤ 1 ms); ` +
        `the pass-through's first byte ${(f.passThroughAddedTtfbP50 ?? NaN).toFixed(2)} ms above it.`,
    );
  }
  for (const [k, v] of Object.entries(f.baselineCpuRatios ?? {})) lines.push(`${k}: gateway CPU per request ${v.toFixed(2)}× the baseline build's (${opts.baselineRoot}).`);
  return lines;
}
