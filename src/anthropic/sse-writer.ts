/**
 * Writing an SSE response to the socket: the head, writes with backpressure that cut off a client
 * who stopped reading, and pings.
 */
import type { ServerResponse } from 'node:http';
import { SSE_HEADERS } from '../convert/sse.js';
import type { AbortLike } from '../http/request-abort.js';

/**
 * Sets the SSE head; it goes out with the first body write (or at once with `flush`, for pings).
 * Headers set before on the response (request id, CORS, x-kiro-model) go out with it.
 */
export function writeHead(res: ServerResponse, flush: boolean): ServerResponse {
  res.writeHead(200, SSE_HEADERS);
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
export function write(res: ServerResponse, text: string, signal: AbortLike, stallMs: number, onStall: () => void): Promise<void> | undefined {
  if (res.destroyed) return undefined;
  if (res.write(text)) return undefined;
  // Settles on the drain, or when the request is aborted (the caller then sees `signal.aborted`).
  return new Promise<void>((resolve) => {
    const timer = stallMs > 0 ? setTimeout(onStall, stallMs) : undefined;
    const done = () => {
      clearTimeout(timer);
      res.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    signal.addEventListener('abort', done);
    if (signal.aborted) done();
  });
}

/** Sends an SSE ping every `intervalMs` (0 = never); returns the function that stops it. */
export function startPings(intervalMs: number, tick: () => void): () => void {
  if (intervalMs <= 0) return () => {};
  const timer = setInterval(tick, intervalMs);
  return () => clearInterval(timer);
}
