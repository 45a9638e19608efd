/** Admission control: requests admitted (at once or after queueing), shed with 529, queue waits, and slot gauges. */
import type { AdmissionEvent, AdmissionSnapshot } from '../anthropic/admission.js';
import type { CounterCell, HistogramCell } from './metric-primitives.js';
import { perValue, type MetricFactory } from './metric-factory.js';
import { ADMISSION_PATHS, SHED_REASONS } from './metric-labels.js';

/** Seconds. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10];

export class AdmissionMetrics {
  private readonly admitted: Record<(typeof ADMISSION_PATHS)[number], CounterCell>;
  private readonly shed: Record<(typeof SHED_REASONS)[number], CounterCell>;
  private readonly wait: HistogramCell;
  private source: (() => AdmissionSnapshot) | undefined;

  constructor(f: MetricFactory) {
    const admitted = f.counter('admission_admitted_total', 'Upstream-backed requests admitted, at once (immediate) or after waiting (queued).');
    this.admitted = perValue(ADMISSION_PATHS, (path) => admitted.cell({ path }));
    const shed = f.counter(
      'admission_shed_total',
      'Requests refused with 529 by admission control: queue full, or no slot within the queue timeout.',
    );
    this.shed = perValue(SHED_REASONS, (reason) => shed.cell({ reason }));
    this.wait = f.histogram(
      'admission_queue_wait_seconds',
      'Time requests admitted after queueing waited for a slot.',
      BUCKETS,
    ).cell();
    const gauge = (name: string, help: string, read: (s: AdmissionSnapshot) => number) =>
      f.gauge(name, help, () => {
        const snapshot = this.source?.();
        return snapshot ? read(snapshot) : 0;
      });
    gauge('admission_active', 'Upstream-backed requests holding an admission slot on this replica.', (s) => s.active);
    gauge('admission_queued', 'Requests waiting for an admission slot on this replica.', (s) => s.queued);
    gauge('admission_limit', 'Admission limit of this replica (admission.maxConcurrentUpstream; 0 = none).', (s) => s.limit);
  }

  record(e: AdmissionEvent): void {
    if (e.type === 'shed') {
      this.shed[e.reason].value++;
      return;
    }
    this.admitted[e.queued ? 'queued' : 'immediate'].value++;
    if (e.queued) this.wait.observe(e.waitMs / 1000);
  }

  setSource(source: () => AdmissionSnapshot): void {
    this.source = source;
  }
}
