/**
 * The refresh lock: Redlock (the `redlock` package) over one or more independent Redis masters — the
 * store's own Redis by default, or the `redis.lockNodes`, where a lock needs a majority of them. The
 * store puts a KeyedMutex in front, so one caller per replica asks Redis and the others queue locally.
 *
 * Redlock's settings come from the TTL:
 * - `using()` extends the lock every ttl/3 while the routine runs (automaticExtensionThreshold =
 *   ttl − ttl/3). When it cannot (another holder has it, or no majority answered until it expired),
 *   the routine's signal aborts with LockLostError.
 * - The waiter's bounded wait is retryCount × retryDelay ≈ waitMs (default 2 × ttl), each pause
 *   ± retryJitter so waiters do not retry in step; then LockTimeoutError (503). The retries are
 *   counted here, around single-attempt `using()` calls (retryCount 0), not inside Redlock: the
 *   package's own retry loop (5.0.0-beta.2) keeps the nodes a failed attempt did lock until all its
 *   retries are spent — two waiters that each locked one of the two nodes left of three then block
 *   each other for a whole TTL — and dates the lock's validity from its first attempt, so a lock
 *   won after more than a TTL of retrying is "expired" on arrival and its signal aborts at once. A
 *   single attempt releases what it locked when it fails, and dates validity from itself.
 * - Extension and release retry twice, so a lost lock is noticed within a few retryDelays rather
 *   than after a waiter's whole budget.
 * - A node that does not answer counts against. An attempt that failed without meeting another
 *   holder means no majority is reachable: the caller hears it at once (LockUnavailableError)
 *   instead of after the budget.
 *
 * A lock cannot stop a holder that paused past its TTL (GC, a stalled VM) from acting afterwards;
 * the store fences the writes themselves (TokenFence, UPDATE_SCRIPT).
 */
import Redlock, { ExecutionError, ResourceLockedError, type Settings } from 'redlock';
import { ApiError } from '../../errors.js';
import { LuaScript, type CommandTracker, type RedisClient } from './connection.js';
import type { StoreLog } from './mirror.js';

/** Shortest TTL: Redlock extends at least 100 ms before expiry, and we extend every ttl/3. */
export const MIN_LOCK_TTL_MS = 300;

/** The lock could not be taken within the wait budget (another replica holds it that long). */
export class LockTimeoutError extends ApiError {
  constructor(
    readonly resource: string,
    readonly waitedMs: number,
  ) {
    super(`timed out after ${waitedMs} ms waiting for lock ${resource}`, { status: 503 });
  }
}

/** No majority of the lock's Redis nodes answered: the lock can be neither taken nor refused. */
export class LockUnavailableError extends Error {
  constructor(
    readonly resource: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`lock ${resource}: no majority of its Redis nodes answered (${detail})`, options);
    this.name = 'LockUnavailableError';
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

/** Settings of {@link RefreshLock}. */
export interface RefreshLockSettings {
  /** Lock TTL; a holder that dies (kill -9) blocks others at most this long. At least 300 ms. */
  readonly ttlMs: number;
  /** About how long a waiter waits before LockTimeoutError. Default 2 × ttlMs. */
  readonly waitMs?: number;
  readonly log?: StoreLog;
}

/** One acquisition attempt per `using()` call; the retries are ours (see the module comment). */
const SINGLE_ATTEMPT: Partial<Settings> = { retryCount: 0 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const SCRIPT_NAMES = { acquireScript: 'lock_acquire', extendScript: 'lock_extend', releaseScript: 'lock_release' } as const;

/**
 * Redlock calls only `evalsha` and `eval` on its clients; this lets those calls through the store's
 * CommandTracker (count, duration, failure → the Redis command metrics) under the script's name.
 */
function tracked(client: RedisClient, tracker: CommandTracker, names: ReadonlyMap<string, string>): RedisClient {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property !== 'evalsha' && property !== 'eval') return Reflect.get(target, property, receiver) as unknown;
      const call = target[property] as (...args: unknown[]) => Promise<unknown>;
      return (script: string, ...rest: unknown[]) =>
        tracker.run(`${property}:${names.get(script) ?? 'lock'}`, () => call.call(target, script, ...rest));
    },
  });
}

/** Redlock with the store's settings, error types and accounting. */
export class RefreshLock {
  /** Redlock's scripts, to load into each node's script cache on connect. */
  readonly scripts: readonly LuaScript[];
  private readonly redlock: Redlock;
  /** Acquisition attempts after the first; each pause is retryDelay ± retryJitter. */
  private readonly retryCount: number;
  private readonly quorum: number;

