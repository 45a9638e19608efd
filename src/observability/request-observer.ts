import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import { ATTR_HTTP_RESPONSE_STATUS_CODE } from './otel-attributes.js';
import type { RequestObserver, RequestObservation, StreamOutcome } from '../anthropic/observer.js';
import type { StreamEvent } from '../anthropic/types.js';
import type { AttemptOutcome, PoolEvent } from '../credentials/pool.js';
import type { GatewayMetrics, OutcomeClass, RefreshOutcome, StreamMetrics } from './metrics.js';
import type { RequestLogFields } from './logger.js';
import type { Exchange } from '../http/exchange.js';
import { UnknownEventTypes } from '../kiro/unknown-events.js';
import { recordPastSpan, recordSpanError, SPAN_ATTRS, SPAN_NAMES, spansActive, startChildSpan, StreamSpan, withChildSpan } from './span-helpers.js';

/** Pool attempt outcomes → the metric outcome classes (docs/kiro-protocol.md §9.2). */
export function outcomeClass(outcome: AttemptOutcome): OutcomeClass {
  switch (outcome) {
    case 'success':
      return 'ok';
    case 'quota_exceeded':
      return 'quota';
    case 'suspended':
    case 'token_invalid':
    case 'auth_failure':
      return 'auth';
    case 'rate_limited':
      return 'rate_limited';
    case 'transient':
      return 'server_error';
    case 'network':
      return 'network';
    default:
      return 'bad_request';
  }
}

/**
 * Outcome class of one attempt's upstream answer (a `KiroClient` result), coarse like
 * {@link outcomeClass}: only used to label the retry or failover that follows a failed attempt.
 */
function resultClass(result: unknown): OutcomeClass {
  const r = result as { ok?: boolean; status?: number } | undefined;
  if (r?.ok === true) return 'ok';
  const status = r?.status;
  if (typeof status !== 'number') return 'network';
  if (status === 402) return 'quota';
  if (status === 401 || status === 403) return 'auth';
  if (status === 429) return 'rate_limited';
  if (status === 400) return 'bad_request';
  return 'server_error';
}

/**
 * Feeds the pool's process-wide events into the metrics. Retries and failovers are counted per
 * request by the request observer (it sees which credential each attempt used), not here: the
 * pool's `failover` event also fires when no other credential is tried (429 on the only one).
 */
export function recordPoolEvent(metrics: GatewayMetrics, e: PoolEvent): void {
  switch (e.type) {
    case 'attempt':
      metrics.recordUpstreamCall(outcomeClass(e.outcome), e.durationMs / 1000, e.credentialId);
      return;
    case 'refresh': {
      const outcome: RefreshOutcome =
        e.outcome === 'success'
          ? 'ok'
          : e.outcome === 'skipped'
            ? 'skipped'
            : e.kind === 'invalid_grant'
              ? 'invalid_grant'
              : e.kind === 'network'
                ? 'network'
                : 'rejected';
      metrics.recordRefresh(outcome);
      if (e.lockWaitMs !== undefined) {
        // Waiting noticeably, or finding the work done, means another holder had the lock.
        metrics.observeRefreshLockWait(e.lockWaitMs / 1000, e.outcome === 'skipped' || e.lockWaitMs > 5);
      }
      return;
    }
    default:
      return;
  }
}

/** Metrics + traces + the request log fields of one messages request. */
export function createRequestObserver(metrics: GatewayMetrics | undefined): RequestObserver {
  // Process-wide: each unknown type is logged the first time any request meets it.
  const unknownTypes = new UnknownEventTypes();
  return { begin: (exchange, model) => new MessagesObservation(metrics, unknownTypes, exchange, model) };
}

/** One request's observation (a class: one object per request rather than a dozen closures). */
class MessagesObservation implements RequestObservation {
  private readonly fields: RequestLogFields;
  private readonly parent: Span | undefined;
  private readonly streamMetrics: StreamMetrics | undefined;
  private selectSpan: Span | undefined;
  private streamSpan: StreamSpan | undefined;
  /** The first frame is decoded inside the upstream attempt, before the stream span exists. */
  private sawFrame = false;
  private ended = false;
  /**
   * The previous attempt of this request (or the credential whose refresh failed), and why it did
   * not serve the request: the next attempt is a retry (same credential) or a failover.
   */
  private lastCredential: number | undefined;
  private lastCause: OutcomeClass | undefined;

  constructor(
    private readonly metrics: GatewayMetrics | undefined,
    private readonly unknownTypes: UnknownEventTypes,
    private readonly exchange: Pick<Exchange, 'logFields' | 'span' | 'log'>,
    private readonly model: string,
  ) {
    this.fields = exchange.logFields;
    this.fields.model = model;
    this.parent = exchange.span;
    this.streamMetrics = metrics?.startStream(model);
    this.selectSpan = spansActive() ? startChildSpan(SPAN_NAMES.credentialSelect, { [SPAN_ATTRS.model]: model }, this.parent) : undefined;
  }

  poolEvent(e: PoolEvent): void {
    if (e.type !== 'refresh_wait') return;
    if (e.outcome === 'failure') {
      this.lastCredential = e.credentialId;
      this.lastCause = 'auth';
    }
    recordPastSpan(SPAN_NAMES.tokenRefresh, e.durationMs, { [SPAN_ATTRS.credentialId]: e.credentialId }, this.selectSpan ?? this.parent, e.outcome === 'failure');
  }

