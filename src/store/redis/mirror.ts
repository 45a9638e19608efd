/**
 * The Redis side of the Redis store: every script call, and how each reply lands in the local copy.
 * It knows nothing about outages; the store decides when to call what, and treats any error that is
 * not a Redis reply (see isReplyError) as "Redis unreachable".
 */
import { ADD_SCRIPT, FLUSH_STATS_SCRIPT, READ_SCRIPT, RECONCILE_SCRIPT, REMOVE_SCRIPT, SEED_SCRIPT, UPDATE_SCRIPT } from './lua/credentials.js';
import {
  decodeCredential,
  decodeStats,
  encodeCredentialPatch,
  encodeStats,
  EXPIRES_MS_FIELD,
  REFRESHED_AT_FIELD,
  REV_FIELD,
  SEED_HASH_FIELD,
  seedHashOf,
  splitTokenFields,
  type RedisKeys,
} from './codec.js';
import { isReplyError, LuaScript, preloadScripts, type CommandTracker, type RedisClient } from './connection.js';
import { applyCredentialPatch, LocalCopy, type LocalEntry } from './local-copy.js';
import { applyDelta, deltaToOps, diffStats, StatsQueue } from './stats.js';
import type { TokenFence } from '../store.js';
import { EMPTY_STATS, type Credential, type CredentialRecord, type CredentialStats } from '../../credentials/types.js';

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

/** Redis answered, but its `meta` key is gone: it restarted without persistence or was flushed. */
export class RedisDataLostError extends Error {
  constructor() {
    super('Redis has no credential data (restarted without persistence, or flushed)');
    this.name = 'RedisDataLostError';
  }
}

/** An update made while Redis was unreachable, waiting to be written. */
export interface QueuedUpdate {
  /** `_rev` of the credential when the first queued change was made. */
  baseRev: number;
  patch: Partial<Credential>;
}

/** Local copy, pending stats and queued updates, and the Redis calls that keep them in step. */
export class CredentialMirror {
  readonly stats = new StatsQueue();
  readonly queued = new Map<number, QueuedUpdate>();

  constructor(
    readonly local: LocalCopy,
    private readonly client: RedisClient,
    private readonly tracker: CommandTracker,
    private readonly keys: RedisKeys,
    private readonly replicaId: string,
    private readonly log: StoreLog,
    /** Further scripts to load with ours (the refresh lock's, when it runs on this Redis). */
    private readonly extraScripts: readonly LuaScript[] = [],
  ) {}

  /** Loads all scripts; done on each (re)connect (see preloadScripts for why). */
  async preload(): Promise<void> {
    await this.tracker.run('script:load', () => preloadScripts(this.client, [...Object.values(SCRIPTS), ...this.extraScripts]));
  }

  /** False when Redis lost its data. */
  async hasData(): Promise<boolean> {
    return (await this.tracker.run('exists:meta', () => this.client.exists(this.keys.meta))) === 1;
  }

  /** Inserts seed credentials Redis has no trace of (rules: RedisCredentialStore's class comment). */
  async seedFromFile(credentials: readonly Credential[]): Promise<void> {
    await this.seed(credentials.map((credential) => ({ credential, rev: 1, seedHash: seedHashOf(credential) })), 'file');
  }

  /** Writes the local copy (credentials and stats) into a Redis that lost its data; ids are kept. */
  async seedFromLocal(): Promise<void> {
    const entries = [...this.local.entries()];
    await this.seed(entries.map((e) => ({ credential: e.record.credential, rev: e.rev, seedHash: e.seedHash, stats: e.record.stats })), 'local');
  }

  private async seed(
    items: ReadonlyArray<{ credential: Credential; rev: number; seedHash: string; stats?: CredentialStats }>,
    mode: 'file' | 'local',
  ): Promise<void> {
    const args: Array<string | number> = [this.keys.prefix, this.keys.events, this.replicaId, mode, Date.now()];
    for (const { credential, rev, seedHash, stats } of items) {
      const cred = [...encodeCredentialPatch(credential).set, 'id', String(credential.id), REV_FIELD, String(rev), SEED_HASH_FIELD, seedHash];
      const statsPairs = stats ? encodeStats(stats) : [];
      args.push(credential.id, seedHash, cred.length, ...cred, statsPairs.length, ...statsPairs);
    }
    const reply = (await this.tracker.run('evalsha:seed', () =>
      SCRIPTS.seed.run(this.client, [this.keys.ids, this.keys.seq, this.keys.seedHashes, this.keys.meta], args),
    )) as string[];
    const outcomes: Record<string, number> = {};
    for (let i = 0; i + 2 < reply.length; i += 3) {
      const [inputId, storedId, outcome] = [Number(reply[i]), Number(reply[i + 1]), reply[i + 2]];
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (outcome === 'renumbered') {
        this.log('warn', 'seed credential id already used by another credential; added under a new id', { seedId: inputId, id: storedId });
      } else if (outcome === 'inserted' && mode === 'local') {
        this.stats.drop(inputId); // its pending deltas are part of the absolute values just written
      }
    }
    if (mode === 'local') this.log('warn', 'Redis had lost its data: re-seeded from the local copy', { outcomes });
    else this.log('info', 'credentials seeded', { outcomes });
  }

