/**
 * Cell-based counter and histogram types registered on a prom-client `Registry`. Recording is a few
 * arithmetic operations on a pre-created series (a "cell"), cheap enough for one call per upstream
 * frame or SSE event; the exposition is only built at scrape time.
 */
import type { Metric, Registry } from 'prom-client';

/** Label values of one series, keyed by label name. */
export type Labels = Readonly<Record<string, string>>;

/** One counter series. Recording is `cell.value += n`: no hashing, no allocation. */
export class CounterCell {
  value = 0;
  constructor(readonly labels: Labels) {}
}

/** One histogram series: per-bucket counts (non-cumulative until exported), sum and count. */
export class HistogramCell {
  sum = 0;
  count = 0;
  readonly buckets: Float64Array;
  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.buckets = new Float64Array(bounds.length);
  }

  /** Adds one observation; above the last bound it only lands in `+Inf` (= count). */
  observe(value: number): void {
    this.sum += value;
    this.count++;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        this.buckets[i]++;
        return;
      }
    }
  }
}

/**
 * Counters and histograms the recording side touches directly. prom-client's own `inc()` /
 * `observe()` hash the label object and turn float bucket bounds into property keys on every
 * call (about 1 µs per histogram observation); these keep one object per series, found once,
 * and only build the exposition at scrape time. They register on a prom-client `Registry` like
 * any metric (`get()`, `reset()`, `aggregator`), so exposition, JSON and cluster aggregation
 * work unchanged.
 */
export abstract class CellMetric<C extends CounterCell | HistogramCell> {
  readonly aggregator = 'sum' as const;
  protected readonly cells = new Map<string, C>();

  constructor(
    readonly name: string,
    readonly help: string,
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series for `labels`, created on first use (keep the result; lookups build a key). */
  cell(labels: Labels = {}): C {
    const key = Object.values(labels).join('\u0000');
    let cell = this.cells.get(key);
    if (!cell) {
      cell = this.create(labels);
      this.cells.set(key, cell);
    }
    return cell;
  }

  protected abstract create(labels: Labels): C;
}

/** A counter of {@link CounterCell} series; registers itself on the registry it is given. */
export class FastCounter extends CellMetric<CounterCell> {
  readonly type = 'counter' as const;

  protected create(labels: Labels): CounterCell {
    return new CounterCell(labels);
  }

  /** prom-client metric interface: the current values. */
  async get(): Promise<{ name: string; help: string; type: 'counter'; aggregator: 'sum'; values: { labels: Labels; value: number }[] }> {
    const values = [...this.cells.values()].map((c) => ({ labels: c.labels, value: c.value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** prom-client metric interface (`registry.resetMetrics()`). */
  reset(): void {
    for (const c of this.cells.values()) c.value = 0;
  }
}

/** A histogram of {@link HistogramCell} series with fixed bucket bounds; registers itself on the registry. */
export class FastHistogram extends CellMetric<HistogramCell> {
  readonly type = 'histogram' as const;
  private readonly leLabels: readonly string[];

  constructor(name: string, help: string, registry: Registry, private readonly bounds: readonly number[]) {
    super(name, help, registry);
    this.leLabels = bounds.map(String);
  }

  protected create(labels: Labels): HistogramCell {
    return new HistogramCell(labels, this.bounds);
  }

  /** prom-client metric interface: `_bucket` (cumulative, with `le`), `_sum` and `_count` samples. */
  async get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: { labels: Labels; value: number; metricName: string }[];
  }> {
    const bucketName = `${this.name}_bucket`;
    const values: { labels: Labels; value: number; metricName: string }[] = [];
    for (const c of this.cells.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += c.buckets[i];
        values.push({ labels: { ...c.labels, le: this.leLabels[i] }, value: cumulative, metricName: bucketName });
      }
      values.push({ labels: { ...c.labels, le: '+Inf' }, value: c.count, metricName: bucketName });
      values.push({ labels: c.labels, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: c.labels, value: c.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** prom-client metric interface (`registry.resetMetrics()`). */
  reset(): void {
    for (const c of this.cells.values()) {
      c.sum = 0;
      c.count = 0;
      c.buckets.fill(0);
    }
  }
}
