import { SpanKind, type Span } from '@opentelemetry/api';
import type { RequestObserver, RequestObservation, StreamOutcome } from '../anthropic/observer.js';
import type { StreamEvent } from '../anthropic/types.js';
import type { AttemptOutcome, PoolEvent } from '../credentials/pool.js';
import type { GatewayMetrics, OutcomeClass, RefreshOutcome } from './metrics.js';
import type { ObservabilityState, RequestLogFields } from './logger.js';
import { recordPastSpan, SPAN_ATTRS, SPAN_NAMES, startChildSpan, StreamSpan, withChildSpan } from './tracing.js';

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

/** Feeds the pool's process-wide events into the metrics. */
export function recordPoolEvent(metrics: GatewayMetrics, e: PoolEvent): void {
  switch (e.type) {
    case 'attempt': {
      const cls = outcomeClass(e.outcome);
      metrics.recordUpstreamCall(cls, e.durationMs / 1000, e.credentialId);
      if (cls !== 'ok') metrics.recordRetry(cls);
      return;
    }
    case 'failover':
      metrics.recordFailover(e.reason === 'refresh_failed' ? 'auth' : outcomeClass(e.reason));
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
  return {
    begin(ctx, model) {
      const state = ctx.state as ObservabilityState;
      const fields: RequestLogFields = (state.logFields ??= {});
      fields.model = model;
      const parent = state.span;
      const streamMetrics = metrics?.startStream(model);
      let selectSpan: Span | undefined = startChildSpan(SPAN_NAMES.credentialSelect, { [SPAN_ATTRS.model]: model }, parent);
      let streamSpan: StreamSpan | undefined;
      let ended = false;

      const observation: RequestObservation = {
        poolEvent(e) {
          if (e.type === 'refresh_wait') {
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
          return withChildSpan(SPAN_NAMES.upstreamCall, { [SPAN_ATTRS.credentialId]: credentialId }, call, {
            kind: SpanKind.CLIENT,
            parent: selectSpan ?? parent,
          });
        },
        upstreamReady(credentialId, attempts) {
          fields.credentialId = credentialId;
          fields.attempts = attempts;
          selectSpan?.setAttribute(SPAN_ATTRS.credentialId, credentialId);
          selectSpan?.end();
          selectSpan = undefined;
          streamSpan = StreamSpan.start(SPAN_NAMES.stream, { [SPAN_ATTRS.model]: model, [SPAN_ATTRS.credentialId]: credentialId }, parent);
        },
        frame(bytes) {
          metrics?.recordFrame(bytes);
          streamSpan?.firstFrame();
        },
        frameError(err) {
          const code = (err as { code?: string }).code;
          if (code === 'prelude_crc' || code === 'message_crc') metrics?.recordCrcError();
        },
        firstByte() {
          streamMetrics?.firstByte();
          streamSpan?.firstByte();
        },
        sseEvents(events: readonly StreamEvent[]) {
          if (metrics) for (const e of events) metrics.recordSseEvent(e.type);
        },
        finished(outcome: StreamOutcome, failure) {
          fields.inputTokens = outcome.inputTokens;
          fields.outputTokens = outcome.outputTokens;
          fields.stopReason = outcome.stopReason ?? undefined;
          fields.outcome = failure ? 'truncated' : 'ok';
          if (failure) fields.streamError = failure.message;
          metrics?.recordTokens(model, outcome.inputTokens, outcome.outputTokens);
          streamSpan?.end(fields.outcome, {
            [SPAN_ATTRS.inputTokens]: outcome.inputTokens,
            [SPAN_ATTRS.outputTokens]: outcome.outputTokens,
            [SPAN_ATTRS.stopReason]: outcome.stopReason ?? '',
          });
        },
        end(error) {
          if (ended) return;
          ended = true;
          if (selectSpan) {
            if (error) selectSpan.setAttribute('error.type', (error as Error)?.name ?? 'Error');
            selectSpan.end();
          }
          if (!fields.outcome) fields.outcome = error ? 'failed' : 'canceled';
          streamSpan?.end(fields.outcome);
          streamMetrics?.end();
        },
      };
      return observation;
    },
  };
}
