/**
 * What clients got from upstream-backed responses: time to first byte, stream duration, the
 * in-flight gauge the HPA scales on, tokens, SSE events, and streams cut off for not reading.
 */
import { performance } from 'node:perf_hooks';
import type { CounterCell, HistogramCell } from './metric-primitives.js';
import { perValue, type MetricFactory } from './metric-factory.js';
import { MODEL_FAMILIES, SSE_EVENT_TYPES, modelFamily, type ModelFamily } from './metric-labels.js';

/** Seconds; streams may last minutes (upstream timeout 720 s). */
const BUCKETS = {
  firstByte: [0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 60],
  stream: [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 180, 300, 600, 900],
} as const;

/** Per-stream timing handle from {@link ResponseMetrics.startStream}; every method is idempotent. */
export interface StreamMetrics {
  /** The first byte went to the client: observes time to first byte (once). */
  firstByte(): void;
  /** The stream is over, however it ended: leaves the in-flight gauge, observes duration (once). */
  end(): void;
}

export class ResponseMetrics {
  private readonly ttfb: Record<ModelFamily, HistogramCell>;
  private readonly streamDuration: Record<ModelFamily, HistogramCell>;
  private readonly inputTokens: Record<ModelFamily, CounterCell>;
  private readonly outputTokens: Record<ModelFamily, CounterCell>;
  private readonly sseEvents: readonly CounterCell[];
  private readonly sseIndex: Readonly<Record<string, number>>;
  private readonly slowClientCutoffs: CounterCell;
  private inflight = 0;

  constructor(f: MetricFactory) {
    const ttfb = f.histogram(
      'time_to_first_byte_seconds',
      'Time from request start to the first byte sent to the client, by model family.',
      BUCKETS.firstByte,
    );
    this.ttfb = perValue(MODEL_FAMILIES, (model) => ttfb.cell({ model }));
    const streamDuration = f.histogram(
      'stream_duration_seconds',
      'Duration of upstream-backed responses from start to end, by model family.',
      BUCKETS.stream,
    );
    this.streamDuration = perValue(MODEL_FAMILIES, (model) => streamDuration.cell({ model }));
    f.gauge('inflight_streams', 'Upstream-backed responses in progress on this replica (HPA custom metric).', () => this.inflight);

    const inputTokens = f.counter('input_tokens_total', 'Input tokens reported to clients, by model family.');
    this.inputTokens = perValue(MODEL_FAMILIES, (model) => inputTokens.cell({ model }));
    const outputTokens = f.counter('output_tokens_total', 'Output tokens reported to clients, by model family.');
    this.outputTokens = perValue(MODEL_FAMILIES, (model) => outputTokens.cell({ model }));

    const sseEvents = f.counter('sse_events_total', 'SSE events written to clients, by event name.');
    this.sseEvents = SSE_EVENT_TYPES.map((event) => sseEvents.cell({ event }));
    this.sseIndex = Object.freeze(Object.fromEntries(SSE_EVENT_TYPES.map((t, i) => [t, i])) as Record<string, number>);
    this.slowClientCutoffs = f.counter(
      'slow_client_cutoffs_total',
      'Streams cut off because the client read nothing for sse.writeStallTimeoutMs with its socket buffer full.',
    ).cell();
  }

  startStream(model: string, startedAt: number): StreamMetrics {
    const family = modelFamily(model);
    this.inflight++;
    return new StreamTiming(this, this.ttfb[family], this.streamDuration[family], startedAt);
  }

  /** A stream left the in-flight gauge (StreamTiming). */
  streamEnded(): void {
    this.inflight--;
  }

  get inflightStreams(): number {
    return this.inflight;
  }

  recordTokens(model: string, inputTokens: number, outputTokens: number): void {
    const family = modelFamily(model);
    if (inputTokens > 0) this.inputTokens[family].value += inputTokens;
    if (outputTokens > 0) this.outputTokens[family].value += outputTokens;
  }

  recordSseEvent(event: string): void {
    this.sseEvents[this.sseIndex[event] ?? SSE_EVENT_TYPES.length - 1].value++;
  }

  recordSlowClientCutoff(): void {
    this.slowClientCutoffs.value++;
  }
}

/** One stream's {@link StreamMetrics} (a class: one object per request, no closures). */
class StreamTiming implements StreamMetrics {
  private sentFirstByte = false;
  private ended = false;

  constructor(
    private readonly owner: ResponseMetrics,
    private readonly ttfb: HistogramCell,
    private readonly duration: HistogramCell,
    private readonly startedAt: number,
  ) {}

  firstByte(): void {
    if (this.sentFirstByte) return;
    this.sentFirstByte = true;
    this.ttfb.observe((performance.now() - this.startedAt) / 1000);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.owner.streamEnded();
    this.duration.observe((performance.now() - this.startedAt) / 1000);
  }
}
