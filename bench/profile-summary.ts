/**
 * Reads a V8 CPU profile (`node --cpu-prof` writes one per process at exit) and prints where the
 * time went: by module (a package of node_modules, a file of dist/, node's internals, the garbage
 * collector), by function's own time (self), and by function with everything it called (total).
 *
 *   node dist/bench/profile-summary.js bench/results/profiles/<file>.cpuprofile [--top 30] [--match convert/]
 *
 * `--match` keeps only functions whose file contains the text (e.g. `convert/`, `undici`).
 * Percentages are of the time the process was busy: `(idle)`, the time it waited, is left out
 * (its share is printed once), and so are the first `--skip-ms` (default 0) of the profile, e.g.
 * start-up and warm-up.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `koa`, `@koa/router`, `src/anthropic/messages.js`, `node:internal/…`, or V8's pseudo-frames. */
export function moduleOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const dist = /\/dist\/(.+)$/.exec(url);
  if (dist) return dist[1]!;
  if (url.startsWith('node:')) return url.replace(/^node:internal\/(?:deps\/)?/, 'node:');
  return url;
}

function frameKey(f: CallFrame): string {
  const where = f.url ? `${moduleOf(f.url, f.functionName)}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
}

export interface ProfileSummary {
  totalMs: number;
  byModule: Array<[string, number]>;
  bySelf: Array<[string, number]>;
  byTotal: Array<[string, number]>;
}

export function summariseProfile(profile: CpuProfile, match?: string, skipMs = 0): ProfileSummary & { idleMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  let elapsedUs = 0;
  let idleUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const delta = profile.timeDeltas[i] ?? 0;
    elapsedUs += delta;
    if (elapsedUs < skipMs * 1000) continue;
    if (byId.get(id)!.callFrame.functionName === '(idle)') {
      idleUs += delta;
      continue;
    }
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  const modules = new Map<string, number>();
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    totalUs += us;
    const frame = byId.get(id)!.callFrame;
    add(modules, moduleOf(frame.url, frame.functionName), us);
    if (!match || frame.url.includes(match)) add(self, frameKey(frame), us);
    // Each function on the stack once, however often it recurses.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      if (match && !f.url.includes(match)) continue;
      const key = frameKey(f);
      if (seen.has(key)) continue;
      seen.add(key);
      add(total, key, us);
    }
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / 1000] as [string, number]);
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, byModule: sorted(modules), bySelf: sorted(self), byTotal: sorted(total).filter(([k]) => k !== '(root)') };
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string' }, match: { type: 'string' }, 'skip-ms': { type: 'string' } },
  });
  const top = Number(values.top ?? 30);
  for (const file of positionals) {
    const s = summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, values.match, Number(values['skip-ms'] ?? 0));
    const pct = (ms: number) => `${((100 * ms) / s.totalMs).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(6)} ms`;
    console.log(`\n${file}: ${s.totalMs.toFixed(0)} ms busy (and ${s.idleMs.toFixed(0)} ms idle, not counted)`);
    for (const [title, rows] of [
      ['by module (self time)', s.byModule],
      ['by function, self time', s.bySelf],
      ['by function, total time (itself + callees)', s.byTotal],
    ] as const) {
      console.log(`\n  ${title}`);
      for (const [k, ms] of rows.slice(0, top)) console.log(`  ${pct(ms)}  ${k}`);
    }
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) main();