  attempt<T>(credentialId: number, call: () => Promise<T>): Promise<T> {
    if (this.lastCredential !== undefined && this.lastCause !== undefined) {
      if (this.lastCredential === credentialId) this.metrics?.recordRetry(this.lastCause);
      else this.metrics?.recordFailover(this.lastCause);
    }
    this.lastCredential = credentialId;
    this.lastCause = 'network'; // unless the call answers
    // Without tracing, no span to wrap the call in.
    if (!spansActive()) return call().then((result) => this.answered(result));
    return withChildSpan(
      SPAN_NAMES.upstreamCall,
      { [SPAN_ATTRS.credentialId]: credentialId },
      async (span) => {
        const result = this.answered(await call());
        const status = (result as { status?: number } | undefined)?.status;
        if (span.isRecording()) {
          if (typeof status === 'number') span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
          else if (this.lastCause === 'ok') span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, 200);
          if (this.lastCause !== 'ok') {
            span.setAttribute(SPAN_ATTRS.outcome, this.lastCause!);
            span.setStatus({ code: SpanStatusCode.ERROR, message: typeof status === 'number' ? `HTTP ${status}` : 'network error' });
          }
        }
        return result;
      },
      { kind: SpanKind.CLIENT, parent: this.selectSpan ?? this.parent },
    );
  }

  /** Notes how an attempt's call answered; returns its result. */
  private answered<T>(result: T): T {
    this.lastCause = resultClass(result);
    return result;
  }

  upstreamReady(credentialId: number, attempts: number): void {
    this.fields.credentialId = credentialId;
    this.fields.attempts = attempts;
    this.selectSpan?.setAttribute(SPAN_ATTRS.credentialId, credentialId);
    this.selectSpan?.end();
    this.selectSpan = undefined;
    this.streamSpan = spansActive()
      ? StreamSpan.start(SPAN_NAMES.stream, { [SPAN_ATTRS.model]: this.model, [SPAN_ATTRS.credentialId]: credentialId }, this.parent)
      : StreamSpan.start();
    if (this.sawFrame) this.streamSpan.firstFrame();
  }

  frame(bytes: number): void {
    this.metrics?.recordFrame(bytes);
    this.sawFrame = true;
    this.streamSpan?.firstFrame();
  }

  frameError(err: Error): void {
    const code = (err as { code?: string }).code;
    if (code === 'prelude_crc' || code === 'message_crc') this.metrics?.recordCrcError();
  }

  unknownEvent(eventType: string): void {
    const { name, first } = this.unknownTypes.note(eventType);
    this.metrics?.recordUnknownEvent(name);
    if (first) this.exchange.log?.warn({ eventType: name }, 'Kiro sent an event type the gateway does not know; dropped (logged once per type)');
  }

  firstByte(): void {
    this.streamMetrics?.firstByte();
    this.streamSpan?.firstByte();
  }

  sseEvents(events: readonly StreamEvent[]): void {
    const metrics = this.metrics;
    if (metrics) for (let i = 0; i < events.length; i++) metrics.recordSseEvent(events[i]!.type);
  }

  clientStalled(): void {
    this.metrics?.recordSlowClientCutoff();
    this.fields.outcome = 'client_stalled';
  }

  finished(outcome: StreamOutcome, failure?: { type: string; message: string }): void {
    const fields = this.fields;
    fields.inputTokens = outcome.inputTokens;
    fields.outputTokens = outcome.outputTokens;
    fields.stopReason = outcome.stopReason ?? undefined;
    fields.outcome = failure ? 'truncated' : 'ok';
    if (failure) fields.streamError = failure.message;
    this.metrics?.recordTokens(this.model, outcome.inputTokens, outcome.outputTokens);
    if (outcome.credits && outcome.credits > 0) {
      fields.credits = outcome.credits;
      if (fields.credentialId !== undefined) this.metrics?.recordCredits(fields.credentialId as number, this.model, outcome.credits);
    }
    this.streamSpan?.end(
      fields.outcome,
      spansActive()
        ? {
            [SPAN_ATTRS.inputTokens]: outcome.inputTokens,
            [SPAN_ATTRS.outputTokens]: outcome.outputTokens,
            [SPAN_ATTRS.stopReason]: outcome.stopReason ?? '',
          }
        : undefined,
    );
  }

  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    const fields = this.fields;
    const errorName = (error as Error | undefined)?.name;
    const canceled = error === undefined || errorName === 'ClientGone';
    const selectSpan = this.selectSpan;
    if (selectSpan) {
      if (error && !canceled) recordSpanError(selectSpan, error);
      else if (error) selectSpan.setAttribute('error.type', (error as Error).name);
      selectSpan.end();
    }
    // Before the stream: the class of the last upstream answer (a 400 stays a client error).
    if (!fields.outcome) {
      const lastCause = this.lastCause;
      fields.outcome = canceled ? 'canceled' : errorName !== 'ShutdownAbort' && lastCause !== undefined && lastCause !== 'ok' ? lastCause : 'failed';
    }
    this.streamSpan?.end(fields.outcome);
    this.streamMetrics?.end();
  }
}
