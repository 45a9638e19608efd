import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';
import type { GatewayConfig } from '../config.js';
import type { StreamEvent } from './types.js';
import { validateMessagesRequest } from './validate.js';
import { convertRequest } from '../convert/request.js';
import { fitRequestImages } from '../convert/images.js';
import { KiroToAnthropicStream } from '../convert/stream.js';
import { encodeSseEvents, SSE_HEADERS, SSE_PING } from '../convert/sse.js';
import { collectMessage } from '../convert/message.js';
import type { KiroClient } from '../kiro/client.js';
import { openUpstream, type OpenedUpstream } from './upstream-open.js';
import type { Admission } from './admission.js';
import type { CredentialPool } from '../credentials/pool.js';
import { midStreamError, type ErrorType } from '../errors.js';
import type { CredentialModels } from '../credentials/model-lists.js';
import { modelRouting, placeModel } from './model-routing.js';
import { ShutdownAbort, type Lifecycle } from '../lifecycle.js';
import { readJsonBody } from '../http/body.js';
import { handleWebSearch } from './web-search.js';
import type { RequestObserver } from './observer.js';

/** What the messages handlers need; built once in createApp. */
export interface MessagesDeps {
  config: GatewayConfig;
  pool: CredentialPool;
  client: KiroClient;
  lifecycle: Lifecycle;
  /** Per-credential model lists; without it the built-in table and the free-tier Opus rule apply. */
  models?: CredentialModels;
  observer: RequestObserver;
  admission: Admission;
}

/** `/v1` streams as events arrive; `/cc/v1` holds them until the end so message_start has real input_tokens. */
export type StreamMode = 'live' | 'buffered';

class ClientGone extends Error {
  constructor() {
    super('client disconnected');
    this.name = 'ClientGone';
  }
}

/** Claude Code sends its session id; reuse it as the Kiro conversation id when metadata has none. */
function sessionIdHeader(ctx: Context): string | undefined {
  const value = ctx.get('x-claude-code-session-id');
  return /^[0-9a-f-]{36}$/i.test(value) ? value : undefined;
}

/** POST /v1/messages and /cc/v1/messages. */
export async function handleMessages(ctx: Context, deps: MessagesDeps, mode: StreamMode): Promise<void> {
  const raw = await readJsonBody(ctx, deps.config.limits.bodyLimitBytes);
  const request = validateMessagesRequest(raw);
  // Oversized images are scaled and every image labelled from its bytes, before Kiro sees them.
  const resizedImages = await fitRequestImages(request);
  const convert = () =>
    convertRequest(request, {
      conversationId: sessionIdHeader(ctx),
      models: { offered: deps.models?.offered(), strict: deps.config.models.strict },
    });
  const converted = await placeModel(deps.models, convert);
  // Which Kiro model answers: clients ask for names newer than any offered, mapped by family.
  ctx.set('x-kiro-model', converted.kiroModelId);
  const routing = modelRouting(deps.models, request.model, converted.kiroModelId);
  const logFields = (ctx.state.logFields ??= {}) as Record<string, unknown>;
  logFields.stream = request.stream === true;
  if (resizedImages > 0) logFields.imagesResized = resizedImages;

  const controller = new AbortController();
  const res = ctx.res;
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new ClientGone());
  };
  res.once('close', onClose);
  const untrack = deps.lifecycle.track(controller);
  let release: () => void;
  try {
    // Served, queued for a bounded time, or refused with 529 + retry-after: never left silent.
    release = await deps.admission.acquire(controller.signal);
  } catch (err) {
    res.off('close', onClose);
    untrack();
    if (err instanceof ClientGone) return;
    throw err;
  }
  const obs = deps.observer.begin(ctx, request.model);

  let failed: unknown;
  try {
    if (converted.webSearch) {
      await handleWebSearch(ctx, deps, request, converted, controller.signal);
      return;
    }
    const body = JSON.stringify(converted.body);
    const openOptions = {
      signal: controller.signal,
      firstByteTimeoutMs: deps.config.upstream.firstByteTimeoutMs,
      onFrameError: (err: Error) => obs.frameError(err),
      onFrame: (bytes: number) => obs.frame(bytes),
    };
    const { value: upstream, lease } = await routing.run(() =>
      deps.pool.execute(
        { kiroModelId: converted.kiroModelId, signal: controller.signal, onEvent: (e) => obs.poolEvent(e), ...routing.filters },
        (l) =>
          obs.attempt(l.credential.id, () =>
            openUpstream((signal) => deps.client.generate(body, l.credential, l.accessToken, signal), openOptions),
          ),
      ),
    );
    obs.upstreamReady(lease.credential.id, lease.attempt);
    try {
      const converter = new KiroToAnthropicStream({
        model: request.model,
        thinking: converted.thinking,
        inputTokensEstimate: converted.inputTokensEstimate,
        windowSize: converted.windowSize,
        toolNameMap: converted.toolNameMap,
        extractThinking: request.stream ? true : deps.config.extractThinking,
      });
      if (request.stream) {
        await streamResponse(ctx, deps, converter, upstream, controller, mode, obs);
      } else {
        await jsonResponse(ctx, converter, upstream, controller, obs);
      }
    } finally {
      upstream.close();
      lease.release();
    }
  } catch (err) {
    // The client left while we waited for Kiro: nobody to answer, and not a server error.
    if (err instanceof ClientGone) return;
    failed = err;
    throw err;
  } finally {
    res.off('close', onClose);
    release();
    untrack();
    obs.end(failed);
  }
}