  constructor(
    private readonly clients: readonly RedisClient[],
    tracker: CommandTracker,
    private readonly settings: RefreshLockSettings,
  ) {
    const ttl = settings.ttlMs;
    if (!(Number.isInteger(ttl) && ttl >= MIN_LOCK_TTL_MS)) throw new Error(`refresh lock TTL must be an integer of at least ${MIN_LOCK_TTL_MS} ms (got ${ttl})`);
    if (clients.length === 0) throw new Error('the refresh lock needs at least one Redis node');
    const waitMs = settings.waitMs ?? ttl * 2;
    const retryDelay = Math.max(10, Math.min(100, Math.floor(ttl / 10)));
    const names = new Map<string, string>();
    this.redlock = new Redlock(
      clients.map((c) => tracked(c, tracker, names)),
      {
        retryCount: 2, // extension and release; acquisition gets its own count below
        retryDelay,
        retryJitter: Math.floor(retryDelay / 2),
        automaticExtensionThreshold: ttl - Math.max(100, Math.floor(ttl / 3)),
      },
    );
    this.retryCount = Math.max(1, Math.ceil(waitMs / retryDelay));
    this.quorum = Math.floor(clients.length / 2) + 1;
    const scripts: LuaScript[] = [];
    for (const [key, name] of Object.entries(SCRIPT_NAMES)) {
      const script = this.redlock.scripts[key as keyof typeof SCRIPT_NAMES];
      names.set(script.hash, name).set(script.value, name);
      scripts.push(new LuaScript(name, script.value));
    }
    this.scripts = scripts;
  }

  /** A majority of the nodes is connected (checked before asking, so an outage costs no wait). */
  get quorumConnected(): boolean {
    return this.clients.filter((c) => c.status === 'ready').length >= this.quorum;
  }

  /**
   * Runs `routine` while holding `resource`, extended automatically. `signal` aborts with
   * LockLostError when the lock could not be kept. Rejects with LockTimeoutError when another holder
   * kept it past the wait budget, LockUnavailableError when no majority of nodes answered.
   *
   * Settles with the routine's outcome as soon as the routine settles; the release finishes in the
   * background, and its failure only means the lock expires on its own. (Redlock's `using()` first
   * awaits an extension in flight, and a failing one retries until the lock's expiry: up to a TTL
   * during which the refresh's waiters would wait for nothing.)
   * @example
   * await lock.using('kiro:lock:refresh:1', async (signal) => {
   *   if (signal.aborted) throw signal.reason; // lost before the work started
   *   await store.update(1, await refresh(credential), fence); // the write is fenced, not the lock
   * });
   */
  async using<T>(resource: string, routine: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      const ran: { outcome?: { ok: true; value: T } | { ok: false; error: unknown } } = {};
      let routineSettled!: () => void;
      const settled = new Promise<void>((resolve) => (routineSettled = resolve));
      const run = this.redlock.using([resource], this.settings.ttlMs, SINGLE_ATTEMPT, async (redlockSignal) => {
        const lost = new AbortController();
        const onAbort = () => lost.abort(new LockLostError(resource, { cause: redlockSignal.error }));
        redlockSignal.addEventListener('abort', onAbort, { once: true });
        try {
          const value = await routine(lost.signal);
          ran.outcome = { ok: true, value };
          return value;
        } catch (error) {
          ran.outcome = { ok: false, error };
          throw error;
        } finally {
          redlockSignal.removeEventListener('abort', onAbort);
          routineSettled();
        }
      });
      const first = await Promise.race([settled.then(() => undefined), run.then(() => undefined, (err: unknown) => ({ err }))]);
      const outcome = ran.outcome;
      if (outcome) {
        run.catch((err: unknown) => {
          if (outcome.ok || err !== outcome.error) this.settings.log?.('warn', 'refresh lock release failed; it will expire', { resource, error: String(err) });
        });
        if (!outcome.ok) throw outcome.error;
        return outcome.value;
      }
      const failure = await this.attemptFailure(resource, first?.err);
      if (!failure.held) throw failure.error;
      if (attempt >= this.retryCount) throw new LockTimeoutError(resource, Date.now() - started);
      const { retryDelay, retryJitter } = this.redlock.settings;
      await sleep(Math.max(0, retryDelay + Math.floor((Math.random() * 2 - 1) * retryJitter)));
    }
  }

  /** Why an attempt failed: held by another holder (worth a retry), or the error to give up with. */
  private async attemptFailure(resource: string, err: unknown): Promise<{ held: true } | { held: false; error: unknown }> {
    if (!(err instanceof ExecutionError)) return { held: false, error: err };
    const attempts = await Promise.all(err.attempts);
    const refusals = attempts.flatMap((a) => [...a.votesAgainst.values()]);
    if (refusals.some((e) => e instanceof ResourceLockedError)) return { held: true };
    return { held: false, error: new LockUnavailableError(resource, refusals.at(-1)?.message ?? err.message, { cause: err }) };
  }
}
