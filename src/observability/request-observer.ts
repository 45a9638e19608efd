import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import { ATTR_HTTP_RESPONSE_STATUS_CODE } from '@opentelemetry/semantic-conventions';
import type { RequestObserver, RequestObservation, StreamOutcome } from '../anthropic/observer.js';
import type { StreamEvent } from '../anthropic/types.js';
import type { AttemptOutcome, PoolEvent } from '../credentials/pool.js';
import type { GatewayMetrics, OutcomeClass, RefreshOutcome } from './metrics.js';
import type { ObservabilityState, RequestLogFields } from './logger.js';
import { UnknownEventTypes } from '../kiro/unknown-events.js';
import { recordPastSpan, recordSpanError, SPAN_ATTRS, SPAN_NAMES, startChildSpan, StreamSpan, withChildSpan } from './span-helpers.js';

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
  return {
    begin(exchange, model) {
      const fields: RequestLogFields = exchange.logFields;
      fields.model = model;
      const parent = exchange.span;
      const streamMetrics = metrics?.startStream(model);
      let selectSpan: Span | undefined = startChildSpan(SPAN_NAMES.credentialSelect, { [SPAN_ATTRS.model]: model }, parent);
      let streamSpan: StreamSpan | undefined;
      // The first frame is decoded inside the upstream attempt, before the stream span exists.
      let sawFrame = false;
      let ended = false;
      // The previous attempt of this request (or the credential whose refresh failed), and why it
      // did not serve the request: the next attempt is a retry (same credential) or a failover.
      let lastCredential: number | undefined;
      let lastCause: OutcomeClass | undefined;

      const observation: RequestObservation = {
        poolEvent(e) {
          if (e.type === 'refresh_wait') {
            if (e.outcome === 'failure') {
              lastCredential = e.credentialId;
              lastCause = 'auth';
            }
            recordPastSpan(
              SPAN_NAMES.tokenRefresh,
              e.durationMs,
              { [SPAN_ATTRS.credentialId]: e.credentialId },
              selectSpan ?? parent,
              e.outcome === 'failure',
            );
          }
        },
        attempt(credentialId, call) {
          if (lastCredential !== undefined && lastCause !== undefined) {
            if (lastCredential === credentialId) metrics?.recordRetry(lastCause);
            else metrics?.recordFailover(lastCause);
          }
          lastCredential = credentialId;
          lastCause = 'network'; // unless the call answers
          return withChildSpan(
            SPAN_NAMES.upstreamCall,
            { [SPAN_ATTRS.credentialId]: credentialId },
            async (span) => {
              const result = await call();
              lastCause = resultClass(result);
              const status = (result as { status?: number } | undefined)?.status;
              if (span.isRecording()) {
                if (typeof status === 'number') span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
                else if (lastCause === 'ok') span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, 200);
                if (lastCause !== 'ok') {
                  span.setAttribute(SPAN_ATTRS.outcome, lastCause);
                  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof status === 'number' ? `HTTP ${status}` : 'network error' });
                }
              }
              return result;
            },
            { kind: SpanKind.CLIENT, parent: selectSpan ?? parent },
          );
        },
        upstreamReady(credentialId, attempts) {
          fields.credentialId = credentialId;
          fields.attempts = attempts;
          selectSpan?.setAttribute(SPAN_ATTRS.credentialId, credentialId);
          selectSpan?.end();
          selectSpan = undefined;
          streamSpan = StreamSpan.start(SPAN_NAMES.stream, { [SPAN_ATTRS.model]: model, [SPAN_ATTRS.credentialId]: credentialId }, parent);
          if (sawFrame) streamSpan.firstFrame();
        },
        frame(bytes) {
          metrics?.recordFrame(bytes);
          sawFrame = true;
          streamSpan?.firstFrame();
        },
        frameError(err) {
          const code = (err as { code?: string }).code;
          if (code === 'prelude_crc' || code === 'message_crc') metrics?.recordCrcError();
        },
        unknownEvent(eventType) {
          const { name, first } = unknownTypes.note(eventType);
          metrics?.recordUnknownEvent(name);
          if (first) exchange.log?.warn({ eventType: name }, 'Kiro sent an event type the gateway does not know; dropped (logged once per type)');
        },
        firstByte() {
          streamMetrics?.firstByte();
          streamSpan?.firstByte();
        },
        sseEvents(events: readonly StreamEvent[]) {
          if (metrics) for (const e of events) metrics.recordSseEvent(e.type);
        },
        clientStalled() {
          metrics?.recordSlowClientCutoff();
          fields.outcome = 'client_stalled';
        },
        finished(outcome: StreamOutcome, failure) {
          fields.inputTokens = outcome.inputTokens;
          fields.outputTokens = outcome.outputTokens;
          fields.stopReason = outcome.stopReason ?? undefined;
          fields.outcome = failure ? 'truncated' : 'ok';
          if (failure) fields.streamError = failure.message;
          metrics?.recordTokens(model, outcome.inputTokens, outcome.outputTokens);
          if (outcome.credits && outcome.credits > 0) {
            fields.credits = outcome.credits;
            if (fields.credentialId !== undefined) metrics?.recordCredits(fields.credentialId as number, model, outcome.credits);
          }
          streamSpan?.end(fields.outcome, {
            [SPAN_ATTRS.inputTokens]: outcome.inputTokens,
            [SPAN_ATTRS.outputTokens]: outcome.outputTokens,
            [SPAN_ATTRS.stopReason]: outcome.stopReason ?? '',
          });
        },
        end(error) {
          if (ended) return;
          ended = true;
          const errorName = (error as Error | undefined)?.name;
          const canceled = error === undefined || errorName === 'ClientGone';
          if (selectSpan) {
            if (error && !canceled) recordSpanError(selectSpan, error);
            else if (error) selectSpan.setAttribute('error.type', (error as Error).name);
            selectSpan.end();
          }
          // Before the stream: the class of the last upstream answer (a 400 stays a client error).
          if (!fields.outcome) {
            fields.outcome = canceled
              ? 'canceled'
              : errorName !== 'ShutdownAbort' && lastCause !== undefined && lastCause !== 'ok'
                ? lastCause
                : 'failed';
          }
          streamSpan?.end(fields.outcome);
          streamMetrics?.end();
        },
      };
      return observation;
    },
  };
}
