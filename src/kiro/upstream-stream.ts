/**
 * One streamed generateAssistantResponse call, read through undici's `dispatch` API: the body goes
 * from undici's HTTP parser straight into the event decoder, and each chunk's events are handed to
 * the reader in the same turn. undici's `request()` wraps a body in a Readable stream read through
 * an async iterator, and the gateway stacked three async generators on top (first chunk, decoding,
 * first batch); this class is the whole of that path (a small streamed request's CPU 0.96× at 50
 * streams, 0.84× at 200; bench/README.md).
 *
 * An attempt has two phases:
 * - opening (`opened`): until the answer can be classified for the credential pool — a non-2xx
 *   status with its body text, a network failure, or the first batch of events (or the clean end
 *   of a body that had none). Everything that goes wrong before that, including no first event
 *   within the first-byte timeout, a connection dropped, an empty 200, or a corrupt or unreadable
 *   first frame, is a network failure, which the pool retries: the client has seen nothing yet.
 * - reading (`read`): every batch, the first one included, goes to the reader as it is decoded,
 *   until the body ends (resolves) or breaks (rejects with what broke it, after the batches
 *   decoded before the fault). `pause`/`resume` apply backpressure to the socket.
 *
 * The request's signal (client gone, shutdown) aborts the call in either phase.
 */
import type { Dispatcher } from 'undici';
import type { KiroEvent } from './types.js';
import { KiroEventDecoder, type KiroEventBatchesOptions } from './events.js';
import type { AbortLike } from '../http/request-abort.js';

