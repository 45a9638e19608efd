/**
 * ioredis plumbing for the Redis store: client construction (single node, Sentinel or Cluster),
 * waiting for readiness, Lua scripts with an EVALSHA → EVAL fallback, and command accounting.
 */
import { createHash } from 'node:crypto';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/** A command connection of any topology. */
export type RedisClient = Redis | Cluster;

/** Where Redis is; the string forms are those of `GatewayConfig.redis`. */
export interface RedisConnectionOptions {
  /** `redis://[user:pass@]host:port[/db]`; ignored when sentinels or clusterNodes are set. */
  url?: string;
  /** `host:port,host:port` (or parsed) of Sentinels; requires `sentinelName`. */
  sentinels?: string | ReadonlyArray<{ host: string; port: number }>;
  sentinelName?: string;
  /** `host:port,host:port` (or parsed) of Cluster seed nodes. */
  clusterNodes?: string | ReadonlyArray<{ host: string; port: number }>;
  /** Passed through to ioredis (auth, TLS, retryStrategy, …); overrides the defaults below. */
  redisOptions?: Partial<RedisOptions>;
  /** Passed through to ioredis' Cluster constructor. */
  clusterOptions?: Partial<ClusterOptions>;
  /** A command without reply after this long fails (the store then treats Redis as unreachable). Default 2000. */
  commandTimeoutMs?: number;
}

/** Parses `host:port,host:port`. */
export function parseHostList(list: string | ReadonlyArray<{ host: string; port: number }> | undefined): Array<{ host: string; port: number }> {
  if (list === undefined) return [];
  if (typeof list !== 'string') return list.map((n) => ({ host: n.host, port: n.port }));
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.lastIndexOf(':');
      const host = at > 0 ? entry.slice(0, at) : entry;
      const port = at > 0 ? Number(entry.slice(at + 1)) : 6379;
      if (!Number.isInteger(port) || port <= 0) throw new Error(`invalid Redis address "${entry}" (expected host:port)`);
      return { host, port };
    });
}

/** True when the options select Cluster mode. */
export function isClusterMode(options: RedisConnectionOptions): boolean {
  return parseHostList(options.clusterNodes).length > 0;
}

/**
 * Creates a lazily connecting client.
 *
 * The command and lock connections fail fast instead of queueing while disconnected
 * (`enableOfflineQueue: false`, no resend of unanswered commands): the store has its own offline
 * handling and must know at once that a write did not happen, and Redlock counts a node that does
 * not answer as a vote against. The subscriber connection queues its SUBSCRIBE and re-subscribes
 * after reconnecting.
 */
export function createRedisClient(options: RedisConnectionOptions, role: 'command' | 'subscriber' | 'lock'): RedisClient {
  const command = role !== 'subscriber';
  const base: RedisOptions = {
    lazyConnect: true,
    connectTimeout: 5_000,
    enableOfflineQueue: !command,
    autoResendUnfulfilledCommands: !command,
    maxRetriesPerRequest: command ? 0 : null,
    commandTimeout: command ? (options.commandTimeoutMs ?? 2_000) : undefined,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
    connectionName: `kiro-gateway-${role}`,
    ...options.redisOptions,
  };
  const clusterNodes = parseHostList(options.clusterNodes);
  if (clusterNodes.length > 0) {
    return new Cluster(clusterNodes, {
      lazyConnect: true,
      enableOfflineQueue: !command,
      redisOptions: base,
      ...options.clusterOptions,
    });
  }
  const sentinels = parseHostList(options.sentinels);
  if (sentinels.length > 0) {
    if (!options.sentinelName) throw new Error('redis.sentinels is set but redis.sentinelName is empty');
    return new Redis({ ...base, sentinels, name: options.sentinelName });
  }
  if (!options.url) throw new Error('no Redis address: set redis.url, redis.sentinels or redis.clusterNodes');
  return new Redis(options.url, base);
}

/** Connects (if not yet) and resolves once the client is ready; rejects after `timeoutMs`. */
export async function waitReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return;
  let lastError: unknown;
  const onError = (err: unknown) => (lastError = err);
  client.on('error', onError);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off('ready', onReady);
        const why = lastError instanceof Error ? lastError.message : 'no answer';
        reject(new Error(`Redis not reachable within ${timeoutMs} ms: ${why}`, { cause: lastError }));
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      client.once('ready', onReady);
      if (client.status === 'wait') client.connect().catch(onError);
    });
  } finally {
    client.off('error', onError);
  }
}

/** Closes a connection: QUIT when it is up (pending replies arrive first), else at once. */
export async function quitClient(client: RedisClient): Promise<void> {
  try {
    if (client.status === 'ready') await client.quit();
    else client.disconnect();
  } catch {
    client.disconnect();
  }
}

/** True for errors that Redis itself answered (script error, wrong type): retrying will not help. */
export function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

/** Counts and times the store's own Redis commands (for metrics and the zero-commands hot-path check). */
export class CommandTracker {
  private issued = 0;

  constructor(private readonly onCommand?: (name: string, ms: number, ok: boolean) => void) {}

  /** Commands issued so far. */
  get count(): number {
    return this.issued;
  }

  /** Runs one command (or one script call) and records it. */
  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.issued++;
    const started = performance.now();
    let ok = false;
    try {
      const result = await fn();
      ok = true;
      return result;
    } finally {
      this.onCommand?.(name, performance.now() - started, ok);
    }
  }
}

/**
 * Loads scripts into the script cache of every primary. Done on each (re)connect so EVALSHA does not
 * hit NOSCRIPT later: the EVAL fallback is a second round trip, which would let a later command
 * overtake it and break the store's "replies arrive in send order" reasoning (see StatsQueue).
 */
export async function preloadScripts(client: RedisClient, scripts: readonly LuaScript[]): Promise<void> {
  const nodes: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
  await Promise.all(nodes.flatMap((node) => scripts.map((script) => node.script('LOAD', script.source))));
}

/**
 * A Lua script identified by its SHA-1, computed once. Runs with EVALSHA and falls back to EVAL when
 * the server does not know it (NOSCRIPT: first use, or after a Redis restart flushed the script cache).
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: RedisClient, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return client.eval(this.source, keys.length, ...keys, ...args);
      }
      throw err;
    }
  }
}
