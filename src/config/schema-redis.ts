/** Settings of the shared Redis store (empty `redis.url` and no Sentinels or Cluster = one process, in memory). */
import { setting, type SchemaTree } from './setting.js';

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
    lockTtlMs: setting('TTL of the token refresh lock (ms).', 'kiro-positive', 10_000, 'KIRO_REDIS_LOCK_TTL_MS'),
  };
}
