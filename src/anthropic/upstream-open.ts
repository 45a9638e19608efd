/**
 * One upstream attempt, up to its first decoded events. Everything that can go wrong before the
 * client has seen a byte — no answer within the first-byte timeout, a connection dropped before the
 * first frame, a corrupt or unreadable first frame — is reported as a network failure, which the
 * credential pool retries (on the same or another credential) like a dropped connection.
 */
import type { UpstreamResult, UpstreamStream } from '../kiro/client.js';
import { kiroEventBatches, type KiroEventBatchesOptions } from '../kiro/events.js';
import type { KiroEvent } from '../kiro/types.js';

/** Kiro sent neither headers nor a first event frame in time. */
export class FirstByteTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no event from Kiro within ${timeoutMs} ms (upstream.firstByteTimeoutMs)`);
    this.name = 'FirstByteTimeout';
  }
}

/** An upstream answer whose first batch of events has arrived and decoded cleanly. */
export interface OpenedUpstream {
  /** Every batch of events, the first one included. Stop iterating (break) to close the upstream. */
  batches: AsyncIterable<KiroEvent[]>;
  /** Stops following the request signal and closes the upstream body if still open; call once the stream is over. */
  close(): void;
}

/** Options of {@link openUpstream}. */
export interface OpenUpstreamOptions extends KiroEventBatchesOptions {
  /** The request's signal (client gone, shutdown); the attempt follows it for its whole life. */
  signal: AbortSignal;
  /** Time allowed for connect + response head + first event frame; 0 = no limit. */
  firstByteTimeoutMs: number;
}

/**
 * Calls `generate` with a signal of its own (the request's, plus the first-byte deadline) and waits
 * for the first batch of events.
 *
 * @example
 * const opened = await openUpstream((s) => client.generate(body, cred, token, s), { signal, firstByteTimeoutMs: 120_000 });
 */
export async function openUpstream(
  generate: (signal: AbortSignal) => Promise<UpstreamResult<UpstreamStream>>,
  opts: OpenUpstreamOptions,
): Promise<UpstreamResult<OpenedUpstream>> {
  const { signal, firstByteTimeoutMs } = opts;
  const attempt = new AbortController();
  const follow = () => attempt.abort(signal.reason);
  if (signal.aborted) follow();
  else signal.addEventListener('abort', follow, { once: true });
  const unlink = () => signal.removeEventListener('abort', follow);
  const timer = firstByteTimeoutMs > 0 ? setTimeout(() => attempt.abort(new FirstByteTimeout(firstByteTimeoutMs)), firstByteTimeoutMs) : undefined;
  try {
    const result = await generate(attempt.signal);
    if (!result.ok) {
      unlink();
      return timedOut(attempt.signal, result);
    }
    const events = kiroEventBatches(result.value.chunks, opts)[Symbol.asyncIterator]();
    let first: IteratorResult<KiroEvent[]>;
    try {
      first = await events.next();
    } catch (err) {
      await events.return?.(undefined);
      unlink();
      return timedOut(attempt.signal, { ok: false, networkError: err });
    }
    const close = () => {
      unlink();
      void events.return?.(undefined).catch(() => undefined);
    };
    return { ok: true, value: { batches: withFirst(first, events), close } };
  } finally {
    clearTimeout(timer);
  }
}

/** Names the first-byte timeout as the failure when it was the cause, whatever undici reported. */
function timedOut<T>(signal: AbortSignal, result: Exclude<UpstreamResult<T>, { ok: true }>): UpstreamResult<T> {
  return signal.reason instanceof FirstByteTimeout ? { ok: false, networkError: signal.reason } : result;
}

async function* withFirst(first: IteratorResult<KiroEvent[]>, rest: AsyncIterator<KiroEvent[]>): AsyncGenerator<KiroEvent[]> {
  try {
    if (first.done) return;
    yield first.value;
    for (;;) {
      const next = await rest.next();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // Leaving early (client gone, converter ended) closes the decoder and with it the upstream body.
    await rest.return?.(undefined);
  }
}
