/**
 * Admission control: how many upstream-backed requests one replica serves at once. A request over
 * the limit waits in a short FIFO queue; when the queue is full, or the wait runs out, it is shed at
 * once with 529 `overloaded_error` and `retry-after`, so the client or the load balancer tries
 * again (elsewhere). A replica never leaves a request without an answer: every request is served,
 * queued for a bounded time, or refused. The limit is the only concurrency cap on upstream calls
 * (the upstream connection pool is sized from it, see KiroClient).
 */
import { OverloadedError } from '../errors.js';
import type { AbortLike } from '../http/request-abort.js';

/** Settings of {@link Admission} (config `admission.*`). */
export interface AdmissionLimits {
  /** Upstream-backed requests served at once; 0 = no limit (and no queue). */
  maxConcurrent: number;
  /** Requests allowed to wait for a slot; beyond that a request is shed at once. */
  queueSize: number;
  /** Longest wait for a slot (ms) before the request is shed. */
  queueTimeoutMs: number;
}

/** Why a request was refused. */
export type ShedReason = 'queue_full' | 'queue_timeout';

/** What admission did with one request (for metrics). */
export type AdmissionEvent = { type: 'admitted'; queued: boolean; waitMs: number } | { type: 'shed'; reason: ShedReason };

/** The admission state right now, for /readyz and the gauges. */
export interface AdmissionSnapshot {
  active: number;
  queued: number;
  limit: number;
  queueSize: number;
  /** Every slot is taken: new requests wait or are shed. */
  saturated: boolean;
}

/** A request refused by admission control: 529 overloaded_error with `retry-after`. */
export class AdmissionRefused extends OverloadedError {
  constructor(
    readonly reason: ShedReason,
    retryAfterSeconds: number,
    limits: AdmissionLimits,
  ) {
    super(
      reason === 'queue_full'
        ? `This replica is at its limit of ${limits.maxConcurrent} concurrent upstream requests and ${limits.queueSize} waiting; retry the request`
        : `No upstream slot became free on this replica within ${limits.queueTimeoutMs} ms; retry the request`,
      { retryAfterSeconds },
    );
  }
}

interface Waiter {
  grant: () => void;
  enqueuedAt: number;
}

/**
 * A counting semaphore with a bounded, time-limited FIFO queue.
 *
 * @example
 * const release = await admission.acquire(signal); // throws AdmissionRefused, or signal.reason
 * try { await serve(); } finally { release(); }
 */
export class Admission {
  private activeCount = 0;
  private readonly queue = new Set<Waiter>();
  private readonly retryAfterSeconds: number;

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly onEvent: (e: AdmissionEvent) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    this.retryAfterSeconds = Math.max(1, Math.ceil(limits.queueTimeoutMs / 1000));
  }

  snapshot(): AdmissionSnapshot {
    const { maxConcurrent, queueSize } = this.limits;
    return {
      active: this.activeCount,
      queued: this.queue.size,
      limit: maxConcurrent,
      queueSize,
      saturated: maxConcurrent > 0 && this.activeCount >= maxConcurrent,
    };
  }

  /**
   * Takes a slot, waiting in the queue if needed. Resolves with the release function (idempotent);
   * rejects with {@link AdmissionRefused}, or with `signal.reason` when the signal aborts first.
   */
  acquire(signal: AbortLike): Promise<() => void> {
    signal.throwIfAborted();
    const { maxConcurrent, queueSize, queueTimeoutMs } = this.limits;
    if (maxConcurrent <= 0 || this.activeCount < maxConcurrent) {
      this.activeCount++;
      this.onEvent({ type: 'admitted', queued: false, waitMs: 0 });
      return Promise.resolve(this.releaser());
    }
    if (this.queue.size >= queueSize) return Promise.reject(this.shed('queue_full'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        enqueuedAt: this.now(),
        grant: () => {
          cleanup();
          this.onEvent({ type: 'admitted', queued: true, waitMs: this.now() - waiter.enqueuedAt });
          resolve(this.releaser());
        },
      };
      const onAbort = () => {
        cleanup();
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(this.shed('queue_timeout'));
      }, queueTimeoutMs);
      const cleanup = () => {
        this.queue.delete(waiter);
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.add(waiter);
    });
  }

  private shed(reason: ShedReason): AdmissionRefused {
    this.onEvent({ type: 'shed', reason });
    return new AdmissionRefused(reason, this.retryAfterSeconds, this.limits);
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Hand the slot straight to the oldest waiter (the count stays), else give it back.
      const next = this.queue.values().next();
      if (!next.done) next.value.grant();
      else this.activeCount--;
    };
  }
}
