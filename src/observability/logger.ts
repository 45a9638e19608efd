/**
 * Structured logging (pino): the process logger, a per-request Koa middleware that assigns
 * request ids and writes one summary line per request, and the small response-lifecycle helpers
 * that the metrics and tracing middlewares share with it.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { isSpanContextValid, type Span } from '@opentelemetry/api';
import type { Context, Middleware, Next } from 'koa';
import pino from 'pino';
import { createRequire } from 'node:module';
import { createSecretScrubber, redactSecrets } from './redact.js';

/** Options of {@link createLogger}; `level` and `pretty` come from `GatewayConfig.log`. */
export interface LoggerOptions {
  /** pino level name: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`. */
  level: string;
  /** Human-readable output through pino-pretty (local development); JSON lines otherwise. */
  pretty: boolean;
  /** Where lines go instead of stdout; tests pass a stream that captures them. */
  destination?: pino.DestinationStream;
  /**
   * Known secret values (current access/refresh tokens, client secrets, configured API keys) to
   * scrub from every finished line, whatever field they hide in. Called once per line: return
   * the same array instance until the set changes, so the prepared needles are reused.
   */
  secrets?: () => readonly string[];
}

/**
 * Creates the process logger. JSON lines with a string `level` and epoch-ms `time`; secret-named
 * keys are redacted at any depth (in logged objects, child bindings and Errors, see
 * `redactSecrets`), and known secret values are scrubbed from the serialized line.
 *
 * @example
 * const log = createLogger({ level: config.log.level, pretty: config.log.pretty, secrets: () => pool.secretValues() });
 * log.info({ credentialId: 3 }, 'token refreshed');
 */
