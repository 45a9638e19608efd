/**
 * OpenAI's error shape, `{"error":{"message","type","param","code"}}`, for every error of the OpenAI
 * routes. The gateway's errors (src/errors.ts) keep deciding what went wrong; this module only says
 * how OpenAI clients hear it: OpenAI's status, `type` and `code` for each gateway error type (the
 * README's "OpenAI-compatible API" table lists the same rows).
 */
import { InvalidRequestError, midStreamError, NotFoundError, toGatewayError, type ErrorType } from '../errors.js';
import type { StreamError } from '../anthropic/types.js';

/** The body of every OpenAI error answer. */
export interface OpenAiErrorBody {
  error: OpenAiError;
}

export interface OpenAiError {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/** OpenAI's `code` values for a request field, as its API uses them. */
export type ParamCode = 'missing_required_parameter' | 'invalid_type' | 'invalid_value' | 'unsupported_parameter' | 'unsupported_value';

/** A 400 about one field of an OpenAI request, named the OpenAI way (`messages[2].content[0].image_url.url`). */
export class OpenAiParamError extends InvalidRequestError {
  constructor(
    readonly param: string,
    message: string,
    readonly code: ParamCode,
  ) {
    super(`${param}: ${message}`);
  }
}

/** The requested model is not offered (the gateway's 404 for a model, told the OpenAI way). */
export class ModelNotFoundError extends NotFoundError {
  readonly param = 'model';
  readonly code = 'model_not_found';
}

/** How one gateway error type is told to OpenAI clients. */
interface Told {
  status?: number;
  type: string;
  code: string | null;
}

/**
 * The mapping. Statuses stay the gateway's except Anthropic's 529, which OpenAI's API and clients
 * do not know: OpenAI says 503 for "overloaded, retry later", and its SDKs retry 503 with
 * `retry-after` as they retry 529 on the Anthropic side.
 */
const TOLD: Record<ErrorType, (status: number) => Told> = {
  invalid_request_error: () => ({ type: 'invalid_request_error', code: null }),
  authentication_error: () => ({ type: 'invalid_request_error', code: 'invalid_api_key' }),
  permission_error: () => ({ type: 'invalid_request_error', code: 'permission_denied' }),
  not_found_error: () => ({ type: 'invalid_request_error', code: 'unknown_url' }),
  request_too_large: () => ({ type: 'invalid_request_error', code: 'request_too_large' }),
  rate_limit_error: () => ({ type: 'requests', code: 'rate_limit_exceeded' }),
  api_error: (status) => ({ type: 'server_error', code: status === 502 ? 'upstream_error' : status === 503 ? 'service_unavailable' : null }),
  timeout_error: (status) => ({ type: status === 408 ? 'invalid_request_error' : 'server_error', code: 'timeout' }),
  overloaded_error: () => ({ status: 503, type: 'server_error', code: 'overloaded' }),
};

/** Kiro's "Input is too long", as the gateway words it; OpenAI clients (Codex) compact on this code. */
const CONTEXT_LENGTH_EXCEEDED = /^prompt is too long/;

/** Renders any thrown value as an OpenAI error answer: status and body. */
export function toOpenAiError(err: unknown): { status: number; body: OpenAiErrorBody } {
  const g = toGatewayError(err);
  const told = TOLD[g.type](g.status);
  const message = g.expose ? g.message : 'Internal server error';
  const detail = g as { param?: unknown; code?: unknown };
  let code = typeof detail.code === 'string' ? detail.code : told.code;
  if (g.type === 'invalid_request_error' && CONTEXT_LENGTH_EXCEEDED.test(message)) code = 'context_length_exceeded';
  const param = typeof detail.param === 'string' ? detail.param : null;
  return { status: told.status ?? g.status, body: { error: { message, type: told.type, param, code } } };
}

/** The error object of a stream that failed after it started (Chat Completions' `data: {"error":…}`). */
export function streamErrorOf(failure: StreamError): OpenAiError {
  const g = midStreamError(failure);
  const told = TOLD[g.type](g.status);
  return { message: failure.message, type: told.type, param: null, code: told.code };
}
