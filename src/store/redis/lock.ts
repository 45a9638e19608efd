/**
 * Refresh locks: the single-instance Redlock algorithm on one Redis (primary). The store puts a
 * KeyedMutex in front so callers of one replica queue locally instead of polling Redis.
 *
 * The `redlock` package (5.0.0-beta.2) is not used: its package.json `exports` map has no `types`
 * entry, so under `moduleResolution: NodeNext` TypeScript cannot see its declarations (TS7016), and
 * its retry policy is a count, not the bounded wait a refresh waiter needs. The algorithm is small:
 * acquire with `SET key token NX PX ttl`, extend/release in Lua only while the key holds our token.
 */
import { randomBytes } from 'node:crypto';
import { ApiError } from '../../errors.js';
import { EXTEND_SCRIPT, RELEASE_SCRIPT } from './lua/lock.js';
import { LuaScript, type CommandTracker, type RedisClient } from './connection.js';

const EXTEND = new LuaScript('lock_extend', EXTEND_SCRIPT);
const RELEASE = new LuaScript('lock_release', RELEASE_SCRIPT);

/** The lock's scripts, for preloading. */
export const LOCK_SCRIPTS: readonly LuaScript[] = [EXTEND, RELEASE];

/** The lock could not be taken within the wait budget (another replica holds it that long). */
export class LockTimeoutError extends ApiError {
  constructor(
    readonly resource: string,
    readonly waitedMs: number,
  ) {
    super(`timed out after ${waitedMs} ms waiting for lock ${resource}`, { status: 503 });
  }
}

/** The reason of the AbortSignal handed to a lock holder when the lock can no longer be kept. */
export class LockLostError extends Error {
  constructor(
    readonly resource: string,
    options?: { cause?: unknown },
  ) {
    super(`lost lock ${resource}`, options);
    this.name = 'LockLostError';
  }
}

/** Settings of {@link RedisLock}. */
export interface RedisLockSettings {
  /** Lock TTL; a holder that dies (kill -9) blocks others at most this long. */
  readonly ttlMs: number;
  /** Longest a waiter waits before LockTimeoutError. Default 2 × ttlMs. */
  readonly waitMs?: number;
  /** Base pause between attempts; 0–50 % jitter is added so waiters do not retry in step. Default min(100, ttl/10). */
  readonly retryDelayMs?: number;
  readonly log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Distributed mutex on one Redis, with automatic extension while the routine runs. */
export class RedisLock {
  private readonly waitMs: number;
  private readonly retryDelayMs: number;

  constructor(
    private readonly client: RedisClient,
    private readonly tracker: CommandTracker,
    private readonly settings: RedisLockSettings,
  ) {
    if (!(settings.ttlMs >= 100)) throw new Error(`lock TTL must be at least 100 ms (got ${settings.ttlMs})`);
    this.waitMs = settings.waitMs ?? settings.ttlMs * 2;
    this.retryDelayMs = settings.retryDelayMs ?? Math.min(100, Math.floor(settings.ttlMs / 10));
  }

  /**
   * Runs `routine` while holding `resource`. The lock is extended every ttl/3; `signal` aborts (reason
   * LockLostError) when Redis says the lock is no longer ours, or extensions failed until it expired.
   * @example
   * await lock.using('p:lock:refresh:1', async (signal) => {
   *   const tokens = await refresh(credential, { signal }); // aborts the HTTP call if the lock is lost
   *   await store.update(1, tokens);
   * });
   */
  async using<T>(resource: string, routine: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const token = randomBytes(16).toString('hex');
    let validUntil = await this.acquire(resource, token);
    const controller = new AbortController();
    const every = Math.max(20, Math.floor(this.settings.ttlMs / 3));
    let timer: NodeJS.Timeout | undefined;
    let done = false;

    const extend = async () => {
      const sentAt = Date.now();
      try {
        const result = await this.tracker.run('evalsha:lock_extend', () =>
          EXTEND.run(this.client, [resource], [token, this.settings.ttlMs]),
        );
        if (result === 1) validUntil = sentAt + this.settings.ttlMs;
        else return controller.abort(new LockLostError(resource));
      } catch (err) {
        // Keep trying while the last confirmed expiry leaves room for another attempt.
        if (Date.now() + every >= validUntil) return controller.abort(new LockLostError(resource, { cause: err }));
        this.settings.log?.('warn', 'refresh lock extension failed; retrying', { resource, error: String(err) });
      }
      if (!done) timer = setTimeout(() => void extend(), every);
    };
    timer = setTimeout(() => void extend(), every);

    try {
      return await routine(controller.signal);
    } finally {
      done = true;
      clearTimeout(timer);
      await this.release(resource, token);
    }
  }

  /** Takes the lock, retrying with jitter until the wait budget is spent; returns the expiry time. */
  private async acquire(resource: string, token: string): Promise<number> {
    const started = Date.now();
    const deadline = started + this.waitMs;
    for (;;) {
      const sentAt = Date.now();
      const reply = await this.tracker.run('set:lock', () => this.client.set(resource, token, 'PX', this.settings.ttlMs, 'NX'));
      if (reply === 'OK') return sentAt + this.settings.ttlMs;
      const now = Date.now();
      if (now >= deadline) throw new LockTimeoutError(resource, now - started);
      const pause = this.retryDelayMs * (1 + Math.random() * 0.5);
      await sleep(Math.min(pause, deadline - now));
    }
  }

  private async release(resource: string, token: string): Promise<void> {
    try {
      await this.tracker.run('evalsha:lock_release', () => RELEASE.run(this.client, [resource], [token]));
    } catch (err) {
      // Harmless: the key expires on its own after the TTL.
      this.settings.log?.('warn', 'refresh lock release failed; it will expire', { resource, error: String(err) });
    }
  }
}
