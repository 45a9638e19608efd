/**
 * Stacked line charts sharing one time axis, as a standalone SVG (readable in any browser or on
 * GitHub), and a PNG rendering of it through Chromium (playwright-core with the system browser).
 */
import { writeFileSync } from 'node:fs';

export interface Series {
  label: string;
  color: string;
  points: Array<[number, number]>;
  /** Draw as steps (a count that changes at instants, e.g. replicas). */
  step?: boolean;
}

export interface Panel {
  title: string;
  unit?: string;
  series: Series[];
  /** Horizontal reference line (e.g. the HPA target). */
  reference?: { value: number; label: string };
}

const WIDTH = 1000;
const PANEL_HEIGHT = 150;
const MARGIN = { left: 70, right: 180, top: 40, gap: 40, bottom: 40 };

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Renders `panels` over x in [0, xMax] (seconds). */
export function renderTimeseriesSvg(title: string, panels: Panel[], xLabel = 'time (s)'): string {
  const xMax = Math.max(1, ...panels.flatMap((p) => p.series.flatMap((s) => s.points.map(([x]) => x))));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const height = MARGIN.top + panels.length * (PANEL_HEIGHT + MARGIN.gap) + MARGIN.bottom;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${MARGIN.left}" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((panel, i) => {
    const top = MARGIN.top + i * (PANEL_HEIGHT + MARGIN.gap) + 10;
    const yMax = niceMax(Math.max(panel.reference?.value ?? 0, ...panel.series.flatMap((s) => s.points.map(([, y]) => y))) * 1.05);
    const X = (x: number) => MARGIN.left + (x / xMax) * plotW;
    const Y = (y: number) => top + PANEL_HEIGHT - (y / yMax) * PANEL_HEIGHT;
    out.push(`<text x="${MARGIN.left}" y="${top - 6}" font-weight="bold">${esc(panel.title)}${panel.unit ? ` (${esc(panel.unit)})` : ''}</text>`);
    out.push(`<rect x="${MARGIN.left}" y="${top}" width="${plotW}" height="${PANEL_HEIGHT}" fill="none" stroke="#999"/>`);
    for (let k = 0; k <= 4; k++) {
      const v = (yMax * k) / 4;
      out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eee"/>`);
      out.push(`<text x="${MARGIN.left - 6}" y="${Y(v) + 4}" text-anchor="end" fill="#555">${Number.isInteger(v) ? v : v.toFixed(1)}</text>`);
    }
    const xStep = niceMax(xMax / 10);
    for (let x = 0; x <= xMax; x += xStep) {
      out.push(`<line x1="${X(x)}" x2="${X(x)}" y1="${top}" y2="${top + PANEL_HEIGHT}" stroke="#f3f3f3"/>`);
      if (i === panels.length - 1) out.push(`<text x="${X(x)}" y="${top + PANEL_HEIGHT + 16}" text-anchor="middle" fill="#555">${x}</text>`);
    }
    if (panel.reference) {
      out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${Y(panel.reference.value)}" y2="${Y(panel.reference.value)}" stroke="#c00" stroke-dasharray="6 4"/>`);
      out.push(`<text x="${MARGIN.left + plotW - 4}" y="${Y(panel.reference.value) - 4}" text-anchor="end" fill="#c00">${esc(panel.reference.label)}</text>`);
    }
    panel.series.forEach((s, j) => {
      const pts = [...s.points].sort((a, b) => a[0] - b[0]);
      let d = '';
      pts.forEach(([x, y], k) => {
        if (k === 0) d += `M${X(x).toFixed(1)},${Y(y).toFixed(1)}`;
        else if (s.step) d += `H${X(x).toFixed(1)}V${Y(y).toFixed(1)}`;
        else d += `L${X(x).toFixed(1)},${Y(y).toFixed(1)}`;
      });
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
      const ly = top + 14 + j * 18;
      out.push(`<line x1="${WIDTH - MARGIN.right + 12}" x2="${WIDTH - MARGIN.right + 32}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="3"/>`);
      out.push(`<text x="${WIDTH - MARGIN.right + 38}" y="${ly}">${esc(s.label)}</text>`);
    });
  });
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${height - 8}" text-anchor="middle" fill="#555">${esc(xLabel)}</text>`);
  out.push('</svg>');
  return out.join('\n');
}

/** Writes `svg` to `svgPath` and a PNG of it to `pngPath` (Chromium at `chromiumPath`). */
export async function writeSvgAndPng(svg: string, svgPath: string, pngPath: string, chromiumPath: string): Promise<void> {
  writeFileSync(svgPath, svg);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  try {
    const size = /width="(\d+)" height="(\d+)"/.exec(svg)!;
    const page = await browser.newPage({ viewport: { width: Number(size[1]), height: Number(size[2]) } });
    await page.setContent(`<html><body style="margin:0">${svg}</body></html>`);
    await page.screenshot({ path: pngPath, fullPage: true });
  } finally {
    await browser.close();
  }
}
