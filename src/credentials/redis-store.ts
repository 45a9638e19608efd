/**
 * CredentialStore shared by gateway replicas through Redis. Redis holds the truth; each replica keeps
 * a local copy that serves `list()`/`get()` with no I/O, kept current by pub/sub notifications and a
 * periodic full resync. See {@link RedisCredentialStore} for the consistency rules.
 */
import { ApiError, NotFoundError } from '../errors.js';
import { FLUSH_STATS_SCRIPT, ADD_SCRIPT, READ_SCRIPT, RECONCILE_SCRIPT, REMOVE_SCRIPT, SEED_SCRIPT, UPDATE_SCRIPT } from './lua/credentials.js';
import {
  decodeCredential,
  decodeStats,
  encodeCredentialPatch,
  encodeStats,
  EXPIRES_MS_FIELD,
  REV_FIELD,
  SEED_HASH_FIELD,
  redisKeys,
  seedHashOf,
  splitTokenFields,
  type RedisKeys,
} from './redis-codec.js';
import {
  CommandTracker,
  createRedisClient,
  isClusterMode,
  isReplyError,
  LuaScript,
  preloadScripts,
  waitReady,
  type RedisClient,
  type RedisConnectionOptions,
} from './redis-connection.js';
import { ReplicaHeartbeat, type ReplicaInfo } from './redis-heartbeat.js';
import { KeyedMutex, LOCK_SCRIPTS, RedisLock } from './redis-lock.js';
import { applyDelta, deltaToOps, diffStats, StatsQueue } from './redis-stats.js';
import { LocalCopy, applyCredentialPatch, type LocalEntry } from './redis-local-copy.js';
import type { CredentialStore } from './store.js';
import { EMPTY_STATS, type Credential, type CredentialRecord, type CredentialStats } from './types.js';

const SCRIPTS = {
  read: new LuaScript('read', READ_SCRIPT),
  seed: new LuaScript('seed', SEED_SCRIPT),
  add: new LuaScript('add', ADD_SCRIPT),
  update: new LuaScript('update', UPDATE_SCRIPT),
  reconcile: new LuaScript('reconcile', RECONCILE_SCRIPT),
  remove: new LuaScript('remove', REMOVE_SCRIPT),
  flushStats: new LuaScript('flush_stats', FLUSH_STATS_SCRIPT),
};

/** Structured log sink (pino-compatible shape). */
export type StoreLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** Options of {@link RedisCredentialStore}; connection fields as in `GatewayConfig.redis`. */
export interface RedisCredentialStoreOptions extends RedisConnectionOptions {
  keyPrefix: string;
  /** Period of the full resync of the local copy (pub/sub covers the time in between). */
  resyncIntervalMs: number;
  /** Refresh lock TTL: a replica killed while refreshing blocks the others at most this long. */
  lockTtlMs: number;
  /** How long a replica waits for another's refresh before giving up. Default 2 × lockTtlMs. */
  lockWaitMs?: number;
  /** Credentials from credentials.json or a Kubernetes Secret; inserted only if Redis lacks them. */
  seed: readonly Credential[];
  /** Unique per process (e.g. the pod name); tags events and the heartbeat. */
  replicaId: string;
  log?: StoreLog;
  /** Called after every Redis command the store issues (name, duration, success), for metrics. */
  onRedisCommand?: (name: string, ms: number, ok: boolean) => void;
  /** Payload of this replica's heartbeat (e.g. in-flight streams) for the admin cluster view. */
  heartbeat?: () => Record<string, unknown>;
  /** Default 5000. */
  heartbeatIntervalMs?: number;
  /** How often batched stats are sent. Default 200. */
  statsFlushIntervalMs?: number;
  /** How long `init()` waits for Redis. Default 10000. */
  connectTimeoutMs?: number;
}

/** A durable write that cannot be done while Redis is unreachable (add, remove). */
export class StoreUnavailableError extends ApiError {
  constructor(action: string, cause?: unknown) {
    super(`credential store unavailable (Redis unreachable): cannot ${action} now, try again later`, { status: 503, cause });
  }
}

/** An update made while Redis was unreachable, waiting to be written. */
interface QueuedUpdate {
  /** `_rev` of the credential when the first queued change was made. */
  baseRev: number;
  patch: Partial<Credential>;
}

