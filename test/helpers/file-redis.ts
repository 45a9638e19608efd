/**
 * One redis-server for a whole test file, with a plain client to look into it (or tamper with it).
 * Registers vitest hooks, so it is called at the top of a test file (never from code the loadtest
 * build compiles: that build has no vitest).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedis, type RedisServer, type RedisServerOptions } from './redis.js';

/** The file's redis-server (usable once its tests run) and a plain client on it. */
export interface FileRedis extends RedisServer {
  /** Made on first use; disconnected after the file's last test. */
  readonly raw: Redis;
}

/**
 * Starts a redis-server before the file's first test and stops it after the last.
 * @param raw options of the plain client (default: one try per command).
 */
export function redisForFile(options: RedisServerOptions = {}, raw: RedisOptions = { maxRetriesPerRequest: 1 }): FileRedis {
  let server: RedisServer | undefined;
  let client: Redis | undefined;
  const running = (): RedisServer => {
    if (!server) throw new Error('the redis-server of this file starts before its first test');
    return server;
  };
  beforeAll(async () => {
    server = await startRedis(options);
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });
  return {
    get url() {
      return running().url;
    },
    get port() {
      return running().port;
    },
    get raw() {
      if (!client) {
        client = new Redis(running().url, raw);
        client.on('error', () => {}); // reconnects on its own; a command that fails says why
      }
      return client;
    },
    stop: () => running().stop(),
    kill9: () => running().kill9(),
    restart: () => running().restart(),
  };
}
