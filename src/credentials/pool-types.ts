/**
 * The credential pool's public types (docs/kiro-protocol.md §9): leases, attempt results and
 * outcomes, the events and logs it reports, and what it is built from. Re-exported by `pool.ts`.
 */
import type { GatewayConfig } from '../config.js';
import type { RefreshErrorKind, TokenRefresher } from './refresh.js';
import type { CredentialStore } from '../store/store.js';
import type { Credential, DisabledReason } from './types.js';
import type { AbortLike } from '../http/request-abort.js';

/** A credential handed to one upstream attempt. Release it when the response is fully consumed. */
export interface Lease {
  /** The credential as stored, with the access token the attempt must use. */
  readonly credential: Credential;
  /** Bearer for the attempt (the API key for API-key credentials). */
  readonly accessToken: string;
  /** 1-based attempt number within the request. */
  readonly attempt: number;
  /** Frees the credential's concurrency slot. Idempotent. */
  release(): void;
}

/** What one upstream attempt produced, in the shape the pool classifies (§9.2). */
export type AttemptResult<T> =
  | { ok: true; value: T }
  | { ok: false; status: number; body: string }
  | { ok: false; networkError: unknown };

/** How an attempt ended, for metrics and logs. */
export type AttemptOutcome =
  | 'success'
  | 'bad_request'
  | 'context_too_long'
  | 'quota_exceeded'
  | 'suspended'
  | 'token_invalid'
  | 'auth_failure'
  | 'rate_limited'
  | 'transient'
  | 'network'
  | 'rejected';

/** Observations for metrics. Never carries secrets. */
export type PoolEvent =
  | { type: 'attempt'; credentialId: number; attempt: number; outcome: AttemptOutcome; status?: number; durationMs: number }
  | { type: 'failover'; fromId: number; reason: AttemptOutcome | 'refresh_failed' }
  /** A refresh under the lock; `skipped` = another holder had refreshed while we waited. */
  | {
      type: 'refresh';
      credentialId: number;
      outcome: 'success' | 'failure' | 'skipped';
      kind?: RefreshErrorKind;
      durationMs: number;
      lockWaitMs?: number;
    }
  /** Request-scoped (execute's `onEvent` only): this request waited for a token refresh. */
  | { type: 'refresh_wait'; credentialId: number; outcome: 'success' | 'failure'; durationMs: number }
  | { type: 'disable'; credentialId: number; reason: DisabledReason }
  | { type: 'enable'; credentialId: number; reason: 'self_heal' | 'quota_reset' | 'refresh_retry' };

/** Structured log sink (pino-compatible levels); fields never hold tokens. */
export type PoolLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** What the pool is built from. `random` and `sleep` exist for deterministic tests. */
export interface PoolDeps {
  store: CredentialStore;
  refresher: Pick<TokenRefresher, 'refresh'>;
  config: GatewayConfig;
  now?: () => number;
  log?: PoolLog;
  onEvent?: (e: PoolEvent) => void;
  /** Jitter source, 0 ≤ x < 1. */
  random?: () => number;
  /** Waits `ms`, rejecting with `signal.reason` when it aborts. */
  sleep?: (ms: number, signal: AbortLike) => Promise<void>;
}

/** What the pool's parts share: its store, config, clock and (never-throwing) sinks. */
export interface PoolContext {
  readonly store: CredentialStore;
  readonly config: GatewayConfig;
  readonly now: () => number;
  readonly log: PoolLog;
  /** Reports a PoolEvent; swallows errors of the metrics sink. */
  readonly emit: (e: PoolEvent) => void;
}
