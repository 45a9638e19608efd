/**
 * CredentialStore shared by gateway replicas through Redis. Redis holds the truth; each replica keeps
 * a local copy that serves `list()`/`get()` with no I/O, kept current by pub/sub notifications and a
 * periodic full resync. See {@link RedisCredentialStore} for the consistency rules; the parts live in
 * their own modules: mirror.ts (every script call and how its reply lands locally), availability.ts
 * (outages and reconciliation), change-feed.ts (other replicas' changes), refresh-lock.ts and
 * lock-nodes.ts (Redlock), settings.ts, heartbeat.ts.
 */
import { ApiError, NotFoundError } from '../../errors.js';
import { Availability } from './availability.js';
import { ChangeFeed } from './change-feed.js';
import { redisKeys, type RedisKeys } from './codec.js';
import { CommandTracker, createRedisClient, isClusterMode, isReplyError, quitClient, waitReady, type RedisClient } from './connection.js';
import { ReplicaHeartbeat, type ReplicaInfo } from './heartbeat.js';
import { LocalCopy } from './local-copy.js';
import { KeyedMutex } from '../keyed-mutex.js';
import { LockNodes } from './lock-nodes.js';
import { CredentialMirror, type StoreLog } from './mirror.js';
import type { RedisCredentialStoreOptions } from './options.js';
import { LockUnavailableError, RefreshLock } from './refresh-lock.js';
import { SharedSettings } from './settings.js';
import { TokensReplacedError, type CredentialStore, type TokenFence } from '../store.js';
import type { Credential, CredentialRecord, CredentialStats } from '../../credentials/types.js';

export type { StoreLog } from './mirror.js';
export type { RedisCredentialStoreOptions } from './options.js';
export { StoreUnavailableError } from './availability.js';

/**
 * Redis-backed {@link CredentialStore}.
 *
 * **Seeding** (`init`): each seed credential is inserted only when Redis has no trace of it, in one
 * Lua script. A credential is known when Redis recorded the SHA-256 of its *original* refresh token
 * (or API key) — so a token rotated since, which lives only in Redis, is never replaced by the stale
 * one in the file — or when its id exists and nothing else tells them apart. A file entry whose id is
 * taken by a different credential (unknown token) is inserted under a new id rather than dropped.
 * Removed credentials keep their token hash, so the file does not resurrect them.
 *
 * **Writes**: `update`/`add`/`remove` run one Lua script each (write + `_rev` bump + event), then update
 * the local copy. `update` is a single HSET, so a refresh result (rotated refresh token, access token,
 * expiry) lands atomically; with a TokenFence it is a compare-and-set on the tokens the refresh
 * started from, refused (TokensReplacedError) once another holder replaced them. `updateStats`
 * changes the local copy at once and sends batched deltas every `statsFlushIntervalMs` (see
 * StatsQueue for the counter semantics).
 *
 * **Redis unreachable**: reads keep serving the local copy and `health()` reports `degraded`.
 * `updateStats` keeps coalescing (bounded by the number of credentials). `update` applies locally,
 * resolves, and is written on reconnect without overwriting newer state (RECONCILE_SCRIPT: tokens
 * win if they come from a later refresh than Redis's, other fields only if Redis did not change
 * meanwhile), so a token refreshed during the outage is not lost. `add`/`remove` reject with StoreUnavailableError.
 * `withRefreshLock` falls back to an in-process lock (telling `fn` it is not exclusive), since
 * refusing to refresh would fail every request once tokens expire — as it does when a majority of
 * separate `lockNodes` is unreachable, while the store itself stays online; replicas cut off may
 * then refresh the same credential, and the pool treats a refused refresh token as "another replica
 * may have rotated it", not as a dead credential (see token-refresh.ts).
 * On reconnect: if Redis lost its data (no `meta` key) it is re-seeded from the local copy, which is
 * newer than the file; queued updates are written, then a full resync runs.
 *
 * `init()` fails if Redis cannot be reached within `connectTimeoutMs`: a replica with no state of its
 * own would otherwise serve file tokens that may have been rotated already.
 */
export class RedisCredentialStore implements CredentialStore {
  readonly kind = 'redis' as const;

  private readonly keys: RedisKeys;
  private readonly tracker: CommandTracker;
  private readonly client: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly lockNodes: LockNodes;
  private readonly lock: RefreshLock;
  private readonly heartbeat: ReplicaHeartbeat;
  private readonly local: LocalCopy;
  private readonly mirror: CredentialMirror;
  private readonly settings: SharedSettings;
  private readonly availability: Availability;
  private readonly feed: ChangeFeed;
  private readonly localLock = new KeyedMutex<number>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly log: StoreLog;

