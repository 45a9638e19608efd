import type { Credential, CredentialRecord, CredentialStats } from '../credentials/types.js';

/**
 * The tokens a refresh started from, as read under the refresh lock. A write conditioned on them
 * (see {@link CredentialStore.update}) lands only while the store still holds exactly these: the
 * fencing that keeps a holder whose lock expired (a long GC pause, a stalled VM) from writing over
 * the newer tokens of the holder that came after it.
 */
export interface TokenFence {
  readonly refreshToken?: string;
  readonly accessToken?: string;
}

/** A conditional write was refused: the credential's tokens are no longer those of the fence. */
export class TokensReplacedError extends Error {
  constructor(
    readonly id: number,
    /** The credential as the store holds it now (with the newer tokens). */
    readonly current: CredentialRecord,
  ) {
    super(`credential ${id}: its tokens were replaced meanwhile (another holder refreshed); write refused`);
    this.name = 'TokensReplacedError';
  }
}

/** True when `credential` no longer holds the tokens of `fence`. */
export function tokensReplaced(credential: Pick<Credential, 'refreshToken' | 'accessToken'>, fence: TokenFence): boolean {
  return (credential.refreshToken ?? '') !== (fence.refreshToken ?? '') || (credential.accessToken ?? '') !== (fence.accessToken ?? '');
}

/**
 * Where credentials live. The pool and the admin API depend only on this interface; `memory`
 * (single process, persists to credentials.json) and `redis` (shared by replicas) implement it.
 *
 * Reads are synchronous and come from a local copy, so the request hot path never waits on I/O.
 * Writes of durable fields are awaited; counter updates are fire-and-forget and may be batched.
 */
export interface CredentialStore {
  readonly kind: 'memory' | 'redis';

  /** Loads or seeds state; must be called once before anything else. */
  init(): Promise<void>;

  /** Local copy of every credential, sorted by priority then id. No I/O. */
  list(): readonly CredentialRecord[];

  /** Local copy of one credential. No I/O. */
  get(id: number): CredentialRecord | undefined;

  /**
   * Changes durable fields (tokens after a refresh, disabled flag, priority, …) and persists them
   * before resolving. Other replicas see the change through the store's notifications.
   * Throws NotFoundError for an unknown id.
   *
   * With `fence`, the write is a compare-and-set done where the truth lives (one Lua script in
   * Redis): it lands only if the credential still holds the fence's tokens, else it rejects with
   * TokensReplacedError carrying the current record. A fenced write that stores new tokens also lifts
   * an `InvalidRefreshToken` disable: the refresh token it started from just worked, so the refusal
   * behind that disable came from a refresh made with the same token after this one had rotated it.
   * While Redis is unreachable a fenced write is queued like any other (the reconnect rules decide).
   */
  update(id: number, patch: Partial<Omit<Credential, 'id'>>, fence?: TokenFence): Promise<CredentialRecord>;

  /**
   * The credential as the source of truth holds it now (one read in Redis; the local copy while
   * Redis is unreachable, and always in memory). Undefined for an unknown id.
   */
  readFresh(id: number): Promise<CredentialRecord | undefined>;

  /** Adds a credential with the next free id (max + 1) and persists it. */
  add(credential: Omit<Credential, 'id'>): Promise<CredentialRecord>;

  /** Removes a credential and persists the removal. Throws NotFoundError for an unknown id. */
  remove(id: number): Promise<void>;

  /**
   * Applies a counter/timestamp change locally at once and propagates it asynchronously.
   * `mutate` receives the current stats and returns the patch to apply.
   */
  updateStats(id: number, mutate: (current: Readonly<CredentialStats>) => Partial<CredentialStats>): void;

  /**
   * Runs `fn` while holding this credential's refresh lock (a mutex in memory, Redlock in Redis).
   * `fn` receives the credential re-read from the source of truth after the lock was taken, so it can
   * see that another holder already refreshed. `signal` aborts if the lock is lost. `exclusive` is
   * false when the store could only take a process-local lock (Redis, or a majority of the lock
   * nodes, unreachable): another replica may then be refreshing, or have rotated the refresh token,
   * without this one knowing. Either way, write the result fenced (see update).
   */
  withRefreshLock<T>(id: number, fn: (fresh: CredentialRecord, signal: AbortSignal, exclusive: boolean) => Promise<T>): Promise<T>;

  /** Subscribes to changes made here or by other replicas; `id` is null for "everything may have changed". */
  onChange(listener: (id: number | null) => void): () => void;

  /** A shared gateway setting (e.g. `loadBalancingMode`) from the local copy; undefined if never set. No I/O. */
  getSetting(key: string): string | undefined;

  /** Sets a shared setting for every replica and persists it (Redis; the memory store keeps it in process). */
  setSetting(key: string, value: string): Promise<void>;

  /** Subscribes to setting changes made here or by other replicas. */
  onSettingChange(listener: (key: string, value: string) => void): () => void;

  /** Readiness detail: `degraded` means serving from the local copy while the backend is unreachable. */
  health(): { ok: boolean; degraded: boolean; detail?: string };

  /** Flushes pending writes and releases connections. */
  close(): Promise<void>;
}