/**
 * Reads every upstream batch of events through the converter, handing each batch's output to `emit`.
 * Returns the closing events (message_delta/stop, or an error event when the upstream failed, was
 * corrupt or was cut) so the caller can send them with the end of the response in one write, or
 * null when the client is gone.
 */
async function convertUpstream(
  upstream: OpenedUpstream,
  converter: KiroToAnthropicStream,
  signal: AbortSignal,
  obs: ReturnType<RequestObserver['begin']>,
  emit: (events: StreamEvent[]) => void | Promise<void>,
): Promise<StreamEvent[] | null> {
  let failure: { type: ErrorType; message: string } | undefined;
  try {
    for await (const batch of upstream.batches) {
      if (signal.aborted) break;
      let out: StreamEvent[] | undefined;
      for (const event of batch) {
        const produced = converter.push(event);
        if (produced.length) out = out ? out.concat(produced) : produced;
      }
      if (out) await emit(out);
      if (converter.ended) break;
    }
  } catch (err) {
    if (!signal.aborted) failure = describeUpstreamFailure(err);
  }
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof ShutdownAbort) failure = { type: 'overloaded_error', message: reason.message };
    else return null; // client gone: nobody to write to
  }
  const closing = failure ? converter.finish({ error: failure }) : converter.finish();
  obs.finished(converter, failure);
  return closing;
}

function describeUpstreamFailure(err: unknown): { type: ErrorType; message: string } {
  const e = err as { code?: string; name?: string; message?: string };
  if (e?.code === 'UND_ERR_BODY_TIMEOUT') {
    return { type: 'api_error', message: 'Upstream stalled: no data received within the idle timeout' };
  }
  if (e?.name === 'FrameError') {
    return { type: 'api_error', message: `Upstream stream was corrupted or cut off (${e.message})` };
  }
  if (e?.name === 'EventPayloadError') {
    return { type: 'api_error', message: `Upstream sent an event that cannot be read (${e.message})` };
  }
  return { type: 'api_error', message: 'Upstream connection failed mid-stream' };
}

/** Sets the SSE head; it goes out with the first body write (or at once with `flush`, for pings). */
function writeHead(ctx: Context, flush: boolean): ServerResponse {
  ctx.respond = false;
  const res = ctx.res;
  const requestId = ctx.state.requestId as string | undefined;
  const headers: Record<string, string> = { ...SSE_HEADERS };
  if (requestId) headers['request-id'] = requestId;
  for (const [name, value] of Object.entries(ctx.response.headers)) {
    if (typeof value === 'string' && !(name in headers)) headers[name] = value;
  }
  res.writeHead(200, headers);
  if (flush) res.flushHeaders();
  return res;
}

/** The client read nothing for `sse.writeStallTimeoutMs` while its socket buffer was full. */
export class ClientStalled extends Error {
  constructor(readonly timeoutMs: number) {
    super(`client read nothing for ${timeoutMs} ms with its socket buffer full (sse.writeStallTimeoutMs)`);
    this.name = 'ClientStalled';
  }
}

/**
 * Writes with backpressure: resolves at once when the socket buffer has room, else on drain. While
 * it waits for a drain the upstream is not read, so a client that never reads would hold its
 * upstream call and admission slot forever: after `stallMs` without a drain `onStall` cuts it off.
 */
function write(res: ServerResponse, text: string, signal: AbortSignal, stallMs: number, onStall: () => void): Promise<void> | undefined {
  if (res.destroyed) return undefined;
  if (res.write(text)) return undefined;
  const timer = stallMs > 0 ? setTimeout(onStall, stallMs) : undefined;
  return once(res, 'drain', { signal }).then(
    () => clearTimeout(timer),
    () => clearTimeout(timer),
  );
}

