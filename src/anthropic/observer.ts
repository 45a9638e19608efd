import type { Context } from 'koa';

/** The converter facts an observer records at the end of a stream. */
export interface StreamOutcome {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly stopReason: string | null;
}

/** Per-request hooks of the messages pipeline: metrics, traces and the request log line hang here. */
export interface RequestObservation {
  upstreamReady(credentialId: number): void;
  firstByte(): void;
  frame(bytes: number): void;
  frameError(err: Error): void;
  sseEvents(count: number): void;
  finished(outcome: StreamOutcome, failure?: { type: string; message: string }): void;
}

/** Creates one observation per messages request. */
export interface RequestObserver {
  begin(ctx: Context, model: string): RequestObservation;
}

const NOOP_OBSERVATION: RequestObservation = {
  upstreamReady() {},
  firstByte() {},
  frame() {},
  frameError() {},
  sseEvents() {},
  finished() {},
};

/** Records only the log fields; used when metrics and tracing are off. */
export const logFieldsObserver: RequestObserver = {
  begin(ctx, model) {
    const fields: Record<string, unknown> = (ctx.state.logFields ??= {});
    fields.model = model;
    return {
      ...NOOP_OBSERVATION,
      upstreamReady(credentialId) {
        fields.credentialId = credentialId;
      },
      finished(outcome, failure) {
        fields.inputTokens = outcome.inputTokens;
        fields.outputTokens = outcome.outputTokens;
        fields.stopReason = outcome.stopReason;
        if (failure) fields.streamError = failure.message;
      },
    };
  },
};
