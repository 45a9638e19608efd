/**
 * A line chart drawn as SVG (no library, no external assets): one line per series over evenly spaced
 * buckets, a y axis with round ticks, a few time labels, and a legend with each series' total. Every
 * point has a tooltip (`<title>`).
 */
import { number } from './format';

export interface ChartSeries {
  id: string;
  name: string;
  values: number[];
}

const WIDTH = 1200;
const HEIGHT = 300;
const MARGIN = { left: 64, right: 24, top: 14, bottom: 30 };
const COLORS = ['#2457c5', '#d9480f', '#2b8a3e', '#ae3ec9', '#0b7285', '#e8590c', '#5f3dc4', '#c92a2a', '#5c940d', '#495057'];

/** Round y-axis ticks from 0 to at least `max`: about four steps of 1, 2 or 5 × 10^n. */
function yTicks(max: number): number[] {
  if (max <= 0) return [0, 1];
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough)!;
  const ticks: number[] = [];
  for (let t = 0; t < max + step; t += step) ticks.push(t);
  return ticks;
}

export function seriesColor(index: number): string {
  return COLORS[index % COLORS.length]!;
}

export function UsageChart({
  buckets,
  series,
  label,
  granularity,
  testId,
}: {
  /** Bucket starts (epoch ms), oldest first. */
  buckets: number[];
  series: ChartSeries[];
  /** What the y axis counts. */
  label: string;
  granularity: 'hour' | 'day';
  testId: string;
}) {
  const innerW = WIDTH - MARGIN.left - MARGIN.right;
  const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const ticks = yTicks(Math.max(0, ...series.flatMap((s) => s.values)));
  const top = ticks.at(-1)!;
  const x = (i: number) => MARGIN.left + (buckets.length <= 1 ? innerW / 2 : (i * innerW) / (buckets.length - 1));
  const y = (v: number) => MARGIN.top + innerH - (v / top) * innerH;
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 8));
  const timeText = (ms: number) => {
    const iso = new Date(ms).toISOString();
    return granularity === 'hour' ? `${iso.slice(5, 10)} ${iso.slice(11, 13)}:00` : iso.slice(0, 10);
  };

  if (series.length === 0) {
    return (
      <p className="muted" data-testid={`${testId}-empty`}>
        No usage in this period.
      </p>
    );
  }
  return (
    <figure className="chart" data-testid={testId}>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`${label} per ${granularity}`}>
        {ticks.map((t) => (
          <g key={t}>
            <line x1={MARGIN.left} x2={WIDTH - MARGIN.right} y1={y(t)} y2={y(t)} className="grid" />
            <text x={MARGIN.left - 6} y={y(t) + 4} textAnchor="end" className="tick">
              {number(t, 2)}
            </text>
          </g>
        ))}
        {buckets.map((b, i) =>
          i % labelEvery === 0 ? (
            <text key={b} x={x(i)} y={HEIGHT - 8} textAnchor={i === 0 ? 'start' : 'middle'} className="tick">
              {timeText(b)}
            </text>
          ) : null,
        )}
        {series.map((s, si) => (
          <g key={s.id} data-testid={`${testId}-series-${s.id}`}>
            <polyline
              fill="none"
              stroke={seriesColor(si)}
              strokeWidth={2}
              points={s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}
            />
            {s.values.map((v, i) =>
              v > 0 ? (
                <circle key={i} cx={x(i)} cy={y(v)} r={3} fill={seriesColor(si)}>
                  <title>{`${s.name} · ${timeText(buckets[i]!)} UTC: ${number(v, 4)} ${label}`}</title>
                </circle>
              ) : null,
            )}
          </g>
        ))}
      </svg>
      <figcaption className="legend">
        {series.map((s, si) => (
          <span key={s.id} className="legend-item" data-testid={`${testId}-legend-${s.id}`}>
            <span className="swatch" style={{ background: seriesColor(si) }} />
            {s.name} <span className="muted">{number(s.values.reduce((a, v) => a + v, 0), 4)}</span>
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