const RECONCILE_RETRY_MS = 1_000;

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
 * expiry) lands atomically. `updateStats` changes the local copy at once and sends batched deltas
 * every `statsFlushIntervalMs` (see StatsQueue for the counter semantics).
 *
 * **Redis unreachable**: reads keep serving the local copy and `health()` reports `degraded`.
 * `updateStats` keeps coalescing (bounded by the number of credentials). `update` applies locally,
 * resolves, and is written on reconnect without overwriting newer state (RECONCILE_SCRIPT: tokens
 * win if they expire later than Redis's, other fields only if Redis did not change meanwhile), so a
 * token refreshed during the outage is not lost. `add`/`remove` reject with StoreUnavailableError.
 * `withRefreshLock` falls back to an in-process lock, since refusing to refresh would fail every
 * request once tokens expire; replicas cut off from Redis may then refresh the same credential.
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
  private readonly lock: RedisLock;
  private readonly heartbeat: ReplicaHeartbeat;
  private readonly local: LocalCopy;
  private readonly stats = new StatsQueue();
  private readonly queued = new Map<number, QueuedUpdate>();
  private readonly localLock = new KeyedMutex<number>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly log: StoreLog;

  private initialized = false;
  private closed = false;
  private reconciling = false;
  private needsReconcile = false;
  private lastReconcileAt = 0;
  private degradedSince: number | undefined;
  private lastError: string | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private rereadIds = new Set<number>();
  private rereadAll = false;
  private rereadScheduled = false;

  constructor(private readonly options: RedisCredentialStoreOptions) {
    this.log = options.log ?? (() => {});
    this.local = new LocalCopy((err) => this.log('error', 'credential change listener threw', { error: String(err) }));
    this.keys = redisKeys(options.keyPrefix, isClusterMode(options));
    this.tracker = new CommandTracker(options.onRedisCommand);
    this.client = createRedisClient(options, 'command');
    this.subscriber = createRedisClient(options, 'subscriber');
    this.lock = new RedisLock(this.client, this.tracker, { ttlMs: options.lockTtlMs, waitMs: options.lockWaitMs, log: this.log });
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
    this.client.on('error', (err: Error) => (this.lastError = err.message));
    this.subscriber.on('error', (err: Error) => this.log('debug', 'Redis subscriber error', { error: err.message }));
    this.client.on('close', () => {
      if (this.initialized && !this.closed) this.markDegraded(new Error(this.lastError ?? 'connection closed'));
    });
    this.client.on('ready', () => {
      if (this.initialized && !this.closed) void this.reconcile();
    });
    this.subscriber.on('message', (_channel: string, message: string) => this.onEvent(message));
    this.subscriber.on('ready', () => {
      if (this.initialized) this.scheduleReread(null); // messages may have been missed while away
    });
    try {
      const timeout = this.options.connectTimeoutMs ?? 10_000;
      await waitReady(this.client, timeout);
      await this.preload();
      await this.seed(this.options.seed, 'file');
      await waitReady(this.subscriber, timeout);
      await this.subscriber.subscribe(this.keys.events);
      await this.readFromRedis(undefined); // after subscribing, so no change falls in between
    } catch (err) {
      this.client.disconnect();
      this.subscriber.disconnect();
      throw new Error(`Redis credential store could not start: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    this.initialized = true;
    this.every(this.options.statsFlushIntervalMs ?? 200, () => this.tick());
    this.every(this.options.resyncIntervalMs, () => {
      if (this.online) void this.readFromRedis(undefined).catch((err) => this.markDegraded(err));
    });
    this.heartbeat.start();
  }

  list(): readonly CredentialRecord[] {
    return this.local.list();
  }

  get(id: number): CredentialRecord | undefined {
    return this.local.get(id)?.record;
  }

  async update(id: number, patch: Partial<Omit<Credential, 'id'>>): Promise<CredentialRecord> {
    if (!this.online) return this.queueUpdate(id, patch);
    const { set, del } = encodeCredentialPatch(patch);
    let reply: unknown;
    try {
      reply = await this.tracker.run('evalsha:update', () =>
        SCRIPTS.update.run(this.client, [this.keys.cred(id)], [this.keys.events, this.options.replicaId, id, set.length, ...set, ...del]),
      );
    } catch (err) {
      if (isReplyError(err)) throw err;
      this.markDegraded(err);
      return this.queueUpdate(id, patch);
    }
    if (!Array.isArray(reply)) {
      this.dropLocal(id);
      throw new NotFoundError(`credential ${id} not found`);
    }
    const decoded = decodeCredential(reply as string[]);
    if (!decoded) throw new NotFoundError(`credential ${id} not found`);
    const existing = this.local.get(id);
    if (!existing) this.scheduleReread(id); // added elsewhere and not seen yet: fetch its stats too
    const record = { credential: decoded.credential, stats: existing?.record.stats ?? { ...EMPTY_STATS } };
    this.setLocal(id, { record, rev: decoded.rev, seedHash: decoded.seedHash });
    return record;
  }

  async add(credential: Omit<Credential, 'id'>): Promise<CredentialRecord> {
    if (!this.online) throw new StoreUnavailableError('add a credential');
    const { set } = encodeCredentialPatch(credential);
    const seedHash = seedHashOf(credential);
    let reply: unknown;
    try {
      reply = await this.tracker.run('evalsha:add', () =>
        SCRIPTS.add.run(this.client, [this.keys.ids, this.keys.seq, this.keys.seedHashes], [this.keys.prefix, this.keys.events, this.options.replicaId, seedHash, ...set]),
      );
    } catch (err) {
      if (!isReplyError(err)) this.markDegraded(err);
      throw isReplyError(err) ? err : new StoreUnavailableError('add a credential', err);
    }
    const id = Number(reply);
    const record: CredentialRecord = { credential: { ...stripUndefined(credential), id } as Credential, stats: { ...EMPTY_STATS } };
    this.setLocal(id, { record, rev: 1, seedHash });
    return record;
  }

  async remove(id: number): Promise<void> {
    if (!this.online) throw new StoreUnavailableError(`remove credential ${id}`);
    let reply: unknown;
    try {
      reply = await this.tracker.run('evalsha:remove', () =>
        SCRIPTS.remove.run(this.client, [this.keys.ids, this.keys.cred(id), this.keys.stats(id)], [this.keys.events, this.options.replicaId, id]),
      );
    } catch (err) {
      if (!isReplyError(err)) this.markDegraded(err);
      throw isReplyError(err) ? err : new StoreUnavailableError(`remove credential ${id}`, err);
    }
    this.dropLocal(id);
    if (reply !== 1) throw new NotFoundError(`credential ${id} not found`);
  }

  updateStats(id: number, mutate: (current: Readonly<CredentialStats>) => Partial<CredentialStats>): void {
    const entry = this.local.get(id);
    if (!entry) return;
    const delta = diffStats(entry.record.stats, mutate(entry.record.stats));
    if (!delta) return;
    this.stats.record(id, delta);
    this.setLocal(id, { ...entry, record: { credential: entry.record.credential, stats: applyDelta(entry.record.stats, delta) } });
  }

  /**
   * Runs `fn` under the credential's refresh lock (`${prefix}lock:refresh:${id}`, TTL lockTtlMs,
   * extended every ttl/3 while `fn` runs). Callers of this replica queue on an in-process mutex;
   * other replicas poll with jitter for up to `lockWaitMs`, then get LockTimeoutError. `fresh` is
   * re-read from Redis after the lock is taken: if another replica refreshed meanwhile, its tokens
   * are there and `fn` can return without refreshing.
   *
   * Write order for `fn`: as soon as the refresh call returns, call `update(id, { refreshToken,
   * accessToken, expiresAt, profileArn })` — one call, one atomic HSET — before anything else
   * (stats, retries, the API call): the old refresh token may already be void upstream. Write it even
   * if `signal` aborted meanwhile; it is still the newest token.
   */
  async withRefreshLock<T>(id: number, fn: (fresh: CredentialRecord, signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.localLock.run(id, async () => {
      let started = false;
      if (this.online) {
        try {
          return await this.lock.using(this.keys.refreshLock(id), async (signal) => {
            const fresh = await this.readFromRedis([id]);
            const record = fresh.get(id);
            if (!record) throw new NotFoundError(`credential ${id} not found`);
            started = true;
            return fn(record, signal);
          });
        } catch (err) {
          if (started || isReplyError(err) || err instanceof ApiError || err instanceof NotFoundError) throw err;
          this.markDegraded(err);
        }
      }
      const entry = this.local.get(id);
      if (!entry) throw new NotFoundError(`credential ${id} not found`);
      this.log('warn', 'Redis unreachable: refreshing under a local lock only', { credentialId: id });
      return fn(entry.record, new AbortController().signal);
    });
  }

  onChange(listener: (id: number | null) => void): () => void {
    return this.local.onChange(listener);
  }

  health(): { ok: boolean; degraded: boolean; detail?: string } {
    if (this.closed) return { ok: false, degraded: false, detail: 'closed' };
    if (!this.initialized) return { ok: false, degraded: false, detail: 'not initialized' };
    if (this.online) return { ok: true, degraded: false };
    const since = new Date(this.degradedSince ?? Date.now()).toISOString();
    return {
      ok: true,
      degraded: true,
      detail:
        `Redis unreachable since ${since} (${this.lastError ?? 'unknown error'}); serving the local copy; ` +
        `${this.queued.size} credential update(s) and ${this.stats.pendingCount} stats change(s) waiting`,
    };
  }

  /** Live replicas from their heartbeats, for the admin cluster view. */
  async listReplicas(): Promise<ReplicaInfo[]> {
    return this.heartbeat.list();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const t of this.timers) clearInterval(t);
    await this.flushing;
    if (this.online) await this.flushStats();
    await this.heartbeat.stop();
    if (this.queued.size > 0) {
      // Nothing else can be done without Redis; say loudly which refreshed tokens die with this process.
      this.log('error', 'closing while Redis is unreachable: queued credential updates are lost', {
        credentialIds: [...this.queued.keys()],
        stats: this.stats.pendingCount,
      });
    }
    this.closed = true;
    await Promise.all([quit(this.client), quit(this.subscriber)]);
  }

  /** Redis is usable for writes: connected, and any reconciliation after an outage is done. */
  private get online(): boolean {
    return this.client.status === 'ready' && !this.reconciling && !this.needsReconcile && !this.closed;
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  private tick(): void {
    if (this.needsReconcile && this.client.status === 'ready' && Date.now() - this.lastReconcileAt >= RECONCILE_RETRY_MS) {
      void this.reconcile();
    } else if (this.online && !this.stats.busy) {
      this.flushing = this.flushStats();
    }
  }

  private async preload(): Promise<void> {
    await this.tracker.run('script:load', () => preloadScripts(this.client, [...Object.values(SCRIPTS), ...LOCK_SCRIPTS]));
  }

  private markDegraded(err: unknown): void {
    this.lastError = err instanceof Error ? err.message : String(err);
    this.needsReconcile = true;
    if (this.degradedSince === undefined) {
      this.degradedSince = Date.now();
      this.log('warn', 'Redis unreachable: serving credentials from the local copy', { error: this.lastError });
    }
  }

  private queueUpdate(id: number, patch: Partial<Omit<Credential, 'id'>>): CredentialRecord {
    const entry = this.local.get(id);
    if (!entry) throw new NotFoundError(`credential ${id} not found`);
    const prev = this.queued.get(id);
    this.queued.set(id, { baseRev: prev?.baseRev ?? entry.rev, patch: { ...prev?.patch, ...patch } });
    const record = { credential: applyCredentialPatch(entry.record.credential, patch), stats: entry.record.stats };
    this.setLocal(id, { ...entry, record });
    this.log('warn', 'Redis unreachable: credential update kept locally, written on reconnect', { credentialId: id, fields: Object.keys(patch) });
    return record;
  }

  /** After an outage: re-seed a Redis that lost its data, write queued updates, resync. */
  private async reconcile(): Promise<void> {
    if (this.reconciling || this.closed) return;
    this.reconciling = true;
    this.needsReconcile = true;
    this.lastReconcileAt = Date.now();
    try {
      await this.preload();
      const hasMeta = await this.tracker.run('exists:meta', () => this.client.exists(this.keys.meta));
      if (hasMeta === 0) await this.seedFromLocal();
      // update() keeps queueing while this runs, so drain until empty rather than over a snapshot.
      while (this.queued.size > 0) {
        const [id, q] = this.queued.entries().next().value as [number, QueuedUpdate];
        this.queued.delete(id);
        try {
          await this.replay(id, q);
        } catch (err) {
          const newer = this.queued.get(id);
          this.queued.set(id, newer ? { baseRev: q.baseRev, patch: { ...q.patch, ...newer.patch } } : q);
          throw err;
        }
      }
      this.needsReconcile = false;
      this.reconciling = false;
      await this.readFromRedis(undefined);
      if (this.degradedSince !== undefined) {
        this.log('info', 'Redis reachable again: local copy reconciled', { downMs: Date.now() - this.degradedSince });
      }
      this.degradedSince = undefined;
      if (!this.stats.busy) this.flushing = this.flushStats();
    } catch (err) {
      this.markDegraded(err);
    } finally {
      this.reconciling = false;
    }
  }

  private async replay(id: number, q: QueuedUpdate): Promise<void> {
    const { token, other } = splitTokenFields(encodeCredentialPatch(q.patch));
    const expIdx = token.set.indexOf(EXPIRES_MS_FIELD);
    const ourExp = expIdx >= 0 ? token.set[expIdx + 1] : '';
    const reply = await this.tracker.run('evalsha:reconcile', () =>
      SCRIPTS.reconcile.run(this.client, [this.keys.cred(id)], [
        this.keys.events, this.options.replicaId, id, q.baseRev, ourExp,
        token.set.length, token.del.length, other.set.length, other.del.length,
        ...token.set, ...token.del, ...other.set, ...other.del,
      ]),
    );
    const [tokenWritten, otherWritten] = Array.isArray(reply) ? (reply as number[]) : [0, 0];
    this.log(tokenWritten || otherWritten ? 'info' : 'warn', 'queued credential update reconciled', {
      credentialId: id,
      tokenWritten: tokenWritten === 1,
      otherWritten: otherWritten === 1,
      missing: !Array.isArray(reply),
    });
  }

  /** Inserts what Redis lacks (see the class comment); `local` mode re-seeds from the local copy. */
  private async seed(credentials: readonly Credential[], mode: 'file'): Promise<void>;
  private async seed(credentials: readonly LocalEntry[], mode: 'local'): Promise<void>;
  private async seed(items: readonly (Credential | LocalEntry)[], mode: 'file' | 'local'): Promise<void> {
    const args: Array<string | number> = [this.keys.prefix, this.keys.events, this.options.replicaId, mode, Date.now()];
    for (const item of items) {
      const local = 'record' in item ? item : undefined;
      const credential = local ? local.record.credential : (item as Credential);
      const hash = local ? local.seedHash : seedHashOf(credential);
      const cred = [...encodeCredentialPatch(credential).set, 'id', String(credential.id), REV_FIELD, String(local?.rev ?? 1), SEED_HASH_FIELD, hash];
      const stats = local ? encodeStats(local.record.stats) : [];
      args.push(credential.id, hash, cred.length, ...cred, stats.length, ...stats);
    }
    const reply = (await this.tracker.run('evalsha:seed', () =>
      SCRIPTS.seed.run(this.client, [this.keys.ids, this.keys.seq, this.keys.seedHashes, this.keys.meta], args),
    )) as string[];
    for (let i = 0; i + 2 < reply.length; i += 3) {
      const [inputId, storedId, outcome] = [reply[i], reply[i + 1], reply[i + 2]];
      if (outcome === 'renumbered') {
        this.log('warn', 'seed credential id already used by another credential; added under a new id', { seedId: Number(inputId), id: Number(storedId) });
      } else if (outcome === 'inserted' && mode === 'local') {
        this.stats.drop(Number(inputId)); // its stats were written as absolute values
      }
    }
    this.log(mode === 'local' ? 'warn' : 'info', mode === 'local' ? 'Redis had lost its data: re-seeded from the local copy' : 'credentials seeded', {
      outcomes: summarize(reply),
    });
  }

  private async seedFromLocal(): Promise<void> {
    await this.seed([...this.local.entries()], 'local');
  }

  /**
   * Reads the given credentials (all when undefined) from Redis into the local copy and returns them.
   * Stats deltas not yet in Redis at the time of the read are laid over what it returned.
   */
  private async readFromRedis(ids: readonly number[] | undefined): Promise<Map<number, CredentialRecord>> {
    const mark = this.stats.mark();
    const reply = (await this.tracker.run('evalsha:read', () =>
      SCRIPTS.read.run(this.client, [this.keys.ids, this.keys.meta], [this.keys.prefix, ...(ids ?? [])]),
    )) as [number, ...Array<[string, string[], string[]]>];
    const [metaExists, ...rows] = reply;
    if (metaExists === 0) {
      // Redis came back empty: keep our copy and let reconcile() re-seed it.
      this.markDegraded(new Error('Redis lost its data'));
      throw new Error('Redis has no credential data (restarted without persistence?)');
    }
    const out = new Map<number, CredentialRecord>();
    const seen = new Set<number>();
    const changed: number[] = [];
    for (const [idText, credFlat, statsFlat] of rows) {
      const id = Number(idText);
      const decoded = decodeCredential(credFlat);
      if (!decoded) {
        if (this.dropLocal(id, false)) changed.push(id);
        continue;
      }
      seen.add(id);
      const q = this.queued.get(id);
      const credential = q ? applyCredentialPatch(decoded.credential, q.patch) : decoded.credential;
      const stats = this.stats.overlay(id, mark).reduce(applyDelta, decodeStats(statsFlat));
      const record = { credential, stats };
      out.set(id, record);
      if (this.local.set(id, { record, rev: decoded.rev, seedHash: decoded.seedHash }, false)) changed.push(id);
    }
    if (ids === undefined) {
      for (const entry of [...this.local.entries()]) {
        const id = entry.record.credential.id;
        if (!seen.has(id) && this.dropLocal(id, false)) changed.push(id);
      }
    }
    if (changed.length === 1) this.local.emit(changed[0]);
    else if (changed.length > 1) this.local.emit(null);
    return out;
  }

  private setLocal(id: number, entry: LocalEntry): void {
    this.local.set(id, entry, true);
  }

  /** Removes a credential from the local copy; returns whether it was there. */
  private dropLocal(id: number, emit = true): boolean {
    this.stats.drop(id);
    this.queued.delete(id);
    return this.local.delete(id, emit);
  }

  private onEvent(message: string): void {
    let event: { id?: number | null; replica?: string; kind?: string };
    try {
      event = JSON.parse(message) as typeof event;
    } catch {
      return;
    }
    if (event.replica === this.options.replicaId) return; // our own write: the local copy has it
    this.scheduleReread(typeof event.id === 'number' ? event.id : null);
  }

  /** Coalesces notifications into one read per event-loop turn. */
  private scheduleReread(id: number | null): void {
    if (id === null) this.rereadAll = true;
    else this.rereadIds.add(id);
    if (this.rereadScheduled) return;
    this.rereadScheduled = true;
    setImmediate(() => {
      this.rereadScheduled = false;
      const ids = this.rereadAll ? undefined : [...this.rereadIds];
      this.rereadAll = false;
      this.rereadIds.clear();
      if (!this.online) return; // the reconnect resync covers it
      this.readFromRedis(ids).catch((err) => this.markDegraded(err));
    });
  }

  private async flushStats(): Promise<void> {
    const batch = this.stats.take();
    if (!batch) return;
    const args: Array<string | number> = [this.keys.prefix, this.keys.events, this.options.replicaId];
    for (const [id, delta] of batch.deltas) {
      const ops = deltaToOps(delta);
      if (ops.length > 0) args.push(id, ops.length, ...ops);
    }
    try {
      await this.tracker.run('evalsha:flush_stats', () => SCRIPTS.flushStats.run(this.client, [this.keys.ids], args));
      this.stats.ack(batch);
    } catch (err) {
      if (isReplyError(err)) {
        this.stats.ack(batch); // Redis rejected it; retrying would fail forever
        this.log('error', 'stats flush rejected by Redis; batch dropped', { error: String(err) });
      } else {
        this.stats.requeue(batch);
        this.markDegraded(err);
      }
    }
  }
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function summarize(reply: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 2; i < reply.length; i += 3) counts[reply[i]] = (counts[reply[i]] ?? 0) + 1;
  return counts;
}

async function quit(client: RedisClient): Promise<void> {
  try {
    if (client.status === 'ready') await client.quit();
    else client.disconnect();
  } catch {
    client.disconnect();
  }
}
