/**
 * bench/results/: bench.json (every figure), bench.md (the tables printed), bench.svg / bench.png
 * (the headline figures against their targets, one bar panel each).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../test/helpers/replicas.js';
import { writeSvgAndPng } from '../loadtest/stack/timeseries-chart.js';

export const BENCH_RESULTS_DIR = join(ROOT, 'bench', 'results');

export interface BarPanel {
  title: string;
  unit: string;
  bars: Array<{ label: string; value: number; color?: string }>;
  /** A target line with its label (e.g. "≤ 5 ms"). */
  target?: { value: number; label: string };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function renderBarsSvg(title: string, panels: BarPanel[]): string {
  const width = 1000;
  const left = 260;
  const right = 120;
  const barH = 22;
  let y = 50;
  const out: string[] = [];
  for (const p of panels) {
    const max = Math.max(p.target?.value ?? 0, ...p.bars.map((b) => b.value)) * 1.1 || 1;
    const X = (v: number) => left + (v / max) * (width - left - right);
    out.push(`<text x="20" y="${y}" font-weight="bold">${esc(p.title)} (${esc(p.unit)})</text>`);
    y += 10;
    const top = y;
    for (const b of p.bars) {
      out.push(`<text x="${left - 8}" y="${y + 16}" text-anchor="end">${esc(b.label)}</text>`);
      out.push(`<rect x="${left}" y="${y + 3}" width="${Math.max(1, X(b.value) - left)}" height="${barH - 6}" fill="${b.color ?? '#1f77b4'}"/>`);
      out.push(`<text x="${X(b.value) + 6}" y="${y + 16}">${b.value >= 100 ? b.value.toFixed(0) : b.value.toFixed(2)}</text>`);
      y += barH;
    }
    if (p.target) {
      out.push(`<line x1="${X(p.target.value)}" x2="${X(p.target.value)}" y1="${top}" y2="${y}" stroke="#c00" stroke-dasharray="5 3"/>`);
      out.push(`<text x="${X(p.target.value) + 4}" y="${top + 10}" fill="#c00" font-size="11">${esc(p.target.label)}</text>`);
    }
    y += 30;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="20" y="26" font-size="16" font-weight="bold">${esc(title)}</text>`,
    ...out,
    '</svg>',
  ].join('\n');
}

/** Writes bench.json, bench.md and the chart; returns the paths. */
export async function writeBenchResults(opts: {
  figures: unknown;
  markdown: string;
  title: string;
  panels: BarPanel[];
  chromiumPath?: string;
}): Promise<{ json: string; md: string; svg: string; png?: string }> {
  mkdirSync(BENCH_RESULTS_DIR, { recursive: true });
  const json = join(BENCH_RESULTS_DIR, 'bench.json');
  const md = join(BENCH_RESULTS_DIR, 'bench.md');
  const svg = join(BENCH_RESULTS_DIR, 'bench.svg');
  writeFileSync(json, JSON.stringify(opts.figures, null, 2));
  writeFileSync(md, opts.markdown);
  const chart = renderBarsSvg(opts.title, opts.panels);
  if (opts.chromiumPath) {
    const png = join(BENCH_RESULTS_DIR, 'bench.png');
    await writeSvgAndPng(chart, svg, png, opts.chromiumPath);
    return { json, md, svg, png };
  }
  writeFileSync(svg, chart);
  return { json, md, svg };
}
