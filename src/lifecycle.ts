import { OverloadedError } from './errors.js';

/**
 * Tracks open streams so shutdown can drain them: stop accepting, flip readiness, let streams
 * finish within the grace period, then end the rest with a clean SSE error event.
 */
export class ShutdownAbort extends OverloadedError {
  constructor() {
    super('The gateway is shutting down; retry the request');
    this.name = 'ShutdownAbort';
  }
}

export class Lifecycle {
  private drainingFlag = false;
  private readonly streams = new Set<{ abort(reason: unknown): void }>();
  private readonly idleWaiters = new Set<() => void>();

  get draining(): boolean {
    return this.drainingFlag;
  }

  get inFlight(): number {
    return this.streams.size;
  }

  /** Registers a stream's controller (aborted on a drain that runs out); returns the function that unregisters it. */
  track(controller: { abort(reason: unknown): void }): () => void {
    this.streams.add(controller);
    return () => {
      this.streams.delete(controller);
      if (this.streams.size === 0) for (const wake of this.idleWaiters) wake();
    };
  }

  /** Flips readiness (`/readyz` answers 503) without touching open streams; `drain` does it too. */
  markDraining(): void {
    this.drainingFlag = true;
  }

  /** Flips readiness, waits up to `graceMs` for streams to finish, then aborts the remaining ones. */
  async drain(graceMs: number): Promise<{ finished: boolean; aborted: number }> {
    this.drainingFlag = true;
    if (this.streams.size === 0) return { finished: true, aborted: 0 };
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => {
      const wake = () => resolve(true);
      this.idleWaiters.add(wake);
      timer = setTimeout(() => {
        this.idleWaiters.delete(wake);
        resolve(false);
      }, graceMs);
    });
    const finished = await idle;
    clearTimeout(timer);
    if (finished) return { finished: true, aborted: 0 };
    const remaining = [...this.streams];
    for (const controller of remaining) controller.abort(new ShutdownAbort());
    // Give the aborted pipelines a moment to write their closing error event.
    await new Promise<void>((resolve) => {
      if (this.streams.size === 0) return resolve();
      const wake = () => resolve();
      this.idleWaiters.add(wake);
      setTimeout(resolve, 2_000).unref();
    });
    return { finished: false, aborted: remaining.length };
  }
}
