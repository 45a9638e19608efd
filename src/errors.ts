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

/**
 * The one mapping between HTTP statuses and error types. The first status of a type is its default;
 * every status belongs to exactly one type, so either determines the other. The README's error
 * table lists the same rows (a test keeps them equal).
 */
export const STATUSES_BY_TYPE = {
  invalid_request_error: [400, 417],
  authentication_error: [401],
  permission_error: [403],
  not_found_error: [404],
  request_too_large: [413, 431],
  rate_limit_error: [429],
  api_error: [500, 502, 503],
  timeout_error: [504, 408],
  overloaded_error: [529],
} as const satisfies Record<ErrorType, readonly number[]>;

export type StatusOf<T extends ErrorType> = (typeof STATUSES_BY_TYPE)[T][number];

const TYPE_BY_STATUS: ReadonlyMap<number, ErrorType> = new Map(
  (Object.entries(STATUSES_BY_TYPE) as Array<[ErrorType, readonly number[]]>).flatMap(([type, statuses]) =>
    statuses.map((status) => [status, type] as const),
  ),
);

/** The error type of an HTTP error status; a status outside the table counts as 400 or 500. */
export function errorTypeOfStatus(status: number): ErrorType {
  return TYPE_BY_STATUS.get(status) ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

export abstract class GatewayError extends Error {
  abstract readonly type: ErrorType;
  /** When false, clients get a generic message instead of `message`. */
  readonly expose: boolean = true;
  private readonly explicitStatus: number | undefined;

  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options);
    this.name = new.target.name;
    this.explicitStatus = options?.status;
  }

  /** The HTTP status: the one asked for when the type allows it, else the type's default. */
  get status(): number {
    const allowed: readonly number[] = STATUSES_BY_TYPE[this.type];
    return this.explicitStatus !== undefined && allowed.includes(this.explicitStatus) ? this.explicitStatus : allowed[0]!;
  }
}

export class InvalidRequestError extends GatewayError {
  readonly type = 'invalid_request_error' as const;
  constructor(message: string, options?: { cause?: unknown; status?: StatusOf<'invalid_request_error'> }) {
    super(message, options);
  }
}

export class AuthenticationError extends GatewayError {
  readonly type = 'authentication_error' as const;
}

export class PermissionError extends GatewayError {
  readonly type = 'permission_error' as const;
}

export class NotFoundError extends GatewayError {
  readonly type = 'not_found_error' as const;
}

/** 413 for a body over the limit; 431 for request headers over theirs. */
export class RequestTooLargeError extends GatewayError {
  readonly type = 'request_too_large' as const;
  constructor(message: string, options?: { cause?: unknown; status?: StatusOf<'request_too_large'> }) {
    super(message, options);
  }
}

export class RateLimitError extends GatewayError {
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
  readonly type = 'api_error' as const;
  /** 500 by default; 502 when the upstream answered with something unusable; 503 when the store cannot take a write now. */
  constructor(message: string, options?: { cause?: unknown; status?: StatusOf<'api_error'> }) {
    super(message, options);
  }
}

/** 504 when the upstream timed out; 408 when the client was too slow sending its request. */
export class UpstreamTimeoutError extends GatewayError {
  readonly type = 'timeout_error' as const;
  constructor(message: string, options?: { cause?: unknown; status?: StatusOf<'timeout_error'> }) {
    super(message, options);
  }
}

/** No usable credential right now (all disabled, cooling down or at their concurrency cap). */
export class OverloadedError extends GatewayError {
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

type ErrorOptions = { cause?: unknown; status?: number };

const FACTORY_BY_TYPE: Record<ErrorType, (message: string, options?: ErrorOptions) => GatewayError> = {
  invalid_request_error: (m, o) => new InvalidRequestError(m, o as ConstructorParameters<typeof InvalidRequestError>[1]),
  authentication_error: (m, o) => new AuthenticationError(m, o),
  permission_error: (m, o) => new PermissionError(m, o),
  not_found_error: (m, o) => new NotFoundError(m, o),
  request_too_large: (m, o) => new RequestTooLargeError(m, o as ConstructorParameters<typeof RequestTooLargeError>[1]),
  rate_limit_error: (m, o) => new RateLimitError(m, undefined, o),
  api_error: (m, o) => new ApiError(m, o as ConstructorParameters<typeof ApiError>[1]),
  timeout_error: (m, o) => new UpstreamTimeoutError(m, o as ConstructorParameters<typeof UpstreamTimeoutError>[1]),
  overloaded_error: (m, o) => new OverloadedError(m, o),
};

/** The error of a type, with one of the type's statuses (its default when `status` is not one). */
export function errorOfType(type: ErrorType, message: string, options?: ErrorOptions): GatewayError {
  return FACTORY_BY_TYPE[type](message, options);
}

/** The error of an HTTP error status (its type from {@link STATUSES_BY_TYPE}). */
export function errorOfStatus(status: number, message: string, options?: { cause?: unknown }): GatewayError {
  return errorOfType(errorTypeOfStatus(status), message, { ...options, status });
}

/**
 * A response that failed after the upstream had answered, as the SSE `error` event tells streaming
 * clients: non-streaming clients get the same type, and an `api_error` there is the upstream's
 * failure (502), not ours.
 */
export function midStreamError(failure: { type: ErrorType; message: string }): GatewayError {
  return errorOfType(failure.type, failure.message, { status: failure.type === 'api_error' ? 502 : undefined });
}

/** Turns anything thrown into a GatewayError; unknown errors become an unexposed 500. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = new (class extends ApiError {
    override readonly expose = false;
  })('Internal server error', { cause: err });
  return e;
}

/** Renders an API's error body, and the status it goes with, for any thrown value. */
export type ErrorRenderer = (err: unknown, requestId?: string) => { status: number; body: { error: { type: string; message: string } } };

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
