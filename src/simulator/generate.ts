/**
 * generateAssistantResponse on either wire (POST /generateAssistantResponse for `ide`, POST / with
 * `x-amz-target` for `cli`): auth, size limit, §12.2 validation, the wire check, account mode, then
 * the default reply or the request's script as an AWS event stream.
 */
import { randomUUID } from 'node:crypto';
import type { Account } from './accounts.js';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  authenticate,
  IMPROPERLY_FORMED_BODY,
  INVALID_BEARER_BODY,
  modeAnswer,
  parseJson,
  readBody,
  record,
  sendJson,
  type Exchange,
  type SimContext,
} from './context.js';
import type { Reply, StreamPlan } from './reply.js';
import { contextUsageFor } from './reply.js';
import { extractScript, ScriptError, type Script } from './script.js';
import { countCall } from './stats.js';
import { sendPlan } from './stream.js';
import { findMalformation } from './validate.js';
import { findWireMismatch } from './wire.js';
import type { KiroEndpoint } from '../kiro/endpoint.js';
import { imageRefusal, INVALID_MODEL_BODY, modelRefusal, thinkingRefusal } from './models.js';

const EVENT_STREAM_TYPE = 'application/vnd.amazon.eventstream';
const INPUT_TOO_LONG_BODY = { message: 'Input is too long.', reason: 'CONTENT_LENGTH_EXCEEDS_THRESHOLD' };

interface StreamTracker {
  signal: AbortSignal;
  markSelfClosed(): void;
}

/**
 * Counts the stream in flight until the response closes, telling client aborts from the rest.
 * The signal fires only when the response closes unfinished: aborting costs a DOMException with a
 * stack trace, a measurable share of a default request, which never needs it.
 */
function trackStream(ctx: SimContext, res: ServerResponse): StreamTracker {
  const stats = ctx.stats;
  stats.streamsInFlight++;
  let ac: AbortController | undefined;
  let selfClosed = false;
  res.once('close', () => {
    stats.streamsInFlight--;
    if (res.writableFinished) {
      stats.streamsCompleted++;
      return;
    }
    if (!selfClosed) stats.streamsAborted++;
    ac?.abort();
  });
  return {
    get signal() {
      ac ??= new AbortController();
      return ac.signal;
    },
    markSelfClosed: () => (selfClosed = true),
  };
}

function streamHead(res: ServerResponse, contentLength?: number): void {
  // The flat array form skips node's per-header object bookkeeping (this runs on every request).
  const headers = ['content-type', EVENT_STREAM_TYPE, 'x-amzn-requestid', randomUUID()];
  if (contentLength !== undefined) headers.push('content-length', String(contentLength));
  res.writeHead(200, headers);
}

/** Resolves false if the client left during the wait. */
async function waitFirstByte(ms: number, signal: AbortSignal): Promise<boolean> {
  if (ms <= 0) return true;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** Handles one generateAssistantResponse call that came in on `wire`. */
export async function handleGenerate(ctx: SimContext, ex: Exchange, wire: KiroEndpoint): Promise<void> {
  const { opts, stats } = ctx;
  const { bytes, size, tooLarge } = await readBody(ex.req, opts.maxInputBytes);
  const account = authenticate(ctx, ex.req);
  countCall(stats, 'generate', account?.id);
  const reject = (status: number, answer: unknown, body: unknown, rejection?: string) => {
    if (status === 400) stats.rejected++;
    sendJson(ex.res, status, answer);
    record(ctx, ex, body, account, status, rejection);
  };
  if (account === undefined && !opts.acceptAnyToken) return reject(403, INVALID_BEARER_BODY, undefined);
  if (tooLarge) {
    return reject(400, INPUT_TOO_LONG_BODY, undefined, `body of ${size} bytes exceeds maxInputBytes ${opts.maxInputBytes}`);
  }
  const parsed = parseJson(bytes);
  if (!parsed.ok) return reject(400, IMPROPERLY_FORMED_BODY, parsed.text, 'body is not JSON');
  const body = parsed.value;
  const problem = findMalformation(body);
  if (problem !== undefined) return reject(400, IMPROPERLY_FORMED_BODY, body, problem);
  const mismatch = findWireMismatch(wire, ex.req.headers, body);
  if (mismatch !== undefined) return reject(400, IMPROPERLY_FORMED_BODY, body, mismatch);

  const modelId = (body as { conversationState: { currentMessage: { userInputMessage: { modelId: string } } } }).conversationState
    .currentMessage.userInputMessage.modelId;
  const refusal = modelRefusal(account, modelId);
  if (refusal !== undefined) return reject(400, INVALID_MODEL_BODY, body, refusal);
  const images = imageRefusal(account, body, modelId);
  if (images !== undefined) return reject(400, IMPROPERLY_FORMED_BODY, body, images);
  const thinking = thinkingRefusal(body, modelId);
  if (thinking !== undefined) return reject(400, IMPROPERLY_FORMED_BODY, body, thinking);

  const mode = account ? ctx.accounts.take(account, 'generate') : 'ok';
  if (mode !== 'ok') {
    const { status, body: answer } = modeAnswer(mode);
    sendJson(ex.res, status, answer);
    record(ctx, ex, body, account, status);
    return;
  }

  // findMalformation() has checked this path exists.
  const message = (body as { conversationState: { currentMessage: { userInputMessage: { content: string; modelId: string } } } })
    .conversationState.currentMessage.userInputMessage;
  let script: Script | undefined;
  try {
    script = extractScript(message.content);
  } catch (err) {
    if (!(err instanceof ScriptError)) throw err;
    return reject(400, { message: `Simulator script error: ${err.message}`, reason: 'SIMULATOR_SCRIPT' }, body, err.message);
  }
  const percentage = contextUsageFor(size, message.modelId);

  if (script === undefined && opts.chunkDelayMs === 0 && opts.firstByteLatencyMs === 0) {
    // The benchmark's path: one pre-encoded buffer, one write.
    const reply = ctx.replies.defaultBody(percentage);
    trackStream(ctx, ex.res);
    streamHead(ex.res, reply.length);
    ex.res.end(reply);
    record(ctx, ex, body, account, 200);
    return;
  }
  const reply: Reply = script ? ctx.replies.compile(script, percentage) : { kind: 'stream', plan: ctx.replies.defaultPlan(percentage) };
  await answer(ctx, ex, reply, body, account);
}

async function answer(ctx: SimContext, ex: Exchange, reply: Reply, body: unknown, account: Account | undefined): Promise<void> {
  const { res } = ex;
  if (reply.kind === 'reset') {
    record(ctx, ex, body, account, 0, 'script: reset');
    ex.req.socket.destroy();
    return;
  }
  if (reply.kind === 'http') {
    const ac = new AbortController();
    res.once('close', () => ac.abort());
    if (!(await waitFirstByte(reply.firstByteLatencyMs, ac.signal))) return;
    sendJson(res, reply.status, reply.body, reply.headers);
    record(ctx, ex, body, account, reply.status);
    return;
  }
  const plan: StreamPlan = reply.plan;
  const tracker = trackStream(ctx, res);
  if (!(await waitFirstByte(plan.firstByteLatencyMs, tracker.signal))) return;
  streamHead(res);
  record(ctx, ex, body, account, 200);
  await sendPlan(res, plan, tracker.signal, tracker.markSelfClosed);
}
