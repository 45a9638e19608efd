import { describe, expect, it } from 'vitest';
import { seedHashOf } from '../../../src/store/redis/codec.js';
import { NotFoundError } from '../../../src/errors.js';
import { credential, eventually, makeStore, redisWithStores, sleep, uniquePrefix } from './fixtures.js';

const redis = redisWithStores();
const { started } = redis;

describe('seeding', () => {
  it('writes the seed into an empty Redis under the documented key layout', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1), credential(2, { disabled: true, disabledReason: 'Manual' })] });

    expect(store.list().map((r) => r.credential.id)).toEqual([1, 2]);
    expect(store.get(2)?.credential).toMatchObject({ disabled: true, disabledReason: 'Manual', priority: 2 });
    expect(store.get(1)?.stats).toEqual({ failureCount: 0, refreshFailureCount: 0, successCount: 0, failureTotal: 0, creditsUsed: 0 });

    expect(await redis.raw.zrange(`${keyPrefix}ids`, 0, -1)).toEqual(['1', '2']);
    const hash = await redis.raw.hgetall(`${keyPrefix}cred:1`);
    expect(hash).toMatchObject({ id: '1', refreshToken: credential(1).refreshToken, priority: '1', disabled: '0', _rev: '1' });
    expect(hash._seed).toBe(seedHashOf(credential(1)));
    expect(hash._exp).toBe(String(Date.parse('2030-01-01T00:00:00.000Z')));
    expect(await redis.raw.hget(`${keyPrefix}seedhash`, seedHashOf(credential(2)))).toBe('2');
    expect(await redis.raw.exists(`${keyPrefix}meta`)).toBe(1);
  });

  it('never overwrites newer state in Redis with the file: a rotated refresh token is kept', async () => {
    const keyPrefix = uniquePrefix();
    const seed = [credential(1), credential(2)];
    const first = await started({ keyPrefix, seed });
    await first.update(1, { refreshToken: 'rotated-refresh', accessToken: 'new-access', expiresAt: '2031-01-01T00:00:00.000Z' });
    await first.update(2, { priority: 9 });
    await first.close();

    const second = await started({ keyPrefix, seed }); // same stale file
    expect(second.get(1)?.credential).toMatchObject({ refreshToken: 'rotated-refresh', accessToken: 'new-access' });
    expect(second.get(2)?.credential.priority).toBe(9);
    expect(second.list()).toHaveLength(2);
  });

  it('adds a file credential whose id is taken by a different credential under a new id', async () => {
    const keyPrefix = uniquePrefix();
    const first = await started({ keyPrefix, seed: [credential(1)] });
    await first.close();

    const other = credential(1, { refreshToken: `other-${'x'.repeat(120)}` });
    const second = await started({ keyPrefix, seed: [credential(1), other] });
    expect(second.list().map((r) => r.credential.refreshToken)).toEqual([credential(1).refreshToken, other.refreshToken]);
    expect(second.get(2)?.credential.refreshToken).toBe(other.refreshToken);
  });

  it('does not bring back a credential that was removed through the store', async () => {
    const keyPrefix = uniquePrefix();
    const seed = [credential(1), credential(2)];
    const first = await started({ keyPrefix, seed });
    await first.remove(2);
    await first.close();

    const second = await started({ keyPrefix, seed });
    expect(second.list().map((r) => r.credential.id)).toEqual([1]);
  });

  it('seeds exactly once when replicas start at the same time', async () => {
    const keyPrefix = uniquePrefix();
    const seed = [credential(1), credential(2), credential(3)];
    const stores = [makeStore(redis.url, { keyPrefix, seed }), makeStore(redis.url, { keyPrefix, seed }), makeStore(redis.url, { keyPrefix, seed })];
    redis.closeAfterTest(...stores);
    await Promise.all(stores.map((s) => s.init()));
    expect(await redis.raw.zcard(`${keyPrefix}ids`)).toBe(3);
    for (const s of stores) expect(s.list().map((r) => r.credential.id)).toEqual([1, 2, 3]);
  });
});