/** Sends an SSE ping every `intervalMs` (0 = never); returns the function that stops it. */
function startPings(intervalMs: number, tick: () => void): () => void {
  if (intervalMs <= 0) return () => {};
  const timer = setInterval(tick, intervalMs);
  return () => clearInterval(timer);
}

async function streamResponse(
  ctx: Context,
  deps: MessagesDeps,
  converter: KiroToAnthropicStream,
  upstream: OpenedUpstream,
  controller: AbortController,
  mode: StreamMode,
  obs: ReturnType<RequestObserver['begin']>,
): Promise<void> {
  const signal = controller.signal;
  if (mode === 'buffered') {
    await bufferedStream(ctx, deps, converter, upstream, signal, obs);
    return;
  }
  const res = writeHead(ctx, false);
  // Each socket write is a syscall. Writes made in one turn of the event loop leave together: the
  // head, message_start and the first batch (the first upstream chunk is already here), and a
  // whole upstream chunk's events with the end when the upstream finished in that chunk too.
  let corked = false;
  const uncork = () => {
    corked = false;
    res.uncork();
  };
  const stallMs = deps.config.sse.writeStallTimeoutMs;
  const onStall = () => {
    if (signal.aborted) return;
    const reason = new ClientStalled(stallMs);
    obs.clientStalled();
    ctx.state.log?.warn?.({ stallMs }, 'client stopped reading a stream; cut off to free its upstream');
    (ctx.state.logFields as Record<string, unknown>).streamError = reason.message;
    controller.abort(reason);
    res.destroy();
  };
  const send = (text: string) => {
    if (!corked) {
      corked = true;
      res.cork();
      setImmediate(uncork);
    }
    return write(res, text, signal, stallMs, onStall);
  };
  let wroteSinceTick = false;
  const stopPings = startPings(deps.config.sse.pingIntervalMs, () => {
    if (!wroteSinceTick && !res.destroyed) res.write(SSE_PING);
    wroteSinceTick = false;
  });
  try {
    const start = converter.start();
    obs.sseEvents(start);
    obs.firstByte();
    await send(encodeSseEvents(start));
    const closing = await convertUpstream(upstream, converter, signal, obs, (events) => {
      wroteSinceTick = true;
      obs.sseEvents(events);
      return send(encodeSseEvents(events));
    });
    if (closing && !res.destroyed) {
      obs.sseEvents(closing);
      res.end(encodeSseEvents(closing));
    }
  } finally {
    stopPings();
    if (!res.writableEnded && !res.destroyed) res.end();
  }
}

/** `/cc/v1`: pings while the upstream streams, then every event at once with the real input_tokens. */
async function bufferedStream(
  ctx: Context,
  deps: MessagesDeps,
  converter: KiroToAnthropicStream,
  upstream: OpenedUpstream,
  signal: AbortSignal,
  obs: ReturnType<RequestObserver['begin']>,
): Promise<void> {
  const res = writeHead(ctx, true);
  const stopPings = startPings(deps.config.sse.pingIntervalMs, () => {
    if (!res.destroyed) res.write(SSE_PING);
  });
  try {
    const held: StreamEvent[] = converter.start();
    const closing = await convertUpstream(upstream, converter, signal, obs, (events) => {
      for (const e of events) held.push(e);
    });
    if (!closing || res.destroyed) return;
    const start = held[0];
    if (start?.type === 'message_start') start.message.usage.input_tokens = converter.inputTokens;
    // A failed buffered stream shows only the error: partial content would be accounted as a full turn.
    // The error may have come with the events (an upstream error frame) rather than with the end.
    const error = converter.error;
    const out: StreamEvent[] = error ? [{ type: 'error', error }] : held.concat(closing);
    obs.firstByte();
    obs.sseEvents(out);
    res.end(encodeSseEvents(out));
  } finally {
    stopPings();
    if (!res.writableEnded && !res.destroyed) res.end();
  }
}

async function jsonResponse(
  ctx: Context,
  converter: KiroToAnthropicStream,
  upstream: OpenedUpstream,
  controller: AbortController,
  obs: ReturnType<RequestObserver['begin']>,
): Promise<void> {
  const events: StreamEvent[] = converter.start();
  const closing = await convertUpstream(upstream, converter, controller.signal, obs, (batch) => {
    for (const e of batch) events.push(e);
  });
  if (!closing) return;
  const collected = collectMessage(events.concat(closing));
  if ('error' in collected) {
    throw midStreamError(collected.error);
  }
  collected.message.usage.input_tokens = converter.inputTokens;
  ctx.status = 200;
  ctx.body = collected.message;
  obs.firstByte();
}

