/** Settings of the shared Redis store (empty `redis.url` and no Sentinels or Cluster = one process, in memory). */
import { redisUrlList, setting, type SchemaTree } from './setting.js';

export function redisSettings(): SchemaTree {
  return {
    url: setting(
      'redis:// or rediss:// URL of a shared store; empty = in-memory store persisted to credentials.json (one process).',
      String,
      '',
      'KIRO_REDIS_URL',
      { sensitive: true },
    ),
    sentinels: setting('Sentinels as `host:port,host:port` (with `redis.sentinelName`).', String, '', 'KIRO_REDIS_SENTINELS'),
    sentinelName: setting('Sentinel master name.', String, '', 'KIRO_REDIS_SENTINEL_NAME'),
    clusterNodes: setting('Cluster seed nodes as `host:port,host:port`.', String, '', 'KIRO_REDIS_CLUSTER_NODES'),
    password: setting(
      'Password (AUTH) of the Redis nodes — standalone, Sentinel-managed master and replicas, or Cluster nodes; a password in `redis.url` wins. Not sent to the Sentinels themselves.',
      String,
      '',
      'KIRO_REDIS_PASSWORD',
      { sensitive: true },
    ),
    keyPrefix: setting('Prefix of every Redis key.', String, 'kiro:', 'KIRO_REDIS_KEY_PREFIX'),
    resyncIntervalMs: setting(
      'Full resync period of the local credential copy (ms).',
      'kiro-positive',
      30_000,
      'KIRO_REDIS_RESYNC_INTERVAL_MS',
    ),
    lockTtlMs: setting(
      'TTL of the token refresh lock (ms, at least 300): a replica that dies while refreshing holds up the others this long. Extended every third of it while the refresh runs; a waiter gives up after twice it.',
      'kiro-lock-ttl',
      10_000,
      'KIRO_REDIS_LOCK_TTL_MS',
    ),
    lockNodes: setting(
      'Independent Redis masters for the token refresh lock, as `redis://host:port,redis://host:port,…` (Redlock: the lock needs a majority, so 3 or 5 nodes survive 1 or 2 failures; `redis.password` applies unless a URL has its own). Empty = the store\'s own Redis.',
      redisUrlList,
      '',
      'KIRO_REDIS_LOCK_NODES',
      { sensitive: true },
    ),
  };
}
