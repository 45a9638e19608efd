/**
 * `redis.password` (KIRO_REDIS_PASSWORD): Sentinel and Cluster modes have no URL to carry a password,
 * and a password spliced into a URL breaks on `@`, `:` or `/`. The gateway built from configuration
 * must reach a Redis that requires AUTH, in standalone and Cluster mode, and keep the password out of
 * its logs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { buildGateway, secretSource } from '../../../src/gateway.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

const PASSWORD = 'p@ss:w/rd-with-url-breakers-0123';

async function requirePassword(server: RedisServer): Promise<void> {
  const admin = new Redis(server.port, '127.0.0.1', { lazyConnect: true });
  await admin.connect();
  await admin.config('SET', 'requirepass', PASSWORD);
  admin.disconnect();
}

function configFor(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'kiro-redis-pw-'));
  const credentialsPath = join(dir, 'credentials.json');
  writeFileSync(credentialsPath, JSON.stringify([{ refreshToken: 'r'.repeat(40), authMethod: 'social' }]));
  return loadConfig({ argv: ['--credentials', credentialsPath], env: { KIRO_CLIENT_API_KEY: 'sk-client-key-0123456789', ...env }, warn: () => {} });
}

describe('redis.password', () => {
  let standalone: RedisServer;
  let cluster: RedisServer;
  beforeAll(async () => {
    [standalone, cluster] = await Promise.all([startRedis(), startRedis({ cluster: true })]);
    await Promise.all([requirePassword(standalone), requirePassword(cluster)]);
  });
  afterAll(async () => {
    await Promise.all([standalone?.stop(), cluster?.stop()]);
  });

  it.each([
    ['a URL without a password (standalone)', () => ({ KIRO_REDIS_URL: standalone.url, KIRO_REDIS_KEY_PREFIX: 'pw-standalone:' })],
    ['Cluster nodes, which have no URL at all', () => ({ KIRO_REDIS_CLUSTER_NODES: `127.0.0.1:${cluster.port}`, KIRO_REDIS_KEY_PREFIX: 'pw-cluster:' })],
  ])('authenticates %s and reads the seeded credential', async (_name, address) => {
    const gateway = await buildGateway(configFor({ ...address(), KIRO_REDIS_PASSWORD: PASSWORD }));
    try {
      expect(gateway.store.health()).toMatchObject({ ok: true });
      expect(gateway.store.list()).toHaveLength(1);
    } finally {
      await gateway.close(0);
    }
  });

  it('authenticates to redis.lockNodes too, and the refresh lock takes a majority of them', async () => {
    const nodes = await Promise.all([startRedis(), startRedis(), startRedis()]);
    try {
      await Promise.all(nodes.map(requirePassword));
      const lockNodes = nodes.map((n) => n.url).join(',');
      const gateway = await buildGateway(configFor({ KIRO_REDIS_URL: standalone.url, KIRO_REDIS_KEY_PREFIX: 'pw-lock:', KIRO_REDIS_LOCK_NODES: lockNodes, KIRO_REDIS_PASSWORD: PASSWORD }));
      try {
        const exclusive = await gateway.store.withRefreshLock(1, async (_fresh, _signal, ex) => ex);
        expect(exclusive).toBe(true);
      } finally {
        await gateway.close(0);
      }
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });

  it('is a secret: the log scrubber knows it', () => {
    const config = configFor({ KIRO_REDIS_URL: standalone.url, KIRO_REDIS_PASSWORD: PASSWORD });
    const secrets = secretSource(config, { list: () => [], onChange: () => () => {} });
    expect(secrets()).toContain(PASSWORD);
  });

  it('the scrubber also knows passwords written into redis.url and redis.lockNodes URLs', () => {
    const config = configFor({ KIRO_REDIS_URL: 'redis://:url-password-0123@r:6379', KIRO_REDIS_LOCK_NODES: 'redis://a:6379,rediss://user:lock%40password-0123@b:6380' });
    const secrets = secretSource(config, { list: () => [], onChange: () => () => {} });
    expect(secrets()).toEqual(expect.arrayContaining(['url-password-0123', 'lock@password-0123']));
  });
});