  private initialized = false;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly options: RedisCredentialStoreOptions) {
    this.log = options.log ?? (() => {});
    this.local = new LocalCopy((err) => this.log('error', 'credential change listener threw', { error: String(err) }));
    this.keys = redisKeys(options.keyPrefix, isClusterMode(options));
    this.tracker = new CommandTracker(options.onRedisCommand);
    this.client = createRedisClient(options, 'command');
    this.subscriber = createRedisClient(options, 'subscriber');
    this.lockNodes = new LockNodes(this.client, options.lockNodes ?? [], options, this.tracker, this.log);
    this.lock = new RefreshLock(this.lockNodes.clients, this.tracker, { ttlMs: options.lockTtlMs, waitMs: options.lockWaitMs, log: this.log });
    const lockScripts = this.lockNodes.shared ? this.lock.scripts : [];
    this.mirror = new CredentialMirror(this.local, this.client, this.tracker, this.keys, options.replicaId, this.log, lockScripts);
    this.settings = new SharedSettings(this.client, this.tracker, this.keys, options.replicaId);
    this.availability = new Availability(this.client, this.mirror, this.log, () => {
      if (!this.mirror.stats.busy) this.flushing = this.flushStats();
    });
    this.feed = new ChangeFeed(this.subscriber, {
      replicaId: options.replicaId,
      online: () => this.online,
      readCredentials: (ids) => this.mirror.read(ids),
      readSettings: () => this.settings.read(),
      onReadError: (err) => this.markDegraded(err),
    });
    this.heartbeat = new ReplicaHeartbeat(
      this.client,
      this.tracker,
      this.keys,
      options.replicaId,
      options.heartbeatIntervalMs ?? 5_000,
      options.heartbeat ?? (() => ({})),
      (err) => this.log('debug', 'heartbeat failed', { error: String(err) }),
    );
  }

  /** Redis commands issued by this store so far (the hot path must not add any). */
  get commandCount(): number {
    return this.tracker.count;
  }

  async init(): Promise<void> {
    this.subscriber.on('error', (err: Error) => this.log('debug', 'Redis subscriber error', { error: err.message }));
    try {
      const timeout = this.options.connectTimeoutMs ?? 10_000;
      await waitReady(this.client, timeout);
      await this.mirror.preload();
      await this.mirror.seedFromFile(this.options.seed);
      await waitReady(this.subscriber, timeout);
      await this.subscriber.subscribe(this.keys.events);
      await this.mirror.read(undefined); // after subscribing, so no change falls in between
      await this.settings.read();
      await this.lockNodes.connect(this.lock.scripts, timeout);
    } catch (err) {
      this.client.disconnect();
      this.subscriber.disconnect();
      await this.lockNodes.close();
      throw new Error(`Redis credential store could not start: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    this.initialized = true;
    this.availability.start();
    this.feed.start();
    this.every(this.options.statsFlushIntervalMs ?? 200, () => this.tick());
    this.every(this.options.resyncIntervalMs, () => {
      if (!this.online) return;
      this.mirror.read(undefined).catch((err) => this.markDegraded(err));
      this.settings.read().catch((err) => this.markDegraded(err));
    });
    this.heartbeat.start();
  }

  list(): readonly CredentialRecord[] {
    return this.local.list();
  }

  get(id: number): CredentialRecord | undefined {
    return this.local.get(id)?.record;
  }

  getSetting(key: string): string | undefined {
    return this.settings.get(key);
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.availability.durable(`change setting ${key}`, () => this.settings.write(key, value));
    this.settings.apply(key, value);
  }

  onSettingChange(listener: (key: string, value: string) => void): () => void {
    return this.settings.onChange(listener);
  }

  async update(id: number, patch: Partial<Omit<Credential, 'id'>>, fence?: TokenFence): Promise<CredentialRecord> {
    if (this.online) {
      try {
        const result = await this.mirror.update(id, patch, fence);
        if (!result) throw new NotFoundError(`credential ${id} not found`);
        if (!result.wasKnown) this.feed.reread(id); // added elsewhere and not seen yet: fetch its stats
        if (!result.written) throw new TokensReplacedError(id, result.record);
        if (result.lifted) {
          this.log('info', 'refreshed tokens stored; InvalidRefreshToken disable lifted: the refusal came after this refresh had rotated the token', {
            credentialId: id,
          });
        }
        return result.record;
      } catch (err) {
        if (err instanceof NotFoundError || err instanceof TokensReplacedError || isReplyError(err)) throw err;
        this.markDegraded(err);
      }
    }
    const entry = this.local.get(id);
    if (!entry) throw new NotFoundError(`credential ${id} not found`);
    this.log('warn', 'Redis unreachable: credential update kept locally, written on reconnect', { credentialId: id, fields: Object.keys(patch) });
    return this.mirror.queueUpdate(entry, patch);
  }

  async readFresh(id: number): Promise<CredentialRecord | undefined> {
    if (this.online) {
      try {
        return (await this.mirror.read([id])).get(id);
      } catch (err) {
        if (isReplyError(err)) throw err;
        this.markDegraded(err);
      }
    }
    return this.local.get(id)?.record;
  }

  async add(credential: Omit<Credential, 'id'>): Promise<CredentialRecord> {
    return this.availability.durable('add a credential', () => this.mirror.add(credential));
  }

  async remove(id: number): Promise<void> {
    const removed = await this.availability.durable(`remove credential ${id}`, () => this.mirror.remove(id));
    if (!removed) throw new NotFoundError(`credential ${id} not found`);
  }

  updateStats(id: number, mutate: (current: Readonly<CredentialStats>) => Partial<CredentialStats>): void {
    this.mirror.recordStats(id, mutate);
  }

  /**
   * Runs `fn` under the credential's refresh lock (`${prefix}lock:refresh:${id}`: Redlock on the
   * store's Redis or on `lockNodes`, TTL lockTtlMs, extended every ttl/3 while `fn` runs). Callers of
   * this replica queue on an in-process mutex; other replicas retry with jitter for about
   * `lockWaitMs`, then get LockTimeoutError. `fresh` is re-read from Redis after the lock is taken: if
   * another replica refreshed meanwhile, its tokens are there and `fn` can return without refreshing.
   *
   * Without Redis, or without a majority of the lock nodes, `fn` runs under the in-process mutex
   * only, with `exclusive` false (see CredentialStore.withRefreshLock).
   *
   * Write order for `fn`: as soon as the refresh call returns, call `update(id, { refreshToken,
   * accessToken, expiresAt, profileArn }, fence)` — one call, one atomic HSET, fenced on the tokens of
   * `fresh` — before anything else (stats, retries, the API call): the old refresh token may already
   * be void upstream. Write it even if `signal` aborted meanwhile: the fence decides whether it is
   * still the newest.
   */
  async withRefreshLock<T>(id: number, fn: (fresh: CredentialRecord, signal: AbortSignal, exclusive: boolean) => Promise<T>): Promise<T> {
    return this.localLock.run(id, async () => {
      let started = false;
      if (this.online && this.lock.quorumConnected) {
        try {
          return await this.lock.using(this.keys.refreshLock(id), async (signal) => {
            const record = (await this.mirror.read([id])).get(id);
            if (!record) throw new NotFoundError(`credential ${id} not found`);
            started = true;
            return fn(record, signal, true);
          });
        } catch (err) {
          if (started || isReplyError(err) || err instanceof ApiError || err instanceof NotFoundError) throw err;
          // A lock on separate nodes says nothing about the store's own Redis.
          if (!(err instanceof LockUnavailableError) || this.lockNodes.shared) this.markDegraded(err);
        }
      }
      const why = this.online ? 'no majority of the refresh lock nodes reachable' : 'Redis unreachable';
      const record = await this.readFresh(id);
      if (!record) throw new NotFoundError(`credential ${id} not found`);
      this.log('warn', `${why}: refreshing under a local lock only`, { credentialId: id });
      return fn(record, new AbortController().signal, false);
    });
  }

  onChange(listener: (id: number | null) => void): () => void {
    return this.local.onChange(listener);
  }

  health(): { ok: boolean; degraded: boolean; detail?: string } {
    if (this.availability.closed) return { ok: false, degraded: false, detail: 'closed' };
    if (!this.initialized) return { ok: false, degraded: false, detail: 'not initialized' };
    if (this.online) return { ok: true, degraded: false };
    return { ok: true, degraded: true, detail: this.availability.describeOutage() };
  }

  /** Live replicas from their heartbeats, for the admin cluster view. */
  async listReplicas(): Promise<ReplicaInfo[]> {
    return this.heartbeat.list();
  }

  async close(): Promise<void> {
    if (this.availability.closed) return;
    for (const t of this.timers) clearInterval(t);
    await this.flushing;
    if (this.online) await this.flushStats();
    await this.heartbeat.stop();
    if (this.mirror.queued.size > 0) {
      // Nothing else can be done without Redis; say loudly which refreshed tokens die with this process.
      this.log('error', 'closing while Redis is unreachable: queued credential updates are lost', {
        credentialIds: [...this.mirror.queued.keys()],
        stats: this.mirror.stats.pendingCount,
      });
    }
    this.availability.stop();
    await Promise.all([quitClient(this.client), quitClient(this.subscriber), this.lockNodes.close()]);
  }

  private get online(): boolean {
    return this.availability.online;
  }

  private markDegraded(err: unknown): void {
    this.availability.markDegraded(err);
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  private tick(): void {
    if (this.availability.reconcileDue) {
      void this.availability.reconcile();
    } else if (this.online && !this.mirror.stats.busy) {
      this.flushing = this.flushStats();
    }
  }

  private async flushStats(): Promise<void> {
    try {
      await this.mirror.flushStats();
    } catch (err) {
      this.markDegraded(err);
    }
  }
}
