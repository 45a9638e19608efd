/**
 * The calls to Kiro: outcomes and latency per credential, retries and fail-overs, credits metered,
 * and the event-stream frames decoded (count, bytes, CRC errors).
 */
import type { CounterCell, FastCounter, HistogramCell } from './metric-primitives.js';
import { LABEL_CACHE_LIMIT, perValue, type MetricFactory } from './metric-factory.js';
import { OUTCOME_CLASSES, credentialLabel, knownOutcome, modelFamily, type OutcomeClass } from './metric-labels.js';
import { MAX_UNKNOWN_EVENT_TYPES, OTHER_EVENT_TYPE } from '../kiro/unknown-events.js';

/** Seconds. */
const BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60];

export class UpstreamMetrics {
  private readonly calls: FastCounter;
  private readonly callCells = new Map<string, CounterCell>();
  private readonly credits: FastCounter;
  private readonly creditCells = new Map<string, CounterCell>();
  private readonly duration: Record<OutcomeClass, HistogramCell>;
  private readonly retries: Record<OutcomeClass, CounterCell>;
  private readonly failovers: Record<OutcomeClass, CounterCell>;
  private readonly frames: CounterCell;
  private readonly frameBytes: CounterCell;
  private readonly crcErrors: CounterCell;
  private readonly unknownEvents: FastCounter;
  private readonly unknownEventCells = new Map<string, CounterCell>();

  constructor(f: MetricFactory) {
    this.credits = f.counter(
      'credits_total',
      'Kiro credits metered by meteringEvents (not tokens), by credential id and model family.',
    );
    this.calls = f.counter('upstream_calls_total', 'Upstream (Kiro) HTTP calls by outcome class and credential id.');
    const duration = f.histogram(
      'upstream_call_duration_seconds',
      'Time from sending an upstream call to its first decoded event frame (or failure), by outcome class.',
      BUCKETS,
    );
    this.duration = perValue(OUTCOME_CLASSES, (outcome) => duration.cell({ outcome }));
    const retries = f.counter(
      'upstream_retries_total',
      'Upstream attempts retried after a transient failure, by the outcome that caused them.',
    );
    this.retries = perValue(OUTCOME_CLASSES, (outcome) => retries.cell({ outcome }));
    const failovers = f.counter(
      'credential_failovers_total',
      'Switches to another credential within a request, by the outcome that caused them.',
    );
    this.failovers = perValue(OUTCOME_CLASSES, (outcome) => failovers.cell({ outcome }));

    this.frames = f.counter('eventstream_frames_total', 'AWS event-stream frames decoded from upstream responses.').cell();
    this.frameBytes = f.counter(
      'eventstream_bytes_total',
      'Bytes of AWS event-stream frames decoded from upstream responses.',
    ).cell();
    this.crcErrors = f.counter(
      'eventstream_crc_errors_total',
      'Event-stream frames rejected for a bad prelude or message CRC.',
    ).cell();
    this.unknownEvents = f.counter(
      'upstream_unknown_events_total',
      `Upstream event-stream frames of a type the gateway does not know (dropped), by type; at most ${MAX_UNKNOWN_EVENT_TYPES} types, the rest as "${OTHER_EVENT_TYPE}".`,
    );
  }

  recordCredits(credentialId: number, model: string, credits: number): void {
    const family = modelFamily(model);
    const c = credentialLabel(credentialId);
    const key = `${c} ${family}`;
    let cell = this.creditCells.get(key);
    if (!cell) {
      cell = this.credits.cell({ credential: c, model: family });
      if (this.creditCells.size < LABEL_CACHE_LIMIT) this.creditCells.set(key, cell);
    }
    cell.value += credits;
  }

  recordCall(outcome: OutcomeClass, seconds: number, credentialId: number): void {
    const o = knownOutcome(outcome);
    const c = credentialLabel(credentialId);
    const key = `${o} ${c}`;
    let cell = this.callCells.get(key);
    if (!cell) {
      cell = this.calls.cell({ outcome: o, credential: c });
      if (this.callCells.size < LABEL_CACHE_LIMIT) this.callCells.set(key, cell);
    }
    cell.value++;
    this.duration[o].observe(seconds);
  }

  recordRetry(outcome: OutcomeClass): void {
    this.retries[knownOutcome(outcome)].value++;
  }

  recordFailover(outcome: OutcomeClass): void {
    this.failovers[knownOutcome(outcome)].value++;
  }

  recordFrame(bytes: number): void {
    this.frames.value++;
    this.frameBytes.value += bytes;
  }

  recordCrcError(): void {
    this.crcErrors.value++;
  }

  /**
   * Counts one dropped frame of an unknown type. `eventType` should already be a bounded name
   * (UnknownEventTypes); past the cap of distinct series it is counted as `other` regardless.
   */
  recordUnknownEvent(eventType: string): void {
    let cell = this.unknownEventCells.get(eventType);
    if (!cell) {
      const label = this.unknownEventCells.size < MAX_UNKNOWN_EVENT_TYPES ? eventType : OTHER_EVENT_TYPE;
      cell = this.unknownEventCells.get(label) ?? this.unknownEvents.cell({ event_type: label });
      this.unknownEventCells.set(label, cell);
    }
    cell.value++;
  }
}
