/**
 * Writing an SSE response to the socket: the head, the body written once per turn of the event
 * loop with backpressure that cuts off a client who stopped reading, and pings.
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
 * The body of a live SSE answer. Text sent in one turn of the event loop goes out in one write at
 * its end (setImmediate), or with the end of the response: one syscall, and for a small answer
 * whose events came in one upstream chunk one `res.write` (head, message_start, events and end
 * together) instead of three, each ~1 µs and ~1.5 KB of garbage in node's HTTP and stream code.
 *
 * Backpressure: once a write found the socket buffer full, `send` returns a promise that settles
 * on the drain; the caller reads no more upstream meanwhile. A client that never reads would so
 * hold its upstream call and admission slot forever: after `stallMs` without a drain `onStall`
 * cuts it off.
 */
export class SseBody {
  private pending = '';
  private scheduled = false;
  private drained: Promise<void> | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly signal: AbortLike,
    private readonly stallMs: number,
    private readonly onStall: () => void,
  ) {}

  /** Queues `text`; returns a promise when the socket is backed up (send nothing more until it settles). */
  send(text: string): Promise<void> | undefined {
    if (this.res.destroyed) return undefined;
    this.pending += text;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
    return this.res.writableNeedDrain ? this.drain() : undefined;
  }

  /** Ends the response with the queued text and `text`. */
  end(text = ''): void {
    const body = this.pending + text;
    this.pending = '';
    if (!this.res.writableEnded && !this.res.destroyed) this.res.end(body);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const text = this.pending;
    this.pending = '';
    if (text !== '' && !this.res.writableEnded && !this.res.destroyed) this.res.write(text);
  };

  /** Settles on the drain, or when the request is aborted (the caller then sees `signal.aborted`). */
  private drain(): Promise<void> {
    this.drained ??= new Promise<void>((resolve) => {
      const { res, signal } = this;
      const timer = this.stallMs > 0 ? setTimeout(this.onStall, this.stallMs) : undefined;
      const done = () => {
        clearTimeout(timer);
        res.off('drain', done);
        signal.removeEventListener('abort', done);
        this.drained = undefined;
        resolve();
      };
      res.once('drain', done);
      signal.addEventListener('abort', done);
      if (signal.aborted) done();
    });
    return this.drained;
  }
}

/** Sends an SSE ping every `intervalMs` (0 = never); returns the function that stops it. */
export function startPings(intervalMs: number, tick: () => void): () => void {
  if (intervalMs <= 0) return () => {};
  const timer = setInterval(tick, intervalMs);
  return () => clearInterval(timer);
}
