/**
 * One error hierarchy for the whole gateway. Only `toAnthropicError()` and the classes below decide
 * HTTP statuses and Anthropic error types; everything else throws these.
 */

/** The `error.type` values of Anthropic's error envelope (anthropic-sdk `shared.ts`). */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

/** Anthropic's JSON error envelope. */
export interface AnthropicErrorBody {
  type: 'error';
  error: { type: ErrorType; message: string };
  request_id?: string;
}

export abstract class GatewayError extends Error {
  abstract readonly status: number;
  abstract readonly type: ErrorType;
  /** When false, clients get a generic message instead of `message`. */
  readonly expose: boolean = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidRequestError extends GatewayError {
  readonly status = 400;
  readonly type = 'invalid_request_error' as const;
}

export class AuthenticationError extends GatewayError {
  readonly status = 401;
  readonly type = 'authentication_error' as const;
}

export class PermissionError extends GatewayError {
  readonly status = 403;
  readonly type = 'permission_error' as const;
}

export class NotFoundError extends GatewayError {
  readonly status = 404;
  readonly type = 'not_found_error' as const;
}

export class RequestTooLargeError extends GatewayError {
  readonly status = 413;
  readonly type = 'request_too_large' as const;
}

export class RateLimitError extends GatewayError {
  readonly status = 429;
  readonly type = 'rate_limit_error' as const;
  constructor(
    message: string,
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class ApiError extends GatewayError {
  readonly status: number;
  readonly type = 'api_error' as const;
  /** 500 by default; 502 when the upstream answered with something unusable. */
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options);
    this.status = options?.status ?? 500;
  }
}

export class UpstreamTimeoutError extends GatewayError {
  readonly status = 504;
  readonly type = 'timeout_error' as const;
}

/** No usable credential right now (all disabled, cooling down or at their concurrency cap). */
export class OverloadedError extends GatewayError {
  readonly status = 529;
  readonly type = 'overloaded_error' as const;
  /** Sent as `retry-after` when set: trying again (on this or another replica) soon may succeed. */
  readonly retryAfterSeconds?: number;
  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** Every concrete class, for the catalogue test that keeps docs and mapping honest. */
export const ERROR_CLASSES = [
  InvalidRequestError,
  AuthenticationError,
  PermissionError,
  NotFoundError,
  RequestTooLargeError,
  RateLimitError,
  ApiError,
  UpstreamTimeoutError,
  OverloadedError,
] as const;

/** Turns anything thrown into a GatewayError; unknown errors become an unexposed 500. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = new (class extends ApiError {
    override readonly expose = false;
  })('Internal server error', { cause: err });
  return e;
}

/** Renders the Anthropic error envelope for any thrown value. */
export function toAnthropicError(err: unknown, requestId?: string): { status: number; body: AnthropicErrorBody } {
  const g = toGatewayError(err);
  const body: AnthropicErrorBody = {
    type: 'error',
    error: { type: g.type, message: g.expose ? g.message : 'Internal server error' },
  };
  if (requestId) body.request_id = requestId;
  return { status: g.status, body };
}
