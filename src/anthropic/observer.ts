import type { Exchange } from '../http/exchange.js';
import type { StreamEvent } from './types.js';
import type { PoolEvent } from '../credentials/pool.js';

/** The converter facts an observer records at the end of a stream. */
export interface StreamOutcome {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly stopReason: string | null;
  /** Kiro credits metered for the request (sum of meteringEvents). */
  readonly credits?: number;
}

/** Per-request hooks of the messages pipeline: metrics, traces and the request log line hang here. */
export interface RequestObservation {
  /** Request-scoped pool events (a wait for a token refresh). */
  poolEvent(e: PoolEvent): void;
  /** Wraps one upstream attempt (for its span). */
  attempt<T>(credentialId: number, call: () => Promise<T>): Promise<T>;
  upstreamReady(credentialId: number, attempts: number): void;
  firstByte(): void;
  frame(bytes: number): void;
  frameError(err: Error): void;
  /** A dropped frame of a type the gateway does not know (its type only: the payload may be user text). */
  unknownEvent(eventType: string): void;
  sseEvents(events: readonly StreamEvent[]): void;
  /** The client read nothing with its socket full for too long and was cut off. */
  clientStalled(): void;
  finished(outcome: StreamOutcome, failure?: { type: string; message: string }): void;
  /** Always called once when the request is over, whatever happened. */
  end(error?: unknown): void;
}

/** Creates one observation per messages request. */
export interface RequestObserver {
  begin(exchange: Pick<Exchange, 'logFields' | 'span' | 'log'>, model: string): RequestObservation;
}
