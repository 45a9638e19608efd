/**
 * Whether the Redis store can write now, and its way back after an outage.
 *
 * Any error that is not a Redis reply marks the store degraded: reads keep serving the local copy,
 * updates queue (CredentialMirror.queueUpdate), durable-only writes fail with StoreUnavailableError.
 * When the connection is ready again, {@link Availability.reconcile} re-seeds a Redis that lost its
 * data (no `meta` key) from the local copy, writes the queued updates, then resyncs; only then is the
 * store online again. A failed reconcile is retried every second from the store's tick.
 */
import { ApiError } from '../../errors.js';
import { isReplyError, type RedisClient } from './connection.js';
import type { CredentialMirror, StoreLog } from './mirror.js';

/** A durable write that cannot be done while Redis is unreachable (add, remove). */
export class StoreUnavailableError extends ApiError {
  constructor(action: string, cause?: unknown) {
    super(`credential store unavailable (Redis unreachable): cannot ${action} now, try again later`, { status: 503, cause });
  }
}

const RECONCILE_RETRY_MS = 1_000;

/** Online/degraded state of the store's command connection, and reconciliation after an outage. */
export class Availability {
  private started = false;
  private stopped = false;
  private reconciling = false;
  private needsReconcile = false;
  private lastReconcileAt = 0;
  private degradedSince: number | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly client: RedisClient,
    private readonly mirror: CredentialMirror,
    private readonly log: StoreLog,
    /** Called after a successful reconcile (the store flushes pending stats then). */
    private readonly afterReconcile: () => void,
  ) {
    this.client.on('error', (err: Error) => (this.lastError = err.message));
    this.client.on('close', () => {
      if (this.started && !this.stopped) this.markDegraded(new Error(this.lastError ?? 'connection closed'));
    });
    this.client.on('ready', () => {
      if (this.started && !this.stopped) void this.reconcile();
    });
  }

  /** The store has started: connection losses and reconnects count from now on. */
  start(): void {
    this.started = true;
  }

  /** The store is closing: it is no longer online, and nothing reconciles any more. */
  stop(): void {
    this.stopped = true;
  }

  get closed(): boolean {
    return this.stopped;
  }

  /** Redis is usable for writes: connected, and any reconciliation after an outage is done. */
  get online(): boolean {
    return this.client.status === 'ready' && !this.reconciling && !this.needsReconcile && !this.stopped;
  }

  /** The connected-again state where a reconcile should be (re)tried now. */
  get reconcileDue(): boolean {
    return this.needsReconcile && this.client.status === 'ready' && Date.now() - this.lastReconcileAt >= RECONCILE_RETRY_MS;
  }

  /** The last Redis operation failed for want of Redis (not a Redis reply). */
  markDegraded(err: unknown): void {
    this.lastError = err instanceof Error ? err.message : String(err);
    this.needsReconcile = true;
    if (this.degradedSince === undefined) {
      this.degradedSince = Date.now();
      this.log('warn', 'Redis unreachable: serving credentials from the local copy', { error: this.lastError });
    }
  }

  /** Runs a write that cannot be queued: fails with StoreUnavailableError while Redis is unreachable. */
  async durable<T>(action: string, write: () => Promise<T>): Promise<T> {
    if (!this.online) throw new StoreUnavailableError(action);
    try {
      return await write();
    } catch (err) {
      if (isReplyError(err)) throw err;
      this.markDegraded(err);
      throw new StoreUnavailableError(action, err);
    }
  }

  /** After an outage: re-seed a Redis that lost its data, write queued updates, resync. */
  async reconcile(): Promise<void> {
    if (this.reconciling || this.stopped) return;
    this.reconciling = true;
    this.needsReconcile = true;
    this.lastReconcileAt = Date.now();
    try {
      await this.mirror.preload();
      if (!(await this.mirror.hasData())) await this.mirror.seedFromLocal();
      await this.mirror.drainQueue(); // update() keeps queueing while this runs
      this.needsReconcile = false;
      this.reconciling = false;
      await this.mirror.read(undefined);
      if (this.degradedSince !== undefined) {
        this.log('info', 'Redis reachable again: local copy reconciled', { downMs: Date.now() - this.degradedSince });
      }
      this.degradedSince = undefined;
      this.afterReconcile();
    } catch (err) {
      this.markDegraded(err);
    } finally {
      this.reconciling = false;
    }
  }

  /** What `health()` says while degraded. */
  describeOutage(): string {
    const since = new Date(this.degradedSince ?? Date.now()).toISOString();
    return (
      `Redis unreachable since ${since} (${this.lastError ?? 'unknown error'}); serving the local copy; ` +
      `${this.mirror.queued.size} credential update(s) and ${this.mirror.stats.pendingCount} stats change(s) waiting`
    );
  }
}
