/** Options of the Redis credential store. */
import type { RedisConnectionOptions } from './connection.js';
import type { StoreLog } from './mirror.js';
import type { Credential } from '../../credentials/types.js';

/** Options of RedisCredentialStore; connection fields as in `GatewayConfig.redis`. */
export interface RedisCredentialStoreOptions extends RedisConnectionOptions {
  keyPrefix: string;
  /** Period of the full resync of the local copy (pub/sub covers the time in between). */
  resyncIntervalMs: number;
  /** Refresh lock TTL: a replica killed while refreshing blocks the others at most this long. */
  lockTtlMs: number;
  /** How long a replica waits for another's refresh before giving up. Default 2 × lockTtlMs. */
  lockWaitMs?: number;
  /**
   * `redis://` URLs of independent Redis masters for the refresh lock (Redlock needs a majority of
   * them); empty or absent = the lock lives in the store's own Redis.
   */
  lockNodes?: readonly string[];
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
