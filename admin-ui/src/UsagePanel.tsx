/**
 * Usage over time per client key or per credential: requests, tokens, credits, errors or rate-limited
 * requests, hourly over the last 24 hours or daily over 30 days, drawn as a chart, and the same data
 * as a CSV download.
 */
import { useCallback, useMemo, useState } from 'react';
import { AdminApiError, type AdminApi, type UsageQuery, type UsageResponse, type UsageRowBody } from './api';
import { UsageChart, type ChartSeries } from './UsageChart';
import { usePolling } from './usePolling';

const REFRESH_MS = 10_000;
/** Series drawn one by one; the rest are summed into "others". */
const MAX_SERIES = 8;

const METRICS = {
  requests: { label: 'requests', value: (r: UsageRowBody) => r.requests },
  tokens: { label: 'tokens (input + output)', value: (r: UsageRowBody) => r.inputTokens + r.outputTokens },
  inputTokens: { label: 'input tokens', value: (r: UsageRowBody) => r.inputTokens },
  outputTokens: { label: 'output tokens', value: (r: UsageRowBody) => r.outputTokens },
  credits: { label: 'Kiro credits', value: (r: UsageRowBody) => r.credits },
  errors: { label: 'errors', value: (r: UsageRowBody) => r.errors },
  rateLimited: { label: 'rate-limited requests', value: (r: UsageRowBody) => r.rateLimited },
} as const;
type Metric = keyof typeof METRICS;

const HOUR = 3_600_000;

/** Every bucket start from `from` to `to` (UTC), so hours without usage are drawn at 0. */
function bucketStarts(usage: UsageResponse): number[] {
  const size = usage.granularity === 'hour' ? HOUR : 24 * HOUR;
  const from = Math.floor(Date.parse(usage.from) / size) * size;
  const to = Date.parse(usage.to);
  const out: number[] = [];
  for (let t = from; t <= to; t += size) out.push(t);
  return out;
}

function seriesOf(usage: UsageResponse, metric: Metric): { buckets: number[]; series: ChartSeries[] } {
  const buckets = bucketStarts(usage);
  const index = new Map(buckets.map((b, i) => [b, i]));
  const byId = new Map<string, ChartSeries>();
  for (const row of usage.rows) {
    const at = index.get(Date.parse(row.start));
    if (at === undefined) continue;
    let s = byId.get(row.id);
    if (!s) {
      const name = row.subject === 'credential' ? `#${row.id}${row.name ? ` ${row.name}` : ''}` : (row.name ?? row.id);
      byId.set(row.id, (s = { id: row.id, name, values: buckets.map(() => 0) }));
    }
    s.values[at]! += METRICS[metric].value(row);
  }
  const total = (s: ChartSeries) => s.values.reduce((a, v) => a + v, 0);
  const ranked = [...byId.values()].filter((s) => total(s) > 0).sort((a, b) => total(b) - total(a));
  if (ranked.length <= MAX_SERIES) return { buckets, series: ranked };
  const others: ChartSeries = { id: 'others', name: `${ranked.length - MAX_SERIES + 1} others`, values: buckets.map(() => 0) };
  for (const s of ranked.slice(MAX_SERIES - 1)) s.values.forEach((v, i) => (others.values[i]! += v));
  return { buckets, series: [...ranked.slice(0, MAX_SERIES - 1), others] };
}

export function UsagePanel({ api, onAuthError }: { api: AdminApi; onAuthError: (err: unknown) => boolean }) {
  const [query, setQuery] = useState<UsageQuery>({ granularity: 'hour', subject: 'key' });
  const [metric, setMetric] = useState<Metric>('requests');
  const [usage, setUsage] = useState<UsageResponse>();
  const [error, setError] = useState<string>();
  const [downloading, setDownloading] = useState(false);

  const load = useCallback(async () => {
    try {
      setUsage(await api.usage(query));
      setError(undefined);
    } catch (err) {
      if (!onAuthError(err)) setError(err instanceof AdminApiError ? err.message : String(err));
    }
  }, [api, query, onAuthError]);

  usePolling(load, REFRESH_MS);

  const chart = useMemo(() => (usage && usage.granularity === query.granularity ? seriesOf(usage, metric) : undefined), [usage, metric, query]);

  async function download() {
    setDownloading(true);
    try {
      const blob = await api.usageCsv(query);
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `kiro-gateway-usage-${query.subject}-${query.granularity}.csv`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      if (!onAuthError(err)) setError(err instanceof AdminApiError ? err.message : String(err));
    } finally {
      setDownloading(false);
    }
  }

  return (
    <section className="card" data-testid="usage-panel">
      <div className="section-head">
        <h2>Usage</h2>
        <span className="muted">per {query.subject === 'key' ? 'client key' : 'credential'}, {query.granularity === 'hour' ? 'hourly, last 24 hours' : 'daily, last 30 days'} (UTC)</span>
        <button type="button" onClick={() => void download()} disabled={downloading} data-testid="usage-csv">
          {downloading ? 'Preparing…' : 'Download CSV'}
        </button>
      </div>
      <div className="controls">
        <label>
          By
          <select value={query.subject} onChange={(e) => setQuery({ ...query, subject: e.target.value as UsageQuery['subject'] })} data-testid="usage-subject">
            <option value="key">client key</option>
            <option value="credential">credential</option>
          </select>
        </label>
        <label>
          Period
          <select
            value={query.granularity}
            onChange={(e) => setQuery({ ...query, granularity: e.target.value as UsageQuery['granularity'] })}
            data-testid="usage-granularity"
          >
            <option value="hour">hourly, last 24 hours</option>
            <option value="day">daily, last 30 days</option>
          </select>
        </label>
        <label>
          Show
          <select value={metric} onChange={(e) => setMetric(e.target.value as Metric)} data-testid="usage-metric">
            {Object.entries(METRICS).map(([value, m]) => (
              <option key={value} value={value}>
                {m.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error && (
        <p className="error" data-testid="usage-error">
          {error}
        </p>
      )}
      {chart ? (
        <UsageChart buckets={chart.buckets} series={chart.series} label={METRICS[metric].label} granularity={query.granularity} testId="usage-chart" />
      ) : (
        !error && <p className="muted">Loading…</p>
      )}
    </section>
  );
}