  /**
   * Reads the given credentials (all when undefined) into the local copy and returns them. Stats
   * deltas that the read cannot include yet (StatsQueue.overlay) and queued updates are laid over it.
   * Throws RedisDataLostError instead of emptying the local copy when Redis came back empty.
   */
  async read(ids: readonly number[] | undefined): Promise<Map<number, CredentialRecord>> {
    const mark = this.stats.mark();
    const reply = (await this.tracker.run('evalsha:read', () =>
      SCRIPTS.read.run(this.client, [this.keys.ids, this.keys.meta], [this.keys.prefix, ...(ids ?? [])]),
    )) as [number, ...Array<[string, string[], string[]]>];
    const [metaExists, ...rows] = reply;
    if (metaExists === 0) throw new RedisDataLostError();
    const out = new Map<number, CredentialRecord>();
    const changed = new Set<number>();
    for (const [idText, credFlat, statsFlat] of rows) {
      const id = Number(idText);
      const decoded = decodeCredential(credFlat);
      if (!decoded) {
        if (this.drop(id, false)) changed.add(id);
        continue;
      }
      const q = this.queued.get(id);
      const credential = q ? applyCredentialPatch(decoded.credential, q.patch) : decoded.credential;
      const stats = this.stats.overlay(id, mark).reduce(applyDelta, decodeStats(statsFlat));
      const record = { credential, stats };
      out.set(id, record);
      if (this.local.set(id, { record, rev: decoded.rev, seedHash: decoded.seedHash }, false)) changed.add(id);
    }
    if (ids === undefined) {
      for (const entry of [...this.local.entries()]) {
        const id = entry.record.credential.id;
        if (!out.has(id) && this.drop(id, false)) changed.add(id);
      }
    }
    if (changed.size === 1) this.local.emit([...changed][0]);
    else if (changed.size > 1) this.local.emit(null);
    return out;
  }

  /**
   * Writes a patch (UPDATE_SCRIPT: one HSET, `_rev` bump, event), with `fence` only while Redis holds
   * the fence's tokens. Returns the record as Redis now has it, whether the patch was written (false:
   * fenced off, the record carries the newer tokens), whether it lifted an InvalidRefreshToken
   * disable, and whether the credential was already in the local copy (if not, its stats still need
   * a read); undefined if unknown to Redis.
   */
  async update(
    id: number,
    patch: Partial<Credential>,
    fence?: TokenFence,
  ): Promise<{ record: CredentialRecord; written: boolean; lifted: boolean; wasKnown: boolean } | undefined> {
    const { set, del } = encodeCredentialPatch(patch);
    const condition = fence ? ['1', fence.refreshToken ?? '', fence.accessToken ?? ''] : ['', '', ''];
    const reply = await this.tracker.run('evalsha:update', () =>
      SCRIPTS.update.run(this.client, [this.keys.cred(id)], [this.keys.events, this.replicaId, id, ...condition, set.length, ...set, ...del]),
    );
    const [written, lifted, flat] = Array.isArray(reply) ? (reply as [number, number, string[]]) : [0, 0, []];
    const decoded = decodeCredential(flat);
    if (!decoded) {
      this.drop(id);
      return undefined;
    }
    const existing = this.local.get(id);
    const record = { credential: decoded.credential, stats: existing?.record.stats ?? { ...EMPTY_STATS } };
    // Written or not, this is Redis's current state: fenced off means it holds newer tokens than we did.
    this.local.set(id, { record, rev: decoded.rev, seedHash: decoded.seedHash }, true);
    return { record, written: written === 1, lifted: lifted === 1, wasKnown: existing !== undefined };
  }