describe('durable writes', () => {
  it('adds with max + 1, never reusing a removed id, and lists by priority then id', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1), credential(2)] });
    const { id: _ignored, ...fields } = credential(0);
    const third = await store.add({ ...fields, priority: 0 });
    expect(third.credential.id).toBe(3);
    await store.remove(3);
    const fourth = await store.add({ ...fields, priority: 1 });
    expect(fourth.credential.id).toBe(4);
    expect(store.list().map((r) => r.credential.id)).toEqual([1, 4, 2]);
  });

  it('removes a field when the patch sets it to undefined', async () => {
    const store = await started({ keyPrefix: uniquePrefix(), seed: [credential(1, { disabled: true, disabledReason: 'Manual' })] });
    const record = await store.update(1, { disabled: false, disabledReason: undefined });
    expect(record.credential.disabled).toBe(false);
    expect('disabledReason' in record.credential).toBe(false);
    expect(store.get(1)?.credential.disabledReason).toBeUndefined();
  });

  it('rejects updates and removals of unknown ids with NotFoundError', async () => {
    const store = await started({ keyPrefix: uniquePrefix(), seed: [credential(1)] });
    await expect(store.update(7, { priority: 1 })).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.remove(7)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('two replicas on one Redis', () => {
  it('shows an update made on A on B within one second, through pub/sub', async () => {
    const keyPrefix = uniquePrefix();
    const a = await started({ keyPrefix, seed: [credential(1)], replicaId: 'a' });
    const b = await started({ keyPrefix, seed: [credential(1)], replicaId: 'b' });
    const seenOnB: Array<number | null> = [];
    b.onChange((id) => seenOnB.push(id));

    const t0 = Date.now();
    await a.update(1, { accessToken: 'from-a', priority: 4 });
    await eventually(() => expect(b.get(1)?.credential.accessToken).toBe('from-a'), 1_000, 2);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(b.get(1)?.credential.priority).toBe(4);
    expect(seenOnB).toContain(1);
  });

  it('propagates add and remove', async () => {
    const keyPrefix = uniquePrefix();
    const a = await started({ keyPrefix, seed: [credential(1)], replicaId: 'a' });
    const b = await started({ keyPrefix, seed: [credential(1)], replicaId: 'b' });
    const { id: _ignored, ...fields } = credential(0);
    const added = await a.add(fields);
    await eventually(() => expect(b.get(added.credential.id)?.credential.refreshToken).toBe(fields.refreshToken), 1_000);
    await a.remove(1);
    await eventually(() => expect(b.get(1)).toBeUndefined(), 1_000);
    expect(b.list().map((r) => r.credential.id)).toEqual([added.credential.id]);
  });

  it('adds up stats increments from both replicas instead of overwriting them', async () => {
    const keyPrefix = uniquePrefix();
    const a = await started({ keyPrefix, seed: [credential(1)], replicaId: 'a' });
    const b = await started({ keyPrefix, seed: [credential(1)], replicaId: 'b' });

    for (let i = 0; i < 50; i++) {
      a.updateStats(1, (s) => ({ successCount: s.successCount + 1, lastUsedAt: `2030-01-01T00:00:${String(i % 60).padStart(2, '0')}Z` }));
      b.updateStats(1, (s) => ({ successCount: s.successCount + 1 }));
      b.updateStats(1, (s) => ({ failureTotal: s.failureTotal + 1 }));
      if (i % 10 === 0) await sleep(20); // interleave with flushes
    }
    await eventually(async () => {
      expect(await redis.raw.hget(`${keyPrefix}stats:1`, 'successCount')).toBe('100');
      expect(await redis.raw.hget(`${keyPrefix}stats:1`, 'failureTotal')).toBe('50');
    });
    await eventually(() => {
      expect(a.get(1)?.stats.successCount).toBe(100);
      expect(b.get(1)?.stats.successCount).toBe(100);
      expect(b.get(1)?.stats.lastUsedAt).toBe(a.get(1)?.stats.lastUsedAt);
    });
  });

  it('lets a reset to 0 win over increments flushed before it', async () => {
    const keyPrefix = uniquePrefix();
    const a = await started({ keyPrefix, seed: [credential(1)], replicaId: 'a' });
    const b = await started({ keyPrefix, seed: [credential(1)], replicaId: 'b' });
    a.updateStats(1, (s) => ({ failureCount: s.failureCount + 2 }));
    await eventually(() => expect(b.get(1)?.stats.failureCount).toBe(2));
    b.updateStats(1, (s) => ({ failureCount: s.failureCount + 1 }));
    b.updateStats(1, () => ({ failureCount: 0, cooldownUntil: 123 }));
    await eventually(() => expect(a.get(1)?.stats).toMatchObject({ failureCount: 0, cooldownUntil: 123 }));
    b.updateStats(1, () => ({ cooldownUntil: undefined }));
    await eventually(async () => expect(await redis.raw.hexists(`${keyPrefix}stats:1`, 'cooldownUntil')).toBe(0));
    await eventually(() => expect(a.get(1)?.stats.cooldownUntil).toBeUndefined());
  });

  it('lists live replicas with their heartbeat payloads', async () => {
    const keyPrefix = uniquePrefix();
    const a = await started({ keyPrefix, replicaId: 'pod-a', heartbeat: () => ({ inFlight: 3 }) });
    const b = await started({ keyPrefix, replicaId: 'pod-b', heartbeat: () => ({ inFlight: 0 }) });
    const replicas = await a.listReplicas();
    expect(replicas.map((r) => [r.id, r.info])).toEqual([
      ['pod-a', { inFlight: 3 }],
      ['pod-b', { inFlight: 0 }],
    ]);
    expect(Math.abs(replicas[0].lastSeen - Date.now())).toBeLessThan(5_000);
    expect(await redis.raw.pttl(`${keyPrefix}replica:pod-a`)).toBeGreaterThan(0);
    await b.close();
    expect((await a.listReplicas()).map((r) => r.id)).toEqual(['pod-a']);
  });
});

describe('hot path', () => {
  it('issues no Redis command for get(), list() and updateStats(), and one batched flush afterwards', async () => {
    const keyPrefix = uniquePrefix();
    const names: string[] = [];
    const store = await started({
      keyPrefix,
      seed: [credential(1), credential(2)],
      statsFlushIntervalMs: 200,
      onRedisCommand: (name) => names.push(name),
    });
    await sleep(250); // let start-up traffic settle
    const before = store.commandCount;
    names.length = 0;

    for (let i = 0; i < 10_000; i++) {
      const records = store.list();
      const picked = store.get(records[i % 2].credential.id)!;
      store.updateStats(picked.credential.id, (s) => ({ successCount: s.successCount + 1, lastUsedAt: new Date(0).toISOString() }));
    }
    expect(store.commandCount - before).toBe(0);
    expect(store.get(1)?.stats.successCount).toBe(5_000);

    await eventually(async () => expect(await redis.raw.hget(`${keyPrefix}stats:2`, 'successCount')).toBe('5000'), 2_000);
    expect(names).toEqual(['evalsha:flush_stats']);
    expect(store.commandCount - before).toBe(1);
  });
});