export function createLogger(opts: LoggerOptions): pino.Logger {
  const options: pino.LoggerOptions = {
    level: opts.level,
    formatters: {
      level: (label) => ({ level: label }),
      log: (obj) => redactSecrets(obj),
      bindings: (bindings) => redactSecrets(bindings),
    },
  };
  if (opts.secrets) options.hooks = { streamWrite: createSecretScrubber(opts.secrets) };

  let logger: pino.Logger;
  if (opts.pretty && opts.destination) {
    // Formatted in-process and written synchronously, so a caller-supplied stream sees each line at once.
    // Loaded only for pretty output (a development setting), not by every gateway.
    const pinoPretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    const prettify = pinoPretty.prettyFactory({ colorize: false, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
    const destination = opts.destination;
    logger = pino(options, { write: (line: string) => destination.write(prettify(line)) });
  } else if (opts.pretty) {
    logger = pino(
      options,
      pino.transport({
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
      }),
    );
  } else {
    logger = opts.destination ? pino(options, opts.destination) : pino(options);
  }
  redactChildBindings(logger);
  return logger;
}

/**
 * pino applies `formatters.bindings` to the root bindings only (children get an identity
 * formatter), so secrets passed to `child()` would bypass the key redaction. Children are created
 * with `Object.create(parent)`, so overriding `child` on the root covers every descendant.
 */
function redactChildBindings(root: pino.Logger): void {
  const originalChild = root.child;
  root.child = function child(this: pino.Logger, bindings, options) {
    return originalChild.call(this, redactSecrets(bindings), options);
  } as pino.Logger['child'];
}

// ---------------------------------------------------------------------------------------------
// Request state shared by the observability middlewares and the handlers
// ---------------------------------------------------------------------------------------------

/**
 * What a handler puts on `ctx.state.logFields` so the request line, the server span and the
 * metrics can describe the request. All optional; set what is known (usually in the handler's
 * `finally`). Never put secrets here: key-redaction would catch them, but the fields are also
 * copied into span attributes.
 */
export interface RequestLogFields {
  /** The model string the client asked for (spans and logs only; metrics use the family). */
  model?: string;
  /** Id of the credential that served the request (a small integer). */
  credentialId?: number;
  /** `secretFingerprint()` of the credential's token, to tell token generations apart. */
  credentialFingerprint?: string;
  /** Outcome class of the upstream call (docs/kiro-protocol.md §9.2, `OUTCOME_CLASSES`). */
  outcome?: string;
  /** Anthropic `stop_reason` sent to the client. */
  stopReason?: string;
  inputTokens?: number;
  outputTokens?: number;
  /** Kiro credits metered for the request (meteringEvent sum; not tokens). */
  credits?: number;
  /** Upstream attempts used (retries and failovers included). */
  attempts?: number;
  /** Whether the client asked for SSE. */
  stream?: boolean;
  [extra: string]: unknown;
}

/** The `ctx.state` fields the observability middlewares set or read. */
export interface ObservabilityState {
  /** Set by the request logger; echoed in `request-id` / `x-request-id` and error bodies. */
  requestId?: string;
  /** Child logger bound to `requestId` (set by the request logger). */
  log?: pino.Logger;
  /** Filled by the handler, read when the response ends; the request logger starts it as `{}`. */
  logFields?: RequestLogFields;
  /** The server span (set by the tracing middleware). */
  span?: Span;
}

/** How a response ended, as seen by {@link whenResponseDone}. */
export interface ResponseEnd {
  /** `performance.now()` when `res` emitted `close`. */
  endedAt: number;
  /** The connection closed before the response was fully written. */
  clientDisconnected: boolean;
  /** What `next()` threw, if anything (it is rethrown to Koa as usual). */
  error: unknown;
}

/**
 * Runs `run` (normally `next`) and calls `onDone` exactly once, after BOTH `run` has settled and
 * `res` has emitted `close`. Waiting for `close` covers streamed responses (`ctx.respond = false`)
 * and client disconnects; waiting for `run` lets a handler fill `ctx.state.logFields` in its
 * `finally` after the stream ended. Errors from `run` are rethrown; errors from `onDone` are
 * reported as a process warning rather than crashing the server from an event listener.
 */
export async function whenResponseDone(
  res: ServerResponse,
  run: () => Promise<unknown>,
  onDone: (end: ResponseEnd) => void,
): Promise<void> {
  const end: ResponseEnd = { endedAt: 0, clientDisconnected: false, error: undefined };
  let pending = 2;
  const settle = (): void => {
    if (--pending !== 0) return;
    try {
      onDone(end);
    } catch (err) {
      process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'ObservabilityWarning');
    }
  };
  if (res.closed) {
    end.endedAt = performance.now();
    end.clientDisconnected = !res.writableFinished;
    pending--;
  } else {
    res.once('close', () => {
      end.endedAt = performance.now();
      end.clientDisconnected = !res.writableFinished;
      settle();
    });
  }
  try {
    await run();
  } catch (err) {
    end.error = err;
    throw err;
  } finally {
    settle();
  }
}

/**
 * The status to report for a finished response: what was sent, or 499 (nginx's "client closed
 * request") when the client left before any header was written, else `unsent` (Koa's `ctx.status`).
 */
export function sentStatus(res: ServerResponse, end: ResponseEnd, unsent: number): number {
  if (res.headersSent) return res.statusCode;
  return end.clientDisconnected ? 499 : unsent;
}

/** {@link sentStatus} of a Koa request. */
export function responseStatus(ctx: Context, end: ResponseEnd): number {
  return sentStatus(ctx.res, end, ctx.status);
}

/** Route label used when no router route matched (404s, scanners): never the raw URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The route template @koa/router matched (`/v1/messages`, `/api/admin/credentials/:id`), or
 * `undefined`. Read after `next()`; a raw path is never returned, so it is safe as a label.
 */
export function matchedRoute(ctx: Context): string | undefined {
  const route = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
  if (route === undefined) return undefined;
  return typeof route === 'string' ? route : route.source;
}

// ---------------------------------------------------------------------------------------------
// Request logger
// ---------------------------------------------------------------------------------------------

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Largest multiple of 62 below 256: bytes at or above it are skipped so every char is uniform. */
const BASE62_BYTE_LIMIT = 256 - (256 % 62);
const REQUEST_ID_PREFIX = 'req_';
const REQUEST_ID_RANDOM_CHARS = 24;
const RANDOM_POOL_BYTES = 4096;
let randomPool = Buffer.alloc(0);
let randomPoolPos = 0;

/**
 * A fresh request id: `req_` + 24 base62 chars (~143 bits), Anthropic-like. Randomness comes from a
 * pooled `randomBytes` buffer so an id costs no syscall.
 */
export function generateRequestId(): string {
  let id = REQUEST_ID_PREFIX;
  let chars = 0;
  while (chars < REQUEST_ID_RANDOM_CHARS) {
    if (randomPoolPos >= randomPool.length) {
      randomPool = randomBytes(RANDOM_POOL_BYTES);
      randomPoolPos = 0;
    }
    const byte = randomPool[randomPoolPos++];
    if (byte >= BASE62_BYTE_LIMIT) continue;
    id += BASE62[byte % 62];
    chars++;
  }
  return id;
}

/** An incoming `x-request-id` is honoured only if it looks like an id, not a payload. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_LOGGED_PATH = 256;
const MAX_LOGGED_USER_AGENT = 200;

/** Options of {@link createRequestLogger}. */
export interface RequestLoggerOptions {
  /** Honour a sane incoming `x-request-id` (default true). */
  trustIncomingId?: boolean;
  /** Id generator (default {@link generateRequestId}). */
  generateId?: () => string;
  /**
   * Paths (exact, e.g. `/healthz`) whose successful requests are logged at `debug` instead of
   * `info`, so probes do not flood the logs.
   */
  quietPaths?: readonly string[];
}

/**
 * Koa middleware: assigns the request id (`ctx.state.requestId`, `request-id` and `x-request-id`
 * response headers), puts a child logger on `ctx.state.log`, and writes ONE line when the
 * response has ended — streamed responses included — with method, path (never the query
 * string), status, duration, `ctx.state.logFields`, and `clientDisconnected: true` when the
 * client left early. The child logger (hence every line of the request) carries `traceId` when
 * the tracing middleware runs outside this one. Level: `error` for 5xx, `info` otherwise
 * (`debug` for quiet paths). Mount order: tracing → request logger → metrics → error handler →
 * router, so it sees the final status and the span.
 */
export function createRequestLogger(logger: pino.Logger, opts: RequestLoggerOptions = {}): Middleware {
  const start = requestLogStarter(logger, opts);
  return function requestLogger(ctx: Context, next: Next): Promise<void> {
    const state = ctx.state as ObservabilityState;
    const request = start(ctx.req, ctx.res, state.span);
    state.requestId = request.requestId;
    state.log = request.log;
    // Handlers may add fields one by one (`ctx.state.logFields.model = …`) or replace the object.
    state.logFields ??= {};
    return whenResponseDone(ctx.res, next, (end) => request.finish(ctx.path, responseStatus(ctx, end), end, state.logFields ?? {}));
  };
}

/** One request's id, logger and summary line (see {@link requestLogStarter}). */
export interface RequestLog {
  readonly requestId: string;
  /** Child logger bound to the request id (and the trace id when there is a span). */
  readonly log: pino.Logger;
  /** Writes the summary line once the response is over. */
  finish(path: string, status: number, end: ResponseEnd, fields: RequestLogFields): void;
}

/**
 * What {@link createRequestLogger} does for each request, without Koa: picks the request id (a sane
 * incoming `x-request-id`, else a fresh one), sets the `request-id` and `x-request-id` response
 * headers, binds a child logger, and writes the summary line when `finish` is called.
 */
export function requestLogStarter(
  logger: pino.Logger,
  opts: RequestLoggerOptions = {},
): (req: IncomingMessage, res: ServerResponse, span: Span | undefined) => RequestLog {
  const trustIncoming = opts.trustIncomingId ?? true;
  const generateId = opts.generateId ?? generateRequestId;
  const quietPaths = new Set(opts.quietPaths ?? []);

  return (req, res, span) => {
    const startedAt = performance.now();
    const incoming = trustIncoming ? req.headers['x-request-id'] : undefined;
    const requestId = typeof incoming === 'string' && incoming !== '' && SANE_REQUEST_ID.test(incoming) ? incoming : generateId();
    res.setHeader('request-id', requestId);
    res.setHeader('x-request-id', requestId);
    return new RequestLogLine(logger, quietPaths, requestId, req, span, startedAt);
  };
}

/** One request's {@link RequestLog} (a class: one object per request, no closures). */
class RequestLogLine implements RequestLog {
  /**
   * Bound on first use: most requests log nothing but their summary line, which at level `warn`
   * is not written either (a child logger per request cost a few µs).
   */
  private child: pino.Logger | undefined;

  constructor(
    private readonly logger: pino.Logger,
    private readonly quietPaths: ReadonlySet<string>,
    readonly requestId: string,
    private readonly req: IncomingMessage,
    private readonly span: Span | undefined,
    private readonly startedAt: number,
  ) {}

  get log(): pino.Logger {
    if (this.child) return this.child;
    // The tracing middleware (mounted outside) has already started the server span; binding its
    // trace id makes every line of this request, the summary included, findable from the trace.
    const spanContext = this.span?.spanContext();
    const requestId = this.requestId;
    this.child =
      spanContext && isSpanContextValid(spanContext) ? this.logger.child({ requestId, traceId: spanContext.traceId }) : this.logger.child({ requestId });
    return this.child;
  }

  finish(path: string, status: number, end: ResponseEnd, fields: RequestLogFields): void {
    const level = status >= 500 ? 'error' : this.quietPaths.has(path) && status < 400 ? 'debug' : 'info';
    if (!this.logger.isLevelEnabled(level)) return;
    const req = this.req;
    const line: Record<string, unknown> = {
      method: req.method,
      path: path.length > MAX_LOGGED_PATH ? path.slice(0, MAX_LOGGED_PATH) : path,
      status,
      durationMs: Math.round((end.endedAt - this.startedAt) * 10) / 10,
      ...fields,
    };
    const userAgent = req.headers['user-agent'];
    if (typeof userAgent === 'string' && userAgent !== '') line.userAgent = userAgent.slice(0, MAX_LOGGED_USER_AGENT);
    if (end.clientDisconnected) line.clientDisconnected = true;
    if (end.error !== undefined) line.err = end.error;

    if (level === 'error') this.log.error(line, 'request failed');
    else if (level === 'debug') this.log.debug(line, 'request completed');
    else this.log.info(line, end.clientDisconnected ? 'request aborted by client' : 'request completed');
  }
}
