/**
 * How an upstream attempt is classified (docs/kiro-protocol.md §9.2) and which error the client
 * finally sees when no attempt succeeded. Pure functions: the pool decides what to do with them.
 */
import {
  ApiError,
  GatewayError,
  InvalidRequestError,
  OverloadedError,
  RateLimitError,
  RequestTooLargeError,
} from '../errors.js';
import { AWAITING_STORE_RETRY_AFTER_S } from './awaiting-store.js';
import type { AttemptOutcome, AttemptResult } from './pool-types.js';
import { RefreshError, summarizeErrorBody } from './refresh.js';

const BEARER_INVALID = 'The bearer token included in the request is invalid';
const SUSPENDED = 'temporarily is suspended';
const MONTHLY_QUOTA = 'MONTHLY_REQUEST_COUNT';
const CONTEXT_TOO_LONG = ['CONTENT_LENGTH_EXCEEDS_THRESHOLD', 'Input is too long'];

/** How `unusableSummary` names credentials waiting for the credential store. */
export const AWAITING_SUMMARY = 'waiting for a newer token from the credential store';

/** Why a credential (or a whole request) did not get an answer; kept as the request's last failure. */
export interface Failure {
  /** `awaiting_store`: the credential waits for a newer token from a store that is unreachable. */
  outcome: AttemptOutcome | 'refresh_failed' | 'awaiting_store';
  status?: number;
  /** Secret-free summary of the upstream answer or error. */
  detail: string;
}

/** A classified failed attempt. */
export interface AttemptFailure extends Failure {
  outcome: Exclude<AttemptOutcome, 'success'>;
}

/** A secret-free one-line description of an error, for logs and `lastError`. */
export function describeError(err: unknown): string {
  if (err instanceof RefreshError) return err.message;
  const e = err as { code?: string; message?: string };
  return e?.code ?? e?.message ?? String(err);
}

/** Classifies a failed attempt by status and body markers (§9.2). */
export function classifyAttempt(result: Exclude<AttemptResult<unknown>, { ok: true }>): AttemptFailure {
  if ('networkError' in result) return { outcome: 'network', detail: describeError(result.networkError) };
  const { status, body } = result;
  const marker = CONTEXT_TOO_LONG.find((m) => body.includes(m));
  if (marker) return { outcome: 'context_too_long', status, detail: marker };
  const detail = summarizeErrorBody(body);
  if (status === 400) return { outcome: 'bad_request', status, detail };
  if (status === 402 && body.includes(MONTHLY_QUOTA)) return { outcome: 'quota_exceeded', status, detail };
  if (status === 401 || status === 403) {
    if (body.toLowerCase().includes(SUSPENDED)) return { outcome: 'suspended', status, detail };
    if (body.includes(BEARER_INVALID)) return { outcome: 'token_invalid', status, detail };
    return { outcome: 'auth_failure', status, detail };
  }
  if (status === 429) return { outcome: 'rate_limited', status, detail };
  if (status === 408 || status >= 500 || status < 400) return { outcome: 'transient', status, detail };
  return { outcome: 'rejected', status, detail };
}

/**
 * The error to throw at once for a failure that is about the request, not the credential (another
 * credential would get the same answer), or undefined when failing over may help.
 */
export function requestRejection(failure: AttemptFailure): GatewayError | undefined {
  switch (failure.outcome) {
    case 'context_too_long':
      return new InvalidRequestError(
        `prompt is too long: the conversation exceeds the model's context window (upstream: ${failure.detail})`,
      );
    case 'bad_request':
      return new InvalidRequestError(failure.detail || 'upstream rejected the request as malformed');
    case 'rejected':
      if (failure.status === 413) return new RequestTooLargeError(`upstream rejected the request as too large: ${failure.detail}`);
      return new ApiError(`upstream rejected the request with HTTP ${failure.status}: ${failure.detail}`, { status: 502 });
    default:
      return undefined;
  }
}

/**
 * The error the client sees when every attempt failed: mapped from the last failure, or, when no
 * attempt was made, an OverloadedError with `unusable()` (why nothing could be picked).
 */
export function finalError(
  last: Failure | undefined,
  attempts: number,
  rateLimitCooldownMs: number,
  unusable: () => string,
): GatewayError {
  if (!last) {
    const summary = unusable();
    // Only credentials waiting for the store are left: another replica may hold their newer token.
    const retry = summary.includes(AWAITING_SUMMARY) ? { retryAfterSeconds: AWAITING_STORE_RETRY_AFTER_S } : undefined;
    return new OverloadedError(`no usable credential: ${summary}`, retry);
  }
  const tried = `after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
  switch (last.outcome) {
    case 'rate_limited':
      return new RateLimitError(
        `upstream rate limit: every usable credential answered 429 (${tried})`,
        Math.max(1, Math.ceil(rateLimitCooldownMs / 1000)),
      );
    case 'transient':
    case 'network':
      return new ApiError(`upstream unavailable ${tried}: ${last.status ? `HTTP ${last.status}` : 'network error'}${last.detail ? ` (${last.detail})` : ''}`, {
        status: 502,
      });
    case 'awaiting_store':
      return new OverloadedError(`no credential could be used on this replica now: ${last.detail}`, {
        retryAfterSeconds: AWAITING_STORE_RETRY_AFTER_S,
      });
    case 'refresh_failed':
      return new ApiError(`no credential could be used: token refresh failed (${last.detail})`, { status: 502 });
    default:
      return new ApiError(`no credential could serve the request ${tried}: last failure ${last.outcome}${last.status ? ` (HTTP ${last.status})` : ''}`, {
        status: 502,
      });
  }
}
