/**
 * Shared builders for the Redis store tests: credentials, stores with test-friendly timings, polling,
 * and the one redis-server most test files share among their tests.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach } from 'vitest';
import { RedisCredentialStore, type RedisCredentialStoreOptions } from '../../../src/store/redis/redis-store.js';
import type { Credential } from '../../../src/credentials/types.js';
import { redisForFile, type FileRedis } from '../../helpers/file-redis.js';

/** A social credential with a realistic-length refresh token. */
export function credential(id: number, overrides: Partial<Credential> = {}): Credential {
  return {
    id,
    authMethod: 'social',
    refreshToken: `refresh-${id}-${'r'.repeat(120)}`,
    accessToken: `access-${id}`,
    expiresAt: '2030-01-01T00:00:00.000Z',
    priority: id,
    machineId: 'a'.repeat(64),
    disabled: false,
    ...overrides,
  };
}

/** Each test gets its own prefix so tests in one file never see each other's keys. */
export function uniquePrefix(): string {
  return `t${randomBytes(4).toString('hex')}:`;
}

/** Quick retries so outages heal within the test's patience. */
const FAST_RECONNECT = { retryStrategy: () => 50, connectTimeout: 1_000 };

/** Builds (not inits) a store with short timings; override anything. */
export function makeStore(url: string, options: Partial<RedisCredentialStoreOptions> & { keyPrefix: string }): RedisCredentialStore {
  return new RedisCredentialStore({
    url,
    resyncIntervalMs: 60_000,
    lockTtlMs: 1_000,
    seed: [],
    replicaId: `replica-${randomBytes(3).toString('hex')}`,
    statsFlushIntervalMs: 50,
    heartbeatIntervalMs: 60_000,
    connectTimeoutMs: 5_000,
    commandTimeoutMs: 1_000,
    redisOptions: FAST_RECONNECT,
    ...options,
  });
}

const RAW_CLIENT = { maxRetriesPerRequest: 1, retryStrategy: () => 50 };

/** A plain client to look at (or tamper with) Redis directly. */
export function rawClient(url: string): Redis {
  return new Redis(url, RAW_CLIENT);
}

/** The redis-server of a test file, and the stores its tests open on it. */
export interface StoreRedis extends FileRedis {
  /** A store on this Redis with test timings, initialised; closed after the test. */
  started(options: Parameters<typeof makeStore>[1]): Promise<RedisCredentialStore>;
  /** Closes these stores (made with {@link makeStore}) after the test as well. */
  closeAfterTest(...stores: RedisCredentialStore[]): void;
}

/**
 * One redis-server for the calling test file (see {@link redisForFile}), and the stores each test
 * opens through the result closed after it. Call at the top of the file.
 */
export function redisWithStores(): StoreRedis {
  const redis = redisForFile({}, RAW_CLIENT);
  const open: RedisCredentialStore[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  return Object.assign(redis, {
    async started(options: Parameters<typeof makeStore>[1]) {
      const store = makeStore(redis.url, options);
      open.push(store);
      await store.init();
      return store;
    },
    closeAfterTest(...stores: RedisCredentialStore[]) {
      open.push(...stores);
    },
  });
}

/** Polls `check` until it stops throwing, or rethrows its last error after `timeoutMs`. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 3_000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