  /** Adds a credential under a fresh id (ADD_SCRIPT). */
  async add(credential: Omit<Credential, 'id'>): Promise<CredentialRecord> {
    const { set } = encodeCredentialPatch(credential);
    const seedHash = seedHashOf(credential);
    const reply = await this.tracker.run('evalsha:add', () =>
      SCRIPTS.add.run(this.client, [this.keys.ids, this.keys.seq, this.keys.seedHashes], [this.keys.prefix, this.keys.events, this.replicaId, seedHash, ...set]),
    );
    const id = Number(reply);
    const fields = Object.fromEntries(Object.entries(credential).filter(([, v]) => v !== undefined));
    const record: CredentialRecord = { credential: { ...fields, id } as Credential, stats: { ...EMPTY_STATS } };
    this.local.set(id, { record, rev: 1, seedHash }, true);
    return record;
  }

  /** Removes a credential (REMOVE_SCRIPT); false when Redis did not have it. */
  async remove(id: number): Promise<boolean> {
    const reply = await this.tracker.run('evalsha:remove', () =>
      SCRIPTS.remove.run(this.client, [this.keys.ids, this.keys.cred(id), this.keys.stats(id)], [this.keys.events, this.replicaId, id]),
    );
    this.drop(id);
    return reply === 1;
  }

  /** The hot path: local change now, delta for the next flush. No I/O, no change notification. */
  recordStats(id: number, mutate: (current: Readonly<CredentialStats>) => Partial<CredentialStats>): void {
    const entry = this.local.get(id);
    if (!entry) return;
    const delta = diffStats(entry.record.stats, mutate(entry.record.stats));
    if (!delta) return;
    this.stats.record(id, delta);
    const stats = applyDelta(entry.record.stats, delta);
    this.local.replace(id, { ...entry, record: { credential: entry.record.credential, stats } });
  }

  /** Sends all pending stats deltas in one script call; on a transport error they are kept and the error rethrown. */
  async flushStats(): Promise<void> {
    const batch = this.stats.take();
    if (!batch) return;
    const args: Array<string | number> = [this.keys.prefix, this.keys.events, this.replicaId];
    for (const [id, delta] of batch.deltas) {
      const ops = deltaToOps(delta);
      if (ops.length > 0) args.push(id, ops.length, ...ops);
    }
    try {
      await this.tracker.run('evalsha:flush_stats', () => SCRIPTS.flushStats.run(this.client, [this.keys.ids], args));
      this.stats.ack(batch);
    } catch (err) {
      if (!isReplyError(err)) {
        this.stats.requeue(batch);
        throw err;
      }
      this.stats.ack(batch); // Redis rejected it; retrying would fail forever
      this.log('error', 'stats flush rejected by Redis; batch dropped', { error: String(err) });
    }
  }

  /** Applies an update locally only and queues it for {@link drainQueue}. */
  queueUpdate(entry: LocalEntry, patch: Partial<Credential>): CredentialRecord {
    const id = entry.record.credential.id;
    const prev = this.queued.get(id);
    this.queued.set(id, { baseRev: prev?.baseRev ?? entry.rev, patch: { ...prev?.patch, ...patch } });
    const record = { credential: applyCredentialPatch(entry.record.credential, patch), stats: entry.record.stats };
    this.local.set(id, { ...entry, record }, true);
    return record;
  }

  /** Writes queued updates with RECONCILE_SCRIPT until none is left (more may be queued meanwhile). */
  async drainQueue(): Promise<void> {
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
  }

  private async replay(id: number, q: QueuedUpdate): Promise<void> {
    const { token, other } = splitTokenFields(encodeCredentialPatch(q.patch));
    const valueOf = (field: string) => {
      const at = token.set.indexOf(field);
      return at >= 0 && at % 2 === 0 ? token.set[at + 1] : '';
    };
    const reply = await this.tracker.run('evalsha:reconcile', () =>
      SCRIPTS.reconcile.run(this.client, [this.keys.cred(id)], [
        this.keys.events, this.replicaId, id, q.baseRev, valueOf(EXPIRES_MS_FIELD), valueOf(REFRESHED_AT_FIELD),
        token.set.length, token.del.length, other.set.length, other.del.length,
        ...token.set, ...token.del, ...other.set, ...other.del,
      ]),
    );
    const [tokenWritten, otherWritten, , enabled] = Array.isArray(reply) ? (reply as number[]) : [0, 0, 0, 0];
    this.log(tokenWritten || otherWritten ? 'info' : 'warn', 'queued credential update reconciled', {
      credentialId: id,
      tokenWritten: tokenWritten === 1,
      otherWritten: otherWritten === 1,
      reenabled: enabled === 1,
      credentialGone: !Array.isArray(reply),
    });
  }

  /** Forgets a credential locally; returns whether it was in the local copy. */
  drop(id: number, emit = true): boolean {
    this.stats.drop(id);
    this.queued.delete(id);
    return this.local.delete(id, emit);
  }
}
