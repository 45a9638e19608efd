/**
 * HTTP metrics, fed by metrics-middleware.ts: requests by route template, method and status, their
 * duration, and responses whose client left early.
 */
import type { FastCounter, FastHistogram, CounterCell, HistogramCell } from './metric-primitives.js';
import { LABEL_CACHE_LIMIT, type MetricFactory } from './metric-factory.js';
import { HTTP_METHODS } from './metric-labels.js';

/** Seconds; streams may last minutes (upstream timeout 720 s). */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 720];

export class HttpMetrics {
  private readonly requests: FastCounter;
  private readonly duration: FastHistogram;
  private readonly cells = new Map<string, { count: CounterCell; duration: HistogramCell }>();
  private readonly clientDisconnects: CounterCell;

  constructor(f: MetricFactory) {
    this.requests = f.counter('http_requests_total', 'HTTP requests served, by route template, method and status.');
    this.duration = f.histogram(
      'http_request_duration_seconds',
      'Time from request start to the end of the response (whole stream for SSE).',
      BUCKETS,
    );
    this.clientDisconnects = f.counter(
      'client_disconnects_total',
      'Responses whose client closed the connection before the response was complete.',
    ).cell();
  }

  record(route: string, method: string, status: number, seconds: number): void {
    const m = (HTTP_METHODS as readonly string[]).includes(method) ? method : 'OTHER';
    const s = Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : 'other';
    const key = `${route} ${m} ${s}`;
    let cells = this.cells.get(key);
    if (!cells) {
      const labels = { route, method: m, status: s };
      cells = { count: this.requests.cell(labels), duration: this.duration.cell(labels) };
      if (this.cells.size < LABEL_CACHE_LIMIT) this.cells.set(key, cells);
    }
    cells.count.value++;
    cells.duration.observe(seconds);
  }

  recordClientDisconnect(): void {
    this.clientDisconnects.value++;
  }
}
