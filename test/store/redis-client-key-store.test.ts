/**
 * Client keys in Redis, two stores standing in for two replicas on a real redis-server: a change on
 * one is served by the other within a second (pub/sub), lookups need no Redis, changes do (503 while
 * it is down), and a Redis that restarts empty gets the keys back from a replica's local copy —
 * without bringing back a key deleted before, and without refilling a hash emptied on purpose.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientKeyRedis } from '../../src/store/redis/client-key-redis.js';
import { RedisClientKeyStore } from '../../src/store/redis/client-key-store.js';
import { generateKeyId, generateKeySecret, keyHashOf, keyHint } from '../../src/keys/secret.js';
import type { ClientKeyRecord } from '../../src/keys/types.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
const opened: ClientKeyRedis[] = [];

async function store(replicaId: string, prefix: string): Promise<RedisClientKeyStore> {
  const r = new ClientKeyRedis({ url: redis.url, keyPrefix: prefix, replicaId, redisOptions: { retryStrategy: () => 100 } });
  opened.push(r);
  const s = new RedisClientKeyStore(r, 200);
  await r.connect(5_000);
  await s.init();
  return s;
}

function record(name: string): { record: ClientKeyRecord; secret: string } {
  const secret = generateKeySecret();
  const now = new Date().toISOString();
  return {
    secret,
    record: { id: generateKeyId(), name, owner: '', enabled: true, models: [], credentials: [], limits: {}, keyHash: keyHashOf(secret), hint: keyHint(secret), createdAt: now, updatedAt: now },
  };
}

beforeAll(async () => {
  redis = await startRedis(); // no persistence: a restart loses everything
});

afterAll(async () => {
  await Promise.all(opened.map((r) => r.close()));
  await redis?.stop();
});

describe('client keys shared through Redis', () => {
  it('serves a change made on one replica from the other within a second', async () => {
    const [a, b] = await Promise.all([store('a', 'share:'), store('b', 'share:')]);
    const k = record('shared');
    await a.add(k.record);
    await expect.poll(() => b.byHash(keyHashOf(k.secret))?.id, { timeout: 1_000, interval: 20 }).toBe(k.record.id);
    await b.update(k.record.id, { enabled: false });
    await expect.poll(() => a.get(k.record.id)?.enabled, { timeout: 1_000, interval: 20 }).toBe(false);
    await a.remove(k.record.id);
    await expect.poll(() => b.list().length, { timeout: 1_000, interval: 20 }).toBe(0);
  });

  it('puts the keys back when Redis restarts empty, from the first replica to notice, and never a deleted one', async () => {
    const [a, b] = await Promise.all([store('a', 'loss:'), store('b', 'loss:')]);
    const kept = record('kept');
    const deleted = record('deleted');
    await a.add(kept.record);
    await a.add(deleted.record);
    await expect.poll(() => b.list().length, { timeout: 1_000 }).toBe(2);
    await a.remove(deleted.record.id);
    await expect.poll(() => b.list().length, { timeout: 1_000 }).toBe(1);

    await redis.restart();
    // Lookups never needed Redis; both replicas re-read after reconnecting, the first one re-seeds.
    expect(a.byHash(keyHashOf(kept.secret))?.id).toBe(kept.record.id);
    const admin = new Redis(redis.url);
    try {
      await expect.poll(async () => Object.keys(await admin.hgetall('loss:clientkeys')), { timeout: 10_000 }).toEqual([kept.record.id]);
    } finally {
      admin.disconnect();
    }
    expect(b.list().map((r) => r.id)).toEqual([kept.record.id]);
    // Emptied on purpose is not data loss: the hash stays empty.
    await b.remove(kept.record.id);
    await new Promise((r) => setTimeout(r, 600)); // three resyncs
    expect(a.list()).toEqual([]);
  });

  it('refuses changes while Redis is down (503), and keeps serving lookups', async () => {
    const a = await store('a', 'down:');
    const k = record('before');
    await a.add(k.record);
    redis.kill9();
    await new Promise((r) => setTimeout(r, 200));
    expect(a.byHash(keyHashOf(k.secret))?.id).toBe(k.record.id);
    await expect(a.add(record('during').record)).rejects.toMatchObject({ status: 503 });
    await expect(a.update(k.record.id, { name: 'x' })).rejects.toMatchObject({ status: 503 });
    await redis.restart();
  });
});
