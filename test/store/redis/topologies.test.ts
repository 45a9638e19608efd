import { Cluster, type Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RedisCredentialStore } from '../../../src/store/redis/redis-store.js';
import { startRedis, startSentinel, type RedisServer } from '../../helpers/redis.js';
import { credential, eventually, makeStore, rawClient, uniquePrefix } from './fixtures.js';

const open: RedisCredentialStore[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function started(options: Parameters<typeof makeStore>[1]): Promise<RedisCredentialStore> {
  const store = makeStore('', options);
  open.push(store);
  await store.init();
  return store;
}

/** Everything a replica does, on whatever topology the stores were built for. */
async function exerciseTwoReplicas(a: RedisCredentialStore, b: RedisCredentialStore): Promise<void> {
  await a.update(1, { accessToken: 'from-a' });
  await eventually(() => expect(b.get(1)?.credential.accessToken).toBe('from-a'), 1_000);
  a.updateStats(1, (s) => ({ successCount: s.successCount + 2 }));
  b.updateStats(1, (s) => ({ successCount: s.successCount + 3 }));
  await eventually(() => expect([a.get(1)?.stats.successCount, b.get(1)?.stats.successCount]).toEqual([5, 5]));
  const results = await Promise.all(
    [a, b].map((s) =>
      s.withRefreshLock(1, async (fresh) => {
        if (fresh.credential.accessToken === 'refreshed') return 'reused';
        await s.update(1, { accessToken: 'refreshed' });
        return 'refreshed';
      }),
    ),
  );
  expect(results.sort()).toEqual(['refreshed', 'reused']);
  const { id: _ignored, ...fields } = credential(0);
  const added = await b.add(fields);
  await eventually(() => expect(a.get(added.credential.id)).toBeDefined(), 1_000);
  await a.remove(added.credential.id);
  await eventually(() => expect(b.get(added.credential.id)).toBeUndefined(), 1_000);
  expect((await a.listReplicas()).map((r) => r.id).sort()).toEqual(['a', 'b']);
}

describe('Redis Cluster', () => {
  let node: RedisServer;
  let cluster: Cluster;
  beforeAll(async () => {
    node = await startRedis({ cluster: true });
    cluster = new Cluster([{ host: '127.0.0.1', port: node.port }]);
  });
  afterAll(async () => {
    cluster.disconnect();
    await node.stop();
  });

  it('keeps all keys in one hash slot, so the multi-key scripts run on a cluster', async () => {
    const keyPrefix = uniquePrefix();
    const clusterNodes = `127.0.0.1:${node.port}`;
    const seed = [credential(1), credential(2)];
    const a = await started({ keyPrefix, clusterNodes, seed, replicaId: 'a' });
    const b = await started({ keyPrefix, clusterNodes, seed, replicaId: 'b' });
    expect(a.list().map((r) => r.credential.id)).toEqual([1, 2]);
    expect(await cluster.hget(`{${keyPrefix}}cred:1`, 'id')).toBe('1');
    await exerciseTwoReplicas(a, b);
  });

  it('uses a prefix that already carries a hash tag as it is', async () => {
    const keyPrefix = `{${uniquePrefix()}}`;
    const store = await started({ keyPrefix, clusterNodes: `127.0.0.1:${node.port}`, seed: [credential(1)] });
    expect(store.get(1)).toBeDefined();
    expect(await cluster.exists(`${keyPrefix}cred:1`)).toBe(1);
  });
});

describe('Redis Sentinel', () => {
  let master: RedisServer;
  let sentinel: RedisServer;
  let raw: Redis;
  beforeAll(async () => {
    master = await startRedis();
    sentinel = await startSentinel(master, 'kiro');
    raw = rawClient(master.url);
  });
  afterAll(async () => {
    raw.disconnect();
    await sentinel.stop();
    await master.stop();
  });

  it('finds the primary through Sentinel and works as on a single node', async () => {
    const keyPrefix = uniquePrefix();
    const sentinels = `127.0.0.1:${sentinel.port}`;
    const seed = [credential(1)];
    const a = await started({ keyPrefix, sentinels, sentinelName: 'kiro', seed, replicaId: 'a' });
    const b = await started({ keyPrefix, sentinels, sentinelName: 'kiro', seed, replicaId: 'b' });
    expect(await raw.hget(`${keyPrefix}cred:1`, 'id')).toBe('1');
    await exerciseTwoReplicas(a, b);
  });
});
