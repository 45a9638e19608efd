/**
 * What the Redis side of client keys shares: the key names, one command connection and one
 * subscriber (their own, so a limit check never queues behind the credential store's traffic), and
 * whether Redis is usable right now. Any error that is not a Redis reply (see isReplyError) turns it
 * off until the next background flush gets through; meanwhile limits are enforced locally.
 */
import { ApiError } from '../../errors.js';
import { redisKeys } from './codec.js';
import {
  CommandTracker,
  createRedisClient,
  isClusterMode,
  isReplyError,
  preloadScripts,
  waitReady,
  type LuaScript,
  type RedisClient,
  type RedisConnectionOptions,
} from './connection.js';
import type { StoreLog } from './mirror.js';

/**
 * Key names, all under the store's prefix (and, in Cluster mode, its hash slot):
 *
 * | key | type | content |
 * |---|---|---|
 * | `{p}clientkeys` | hash | key id → ClientKeyRecord JSON (hashes of keys, never keys) |
 * | `{p}clientkeys:written` | string | set with the first key and never removed: without it, an empty hash means Redis lost its data |
 * | `{p}clientkeys:events` | pub/sub channel | `{"replica":"…","id":"key_…"}` after each change |
 * | `{p}climit:{id}` | hash | limit state (see lua/client-keys.ts), expires 2 days after last use |
 * | `{p}cslots:{id}` | sorted set | concurrency slots, scored by lease expiry |
 * | `{p}usage:h:{YYYYMMDDHH}`, `{p}usage:d:{YYYYMMDD}` | hash | usage counters, expire after the retention |
 * | `{p}replicas` | sorted set | the credential store's heartbeats: live replicas, for the fallback limits |
 */
export interface ClientKeyRedisKeys {
  readonly prefix: string;
  readonly records: string;
  readonly written: string;
  readonly events: string;
  readonly replicas: string;
  limit(id: string): string;
  slots(id: string): string;
  usage(bucket: string): string;
}

export function clientKeyRedisKeys(keyPrefix: string, cluster: boolean): ClientKeyRedisKeys {
  const { prefix, replicas } = redisKeys(keyPrefix, cluster);
  return {
    prefix,
    records: `${prefix}clientkeys`,
    written: `${prefix}clientkeys:written`,
    events: `${prefix}clientkeys:events`,
    replicas,
    limit: (id) => `${prefix}climit:${id}`,
    slots: (id) => `${prefix}cslots:${id}`,
    usage: (bucket) => `${prefix}usage:${bucket}`,
  };
}

/** An admin change that needs Redis while it is unreachable. */
export class KeysUnavailableError extends ApiError {
  constructor(action: string, cause?: unknown) {
    super(`Redis unreachable: cannot ${action} now, try again later`, { status: 503, cause });
  }
}

export interface ClientKeyRedisOptions extends RedisConnectionOptions {
  keyPrefix: string;
  replicaId: string;
  log?: StoreLog;
  /** Called after every command (name, duration, success), for metrics. */
  onRedisCommand?: (name: string, ms: number, ok: boolean) => void;
}

/** Connections and the online flag, shared by the key store, the limiter and the usage store. */
export class ClientKeyRedis {
  readonly keys: ClientKeyRedisKeys;
  readonly client: RedisClient;
  readonly subscriber: RedisClient;
  readonly tracker: CommandTracker;
  readonly log: StoreLog;
  readonly replicaId: string;
  private usable = false;
  private closed = false;
  private lastError: string | undefined;
  private offlineSince: number | undefined;
  private readonly scripts: LuaScript[] = [];
  private readonly reconnectListeners = new Set<() => void>();

  constructor(options: ClientKeyRedisOptions) {
    this.keys = clientKeyRedisKeys(options.keyPrefix, isClusterMode(options));
    // A limit check waits for this at most once before the request falls back to local limits.
    this.client = createRedisClient({ commandTimeoutMs: 1_000, ...options }, 'command');
    this.subscriber = createRedisClient(options, 'subscriber');
    this.tracker = new CommandTracker(options.onRedisCommand);
    this.log = options.log ?? (() => {});
    this.replicaId = options.replicaId;
    this.client.on('error', (err: Error) => (this.lastError = err.message));
    this.subscriber.on('error', () => {});
    this.client.on('close', () => {
      if (!this.closed) this.markOffline(new Error(this.lastError ?? 'connection closed'));
    });
    this.client.on('ready', () => {
      preloadScripts(this.client, this.scripts)
        .then(() => {
          for (const listener of this.reconnectListeners) listener();
        })
        .catch((err: unknown) => this.markOffline(err));
    });
  }

  /** Scripts to load on every (re)connect, so EVALSHA does not meet NOSCRIPT. */
  useScripts(...scripts: LuaScript[]): void {
    this.scripts.push(...scripts);
  }

  /** Called after each reconnect, once the scripts are loaded. */
  onReconnect(listener: () => void): void {
    this.reconnectListeners.add(listener);
  }

  /** Redis answered the last call and the connection is up. */
  get online(): boolean {
    return this.usable && this.client.status === 'ready';
  }

  /** The connection is up (calls may be tried, e.g. the flush that brings the limiter back). */
  get connected(): boolean {
    return this.client.status === 'ready';
  }

  /** A call got through: shared limits apply again. */
  markOnline(): void {
    if (!this.usable && this.offlineSince !== undefined) {
      this.log('info', 'Redis reachable again: client key limits are shared again', { downMs: Date.now() - this.offlineSince });
    }
    this.usable = true;
    this.offlineSince = undefined;
  }

  /** A call failed for a reason other than a Redis reply: local limits until a flush gets through. */
  markOffline(err: unknown): void {
    this.lastError = err instanceof Error ? err.message : String(err);
    if (!this.usable && this.offlineSince !== undefined) return;
    const wasUsable = this.usable;
    this.usable = false;
    this.offlineSince = Date.now();
    if (wasUsable) this.log('warn', 'Redis unreachable: client key limits enforced per replica', { error: this.lastError });
  }

  /** Runs a call; a transport failure marks Redis offline and is rethrown. */
  async run<T>(name: string, call: () => Promise<T>): Promise<T> {
    try {
      return await this.tracker.run(name, call);
    } catch (err) {
      if (!isReplyError(err)) this.markOffline(err);
      throw err;
    }
  }

  /** Connects both connections and loads the scripts; fails after `timeoutMs`. */
  async connect(timeoutMs: number): Promise<void> {
    await waitReady(this.client, timeoutMs);
    await preloadScripts(this.client, this.scripts);
    await waitReady(this.subscriber, timeoutMs);
    this.usable = true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.usable = false;
    for (const c of [this.client, this.subscriber]) {
      try {
        if (c.status === 'ready') await c.quit();
        else c.disconnect();
      } catch {
        c.disconnect();
      }
    }
  }

  /** For readiness: why Redis is not usable, if it is not. */
  get problem(): string | undefined {
    return this.online ? undefined : (this.lastError ?? 'not connected');
  }
}
