/**
 * Client keys assembled from configuration: with Redis, keys, limits and usage are shared by every
 * replica (store/redis/client-key-*.ts); without it, keys live in client-keys.json, usage in
 * client-usage.json, and limits in this process.
 */
import { dirname, join } from 'node:path';
import type { GatewayConfig } from '../config.js';
import { redisConnection, usesRedis } from '../store/redis/config-connection.js';
import { ClientAuthenticator } from './authenticator.js';
import { FileClientKeyStore } from './file-key-store.js';
import { ClientKeyGate, type KeyObserver } from './gate.js';
import type { ClientKeyStore } from './key-store.js';
import { ProcessLimiter, type KeyLimiter } from './limiter.js';
import { LocalLimiter } from './local-limiter.js';
import { MemoryUsageStore } from './memory-usage.js';
import type { UsageStore } from './usage.js';

type Log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface ClientKeysOptions {
  replicaId: string;
  log?: Log;
  /** Whether a credential id exists (pinned keys). */
  credentialExists: (id: number) => boolean;
  observer?: KeyObserver;
  /** Called when the Redis limiter falls back to local limits (true) or shares them again (false). */
  onFallback?: (active: boolean) => void;
  onRedisCommand?: (name: string, ms: number, ok: boolean) => void;
}

/** What /readyz reports about the limits. */
export interface LimiterHealth {
  /** `shared` (Redis), `local` (Redis unreachable: each replica enforces its share), `process` (no Redis). */
  mode: KeyLimiter['mode'];
  /** Live replicas the limits are divided among while local. */
  replicas: number;
  keys: number;
}

export interface ClientKeys {
  readonly gate: ClientKeyGate;
  readonly store: ClientKeyStore;
  readonly usage: UsageStore;
  /** Sends buffered usage and limit updates now (Redis; nothing to do otherwise). */
  flush(): Promise<void>;
  health(): LimiterHealth;
  close(): Promise<void>;
}

/** client-keys.json of the single-process mode. */
export function clientKeysFile(config: Pick<GatewayConfig, 'clientKeys' | 'credentialsPath'>): string {
  return config.clientKeys.file || join(dirname(config.credentialsPath), 'client-keys.json');
}

function assemble(
  config: GatewayConfig,
  store: ClientKeyStore,
  usage: UsageStore,
  limiter: KeyLimiter,
  options: ClientKeysOptions,
  extra: { flush: () => Promise<void>; close: () => Promise<void> },
): ClientKeys {
  const gate = new ClientKeyGate({
    authenticator: new ClientAuthenticator(config.apiKey, store),
    limiter,
    usage,
    credentialExists: options.credentialExists,
    observer: options.observer,
  });
  return {
    gate,
    store,
    usage,
    flush: extra.flush,
    health: () => ({ mode: limiter.mode, replicas: limiter.replicas, keys: store.list().length }),
    close: extra.close,
  };
}

/** Builds and initialises the client keys of a gateway. */
export async function createClientKeys(config: GatewayConfig, options: ClientKeysOptions): Promise<ClientKeys> {
  const retention = config.usage;
  if (!usesRedis(config)) {
    const file = clientKeysFile(config);
    const store = new FileClientKeyStore(file);
    await store.init();
    const usage = new MemoryUsageStore(join(dirname(file), 'client-usage.json'), retention, (err) =>
      options.log?.('error', 'could not write client-usage.json', { error: String(err) }),
    );
    await usage.init();
    const limiter = new ProcessLimiter(new LocalLimiter({ dayUsage: (id) => usage.todayOf(id) }));
    return assemble(config, store, usage, limiter, options, {
      flush: async () => {},
      close: async () => {
        await Promise.all([store.close(), usage.close()]);
      },
    });
  }
  const [{ ClientKeyRedis }, { RedisClientKeyStore }, { RedisKeyLimiter }, { RedisUsageStore }, { ClientKeyFlusher }] = await Promise.all([
    import('../store/redis/client-key-redis.js'),
    import('../store/redis/client-key-store.js'),
    import('../store/redis/key-limiter.js'),
    import('../store/redis/usage-store.js'),
    import('../store/redis/client-key-flush.js'),
  ]);
  const redis = new ClientKeyRedis({
    ...redisConnection(config.redis),
    replicaId: options.replicaId,
    log: options.log,
    onRedisCommand: options.onRedisCommand,
  });
  const limiter = new RedisKeyLimiter(redis, options.onFallback);
  const usage = new RedisUsageStore(redis);
  const flusher = new ClientKeyFlusher(redis, limiter, usage, retention);
  const store = new RedisClientKeyStore(redis, config.redis.resyncIntervalMs);
  try {
    await redis.connect(10_000);
    await store.init();
  } catch (err) {
    await redis.close();
    throw new Error(`client keys could not reach Redis: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  flusher.start();
  await flusher.flush(); // learns the live replica count before the first request
  return assemble(config, store, usage, limiter, options, {
    flush: () => flusher.flush(),
    close: async () => {
      await flusher.stop();
      await store.close();
      await redis.close();
    },
  });
}
