/**
 * The three ways of answering a messages request from an opened upstream: a live SSE stream
 * (`/v1`), a buffered SSE stream (`/cc/v1`) and a JSON message (`stream: false`). All three read
 * the upstream through the same converter, so they share one set of semantics.
 */
import type { GatewayConfig } from '../config.js';
import { sendJson, type Exchange } from '../http/exchange.js';
import type { StreamEvent } from './types.js';
import type { KiroToAnthropicStream } from '../convert/stream.js';
import { encodeSseEvents, SSE_PING } from '../convert/sse.js';
import { collectMessage } from '../convert/message.js';
import type { UpstreamEventStream } from '../kiro/upstream-stream.js';
import { midStreamError, type ErrorType } from '../errors.js';
import { ShutdownAbort } from '../lifecycle.js';
import type { RequestObservation } from './observer.js';
import { ClientStalled, SseBody, startPings, writeHead } from './sse-writer.js';
import { ANTHROPIC_FORMAT, type AnswerFormat } from './answer-format.js';
import type { AbortLike, RequestAbort } from '../http/request-abort.js';

/** `/v1` streams as events arrive; `/cc/v1` holds them until the end so message_start has real input_tokens. */
export type StreamMode = 'live' | 'buffered';

/**
 * Reads every upstream batch of events through the converter, handing each batch's output to `emit`
 * as it arrives; when `emit` returns a promise (the client's socket is backed up) the upstream is
 * paused until it settles. Returns the closing events (message_delta/stop, or an error event when
 * the upstream failed, was corrupt or was cut) so the caller can send them with the end of the
 * response in one write, or null when the client is gone.
 */
async function convertUpstream(
  upstream: UpstreamEventStream,
  converter: KiroToAnthropicStream,
  signal: AbortLike,
  obs: RequestObservation,
  emit: (events: StreamEvent[]) => void | Promise<void>,
): Promise<StreamEvent[] | null> {
  let failure: { type: ErrorType; message: string } | undefined;
  try {
    await upstream.read((batch) => {
      if (signal.aborted) return upstream.close();
      const out = converter.pushAll(batch);
      const backedUp = out.length > 0 && emit(out);
      if (backedUp) {
        upstream.pause();
        void backedUp.then(() => upstream.resume());
      }
      if (converter.ended) upstream.close();
    });
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

/** An SSE answer: live, each upstream chunk's events as they come, or buffered (`/cc/v1`). */
export async function streamResponse(
  exchange: Exchange,
  sse: GatewayConfig['sse'],
  converter: KiroToAnthropicStream,
  upstream: UpstreamEventStream,
  abort: RequestAbort,
  mode: StreamMode,
  obs: RequestObservation,
  format: AnswerFormat = ANTHROPIC_FORMAT,
): Promise<void> {
  if (mode === 'buffered') {
    await bufferedStream(exchange, sse, converter, upstream, abort, obs);
    return;
  }
  const res = writeHead(exchange.res, false);
  const encoder = format.sseEncoder();
  const stallMs = sse.writeStallTimeoutMs;
  const onStall = () => {
    if (abort.aborted) return;
    const reason = new ClientStalled(stallMs);
    obs.clientStalled();
    exchange.log?.warn({ stallMs }, 'client stopped reading a stream; cut off to free its upstream');
    exchange.logFields.streamError = reason.message;
    abort.abort(reason);
    res.destroy();
  };
  // Written once per turn of the event loop: message_start with the first upstream chunk's events
  // (already decoded when the upstream opened), and with the end when the upstream finished in it.
  const body = new SseBody(res, abort, stallMs, onStall);
  let wroteSinceTick = false;
  const stopPings = startPings(sse.pingIntervalMs, () => {
    if (!wroteSinceTick) body.send(encoder.ping);
    wroteSinceTick = false;
  });
  try {
    const start = converter.start();
    obs.sseEvents(start);
    obs.firstByte();
    body.send(encoder.encode(start));
    const closing = await convertUpstream(upstream, converter, abort, obs, (events) => {
      wroteSinceTick = true;
      obs.sseEvents(events);
      return body.send(encoder.encode(events));
    });
    if (closing && !res.destroyed) {
      obs.sseEvents(closing);
      body.end(encoder.encode(closing));
    }
  } finally {
    stopPings();
    body.end();
  }
}

/** `/cc/v1`: pings while the upstream streams, then every event at once with the real input_tokens. */
async function bufferedStream(
  exchange: Exchange,
  sse: GatewayConfig['sse'],
  converter: KiroToAnthropicStream,
  upstream: UpstreamEventStream,
  signal: AbortLike,
  obs: RequestObservation,
): Promise<void> {
  const res = writeHead(exchange.res, true);
  const stopPings = startPings(sse.pingIntervalMs, () => {
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

/** A `stream: false` answer: the whole message as one JSON body. */
export async function jsonResponse(
  exchange: Exchange,
  converter: KiroToAnthropicStream,
  upstream: UpstreamEventStream,
  signal: AbortLike,
  obs: RequestObservation,
  format: AnswerFormat = ANTHROPIC_FORMAT,
): Promise<void> {
  const events: StreamEvent[] = converter.start();
  const closing = await convertUpstream(upstream, converter, signal, obs, (batch) => {
    for (const e of batch) events.push(e);
  });
  if (!closing) return;
  const collected = collectMessage(events.concat(closing));
  if ('error' in collected) {
    throw midStreamError(collected.error);
  }
  collected.message.usage.input_tokens = converter.inputTokens;
  sendJson(exchange.res, 200, format.jsonBody(collected.message));
  obs.firstByte();
}
