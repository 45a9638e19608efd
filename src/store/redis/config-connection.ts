/**
 * Where the configuration says Redis is, in the form the Redis clients take. Imports types only, so
 * a gateway without Redis loads no Redis code through it.
 */
import type { GatewayConfig } from '../../config.js';
import type { RedisConnectionOptions } from './connection.js';

/** Whether replicas share state in Redis (any of `redis.url`, `redis.sentinels`, `redis.clusterNodes` set). */
export function usesRedis(config: Pick<GatewayConfig, 'redis'>): boolean {
  return Boolean(config.redis.url || config.redis.sentinels || config.redis.clusterNodes);
}

/** The connection part of a Redis store's options: unset settings left out, the password as ioredis' option, and the key prefix. */
export function redisConnection(redis: GatewayConfig['redis']): RedisConnectionOptions & { keyPrefix: string } {
  return {
    url: redis.url || undefined,
    sentinels: redis.sentinels || undefined,
    sentinelName: redis.sentinelName || undefined,
    clusterNodes: redis.clusterNodes || undefined,
    redisOptions: redis.password ? { password: redis.password } : undefined,
    keyPrefix: redis.keyPrefix,
  };
}
