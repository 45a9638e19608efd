/**
 * State shared by the simulator's route handlers, and the small HTTP helpers they use.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccountRegistry, Account } from './accounts.js';
import type { ReplyBuilder } from './reply.js';
import { recordRequest } from './stats.js';
import type { AccountMode, PendingRefresh, SimulatorStats } from './types.js';

/** Options with defaults applied. */
export interface ResolvedOptions {
  host: string;
  port: number;
  firstByteLatencyMs: number;
  chunkDelayMs: number;
  acceptAnyToken: boolean;
  refreshLatencyMs: number;
  maxInputBytes: number;
  profileArn: string;
  recentRequests: number;
}

/** What every handler gets. */
export interface SimContext {
  readonly opts: ResolvedOptions;
  readonly accounts: AccountRegistry;
  readonly stats: SimulatorStats;
  readonly replies: ReplyBuilder;
  /** Refresh calls held by their latency right now. */
  readonly pendingRefreshes: Set<PendingRefresh>;
}

/** One request being handled: the parts of the URL plus the node objects. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  query: string;
}

/** Kiro's answer to a missing, unknown or expired bearer token (§9.2). */
export const INVALID_BEARER_BODY = { message: 'The bearer token included in the request is invalid.', reason: null };
/** Kiro's 400 for the §12.2 causes. */
export const IMPROPERLY_FORMED_BODY = { message: 'Improperly formed request.', reason: null };

/** A request body, read whole unless it exceeds the limit (then only its size is kept). */
export interface RequestBody {
  bytes: Buffer;
  size: number;
  tooLarge: boolean;
}

/** Reads the body; bytes beyond `limit` are drained, not stored. Rejects if the client goes away. */
export function readBody(req: IncomingMessage, limit = Infinity): Promise<RequestBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.once('end', () => {
      const tooLarge = size > limit;
      const bytes = tooLarge ? Buffer.alloc(0) : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      resolve({ bytes, size, tooLarge });
    });
    req.once('error', reject);
  });
}

/** JSON.parse that says `undefined` instead of throwing; an empty body is undefined too. */
export function parseJson(bytes: Buffer): { ok: true; value: unknown } | { ok: false; text: string } {
  if (bytes.length === 0) return { ok: true, value: undefined };
  const text = bytes.toString('utf8');
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, text };
  }
}

/** Sends a JSON (or ready-made string) body with an AWS-style request id. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...headers,
  });
  res.end(text);
}

/** The bearer token of the Authorization header. */
export function bearerOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth === undefined || !auth.startsWith('Bearer ')) return undefined;
  return auth.slice('Bearer '.length).trim() || undefined;
}

/** The account of the request's bearer token, or undefined when it is missing, unknown or expired. */
export function authenticate(ctx: SimContext, req: IncomingMessage): Account | undefined {
  const tokenType = req.headers.tokentype;
  return ctx.accounts.authenticate(bearerOf(req), typeof tokenType === 'string' ? tokenType : undefined);
}

/** Adds the exchange to `stats.requests`. */
export function record(
  ctx: SimContext,
  ex: Exchange,
  body: unknown,
  account: Account | undefined,
  status: number,
  rejection?: string,
): void {
  recordRequest(
    ctx.stats,
    {
      method: ex.req.method ?? '',
      path: ex.path,
      query: ex.query,
      headers: ex.req.headers,
      body,
      account: account?.id,
      status,
      ...(rejection !== undefined ? { rejection } : {}),
      at: Date.now(),
    },
    ctx.opts.recentRequests,
  );
}

/** The HTTP answer of an API call under an account mode other than 'ok' (§9.2 bodies). */
export function modeAnswer(mode: AccountMode): { status: number; body: unknown } {
  switch (mode) {
    case 'rate-limit-429':
      return { status: 429, body: { message: 'Too many requests, please wait before trying again.', reason: null } };
    case 'server-error-500':
      return {
        status: 500,
        body: { message: 'Encountered an unexpected error when processing the request, please try again.', reason: null },
      };
    case 'server-error-503':
      return { status: 503, body: { message: 'Service Unavailable. Please try again later.', reason: null } };
    case 'quota-402':
      return { status: 402, body: { message: 'You have reached the limit.', reason: 'MONTHLY_REQUEST_COUNT' } };
    case 'suspended-403':
      return {
        status: 403,
        body: { message: 'Your User ID temporarily is suspended. Please contact support.', reason: 'TEMPORARILY_SUSPENDED' },
      };
    case 'invalid-token-403':
      return { status: 403, body: INVALID_BEARER_BODY };
    default:
      return { status: 500, body: { message: `mode ${mode} has no API answer`, reason: null } };
  }
}