/** Kiro sent neither headers nor a first event frame in time. */
export class FirstByteTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no event from Kiro within ${timeoutMs} ms (upstream.firstByteTimeoutMs)`);
    this.name = 'FirstByteTimeout';
  }
}

/** What one upstream attempt produced, in the shape the credential pool classifies (protocol §9.2). */
export type UpstreamResult<T> =
  | { ok: true; value: T }
  | { ok: false; status: number; body: string }
  | { ok: false; networkError: unknown };

/** Options of one streamed call. */
export interface UpstreamStreamOptions extends KiroEventBatchesOptions {
  /** The request's signal (client gone, shutdown); the call follows it for its whole life. */
  signal: AbortLike;
  /** Time allowed for connect + response head + first event frame; 0 = no limit. */
  firstByteTimeoutMs: number;
}

/** The reader stopped reading (converter ended, client gone): the body is not needed any more. */
class ReaderClosed extends Error {
  constructor() {
    super('upstream body no longer read');
    this.name = 'ReaderClosed';
  }
}

type Controller = Dispatcher.DispatchController;

/**
 * A streamed call in progress; also the undici dispatch handler of that call.
 *
 * @example
 * const call = new UpstreamEventStream({ signal, firstByteTimeoutMs: 120_000 });
 * dispatcher.dispatch({ origin, path, method: 'POST', headers, body }, call);
 * const opened = await call.opened;          // UpstreamResult<UpstreamEventStream>
 * if (opened.ok) await opened.value.read((events) => converter.push(...events));
 */
export class UpstreamEventStream implements Dispatcher.DispatchHandler {
  /** Settles once the attempt can be classified (see the module comment); never rejects. */
  readonly opened: Promise<UpstreamResult<UpstreamEventStream>>;

  private readonly decoder: KiroEventDecoder;
  private readonly signal: AbortLike;
  private controller: Controller | undefined;
  private abortReason: unknown;
  private settleOpened!: (result: UpstreamResult<UpstreamEventStream>) => void;
  private isOpen = false;
  private timer: NodeJS.Timeout | undefined;
  /** Status of the response head; 0 before it. */
  private status = 0;
  /** Body of a non-2xx answer. */
  private errorBody: Buffer[] | undefined;
  private sawData = false;
  /** Batches decoded but not delivered yet (before `read`, or while paused). */
  private pending: KiroEvent[][] = [];
  private onBatch: ((events: KiroEvent[]) => void) | undefined;
  private paused = false;
  /** How the body ended: undefined while it flows, null when it ended cleanly, else the fault. */
  private outcome: { fault: unknown } | null | undefined;
  private settleRead: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  private closed = false;

  constructor(opts: UpstreamStreamOptions) {
    this.decoder = new KiroEventDecoder(opts);
    this.signal = opts.signal;
    this.opened = new Promise((resolve) => (this.settleOpened = resolve));
    if (this.signal.aborted) {
      this.abort(this.signal.reason);
      return;
    }
    this.signal.addEventListener('abort', this.onSignal);
    if (opts.firstByteTimeoutMs > 0) {
      this.timer = setTimeout(() => this.abort(new FirstByteTimeout(opts.firstByteTimeoutMs)), opts.firstByteTimeoutMs);
    }
  }

  /**
   * Delivers every batch of events to `onBatch` as it is decoded (those already decoded at once);
   * resolves when the body ended cleanly or `close` was called, rejects with what broke the body.
   * Call once, after `opened` resolved with this stream.
   */
  read(onBatch: (events: KiroEvent[]) => void): Promise<void> {
    this.onBatch = onBatch;
    const done = new Promise<void>((resolve, reject) => (this.settleRead = { resolve, reject }));
    this.flush();
    return done;
  }

  /** Stops delivering (and reading the socket) until `resume`: the reader's own writes are backed up. */
  pause(): void {
    this.paused = true;
    this.controller?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.flush();
    if (!this.paused) this.controller?.resume();
  }

  /** The reader is done: stops the call (closing its connection if the body was not over); `read` resolves. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unlink();
    if (this.outcome === undefined) this.controller?.abort(new ReaderClosed());
    this.settleRead?.resolve();
  }

  // --- undici's side (Dispatcher.DispatchHandler) ---

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    if (this.abortReason !== undefined) controller.abort(this.abortReason as Error);
  }

  onResponseStart(_controller: Controller, statusCode: number): void {
    if (statusCode < 200) return; // informational
    this.status = statusCode;
    if (statusCode >= 300) this.errorBody = [];
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    if (this.closed) return;
    if (this.errorBody) {
      this.errorBody.push(chunk);
      return;
    }
    this.sawData = true;
    const { events, fault } = this.decoder.decode(chunk);
    if (events.length > 0) {
      this.pending.push(events);
      this.markOpen();
    }
    if (fault !== undefined) {
      // Nothing after a corrupt frame can be trusted: stop reading (the connection is dropped).
      this.fail(fault);
      this.controller?.abort(fault as Error);
      return;
    }
    this.flush();
  }

  onResponseEnd(): void {
    if (this.closed) return;
    if (this.errorBody) {
      this.settleErrorAnswer();
      return;
    }
    try {
      this.decoder.finish();
    } catch (fault) {
      this.fail(fault);
      return;
    }
    // Kiro always sends at least its metering/context frames: an empty 200 is a broken answer, and
    // nothing has reached the client yet, so it is retried like a dropped connection.
    if (!this.sawData) {
      this.fail(new Error('upstream answered 200 with an empty body'));
      return;
    }
    this.markOpen();
    this.finished(null);
  }

  onResponseError(_controller: Controller | undefined, err: Error): void {
    if (this.closed) return;
    // A non-2xx answer whose body broke off still classifies by its status.
    if (this.errorBody && this.status > 0) {
      this.settleErrorAnswer();
      return;
    }
    this.fail(this.abortReason instanceof FirstByteTimeout ? this.abortReason : err);
  }

  // --- internals ---

  /** Settles the call with the non-2xx answer's status and the body read of it. */
  private settleErrorAnswer(): void {
    this.resolveOpened({ ok: false, status: this.status, body: Buffer.concat(this.errorBody!).toString('utf8') });
    this.finished(null);
  }

  private readonly onSignal = (): void => this.abort(this.signal.reason);

  private abort(reason: unknown): void {
    if (this.abortReason !== undefined || this.outcome !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason as Error);
    // Not dispatched on a connection yet: nothing will call back, so settle here.
    if (!this.controller) this.fail(reason);
  }

  private markOpen(): void {
    if (this.isOpen) return;
    this.isOpen = true;
    this.resolveOpened({ ok: true, value: this });
  }

  private resolveOpened(result: UpstreamResult<UpstreamEventStream>): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.settleOpened(result);
  }

  /** A fault: before the first batch it is the attempt's network failure, after it the reader's error. */
  private fail(fault: unknown): void {
    if (!this.isOpen) this.resolveOpened({ ok: false, networkError: fault });
    this.finished({ fault });
  }

  private finished(outcome: { fault: unknown } | null): void {
    if (this.outcome !== undefined) return;
    this.outcome = outcome;
    this.unlink();
    this.flush();
  }

  /** Delivers pending batches while not paused; then settles `read` if the body is over. */
  private flush(): void {
    const onBatch = this.onBatch;
    if (!onBatch || this.closed) return;
    while (this.pending.length > 0 && !this.paused) {
      try {
        onBatch(this.pending.shift()!);
      } catch (err) {
        // The reader's own failure (never undici's to see): the call ends with it.
        const settle = this.settleRead;
        this.settleRead = undefined;
        this.close();
        settle?.reject(err);
        return;
      }
      if (this.closed) return;
    }
    if (this.pending.length > 0 || this.outcome === undefined || !this.settleRead) return;
    const settle = this.settleRead;
    this.settleRead = undefined;
    if (this.outcome === null) settle.resolve();
    else settle.reject(this.outcome.fault);
  }

  private unlink(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.signal.removeEventListener('abort', this.onSignal);
  }
}
