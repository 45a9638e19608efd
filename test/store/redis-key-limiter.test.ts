/**
 * The shared client-key limiter on a real redis-server, several limiter instances standing in for
 * replicas (each with its own connections, as gateway processes have): one check admits exactly the
 * limit over all of them, what a replica learned after an answer reaches its own next check at once
 * and the others' with the next flush, day counters and concurrency slots (released, or expiring when
 * their holder stops renewing them), and the per-replica fallback while Redis is down, with the
 * usage of that time written once it is back.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClientKeyRedis } from '../../src/store/redis/client-key-redis.js';
import { RedisKeyLimiter } from '../../src/store/redis/key-limiter.js';
import { RedisUsageStore } from '../../src/store/redis/usage-store.js';
import { ClientKeyFlusher } from '../../src/store/redis/client-key-flush.js';
import type { ClientKeyRecord, KeyLimits } from '../../src/keys/types.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
let admin: Redis;
let prefix = '';
let counter = 0;

interface Replica {
  redis: ClientKeyRedis;
  limiter: RedisKeyLimiter;
  usage: RedisUsageStore;
  flusher: ClientKeyFlusher;
}
const replicas: Replica[] = [];

async function replica(name: string, leaseMs?: number): Promise<Replica> {
  const r = new ClientKeyRedis({ url: redis.url, keyPrefix: prefix, replicaId: name, redisOptions: { retryStrategy: () => 100 } });
  const limiter = new RedisKeyLimiter(r, undefined, leaseMs);
  const usage = new RedisUsageStore(r);
  const flusher = new ClientKeyFlusher(r, limiter, usage, { hourlyRetentionHours: 24, dailyRetentionDays: 7, intervalMs: 60_000 });
  await r.connect(5_000);
  const made = { redis: r, limiter, usage, flusher };
  replicas.push(made);
  return made;
}

function key(limits: KeyLimits): ClientKeyRecord {
  const now = new Date().toISOString();
  return {
    id: `key_${(++counter).toString(16).padStart(16, '0')}`,
    name: 'test',
    owner: '',
    enabled: true,
    models: [],
    credentials: [],
    limits,
    keyHash: '0'.repeat(64),
    hint: '',
    createdAt: now,
    updatedAt: now,
  };
}

beforeAll(async () => {
  redis = await startRedis({ appendonly: true });
  admin = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  admin.on('error', () => {});
});

afterEach(async () => {
  await Promise.all(replicas.splice(0).map(async (r) => {
    await r.flusher.stop().catch(() => {});
    await r.redis.close();
  }));
  prefix = `t${Date.now()}-${counter}:`;
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

describe('shared limits over several replicas', () => {
  it('admits exactly requestsPerMinute of 60 concurrent requests spread over 3 replicas', async () => {
    prefix = 'exact:';
    const [a, b, c] = await Promise.all([replica('a'), replica('b'), replica('c')]);
    const k = key({ requestsPerMinute: 20 });
    const decisions = await Promise.all(Array.from({ length: 60 }, (_, i) => [a, b, c][i % 3]!.limiter.reserve(k)));
    const admitted = decisions.filter((d) => d.allowed);
    // A burst takes the full bucket; the refill during the burst (20 per minute) adds at most one.
    expect(admitted.length).toBeGreaterThanOrEqual(20);
    expect(admitted.length).toBeLessThanOrEqual(21);
    expect(decisions.every((d) => d.scope === 'shared')).toBe(true);
    const refused = decisions.find((d) => !d.allowed)!;
    expect(refused.refused).toEqual(['requestsPerMinute']);
    expect(refused.snapshot.requests!.level).toBeLessThan(1);
  });

  it('sees what this replica used at once, and what another used after its flush', async () => {
    prefix = 'tokens:';
    const [a, b] = await Promise.all([replica('a'), replica('b')]);
    const k = key({ tokensPerMinute: 6_000, tokensPerDay: 100_000, creditsPerDay: 10 });
    const first = await a.limiter.reserve(k);
    expect(first.allowed).toBe(true);
    a.limiter.settle(k, first, { tokens: 5_000, credits: 1.5 });
    // Carried by A's own next check, before any flush.
    const second = await a.limiter.reserve(k);
    expect(second.snapshot.tokensMinute!.level).toBeLessThan(1_100);
    expect(second.snapshot.tokensDay!.used).toBe(5_000);
    expect(second.snapshot.creditsDay!.used).toBe(1.5);
    b.limiter.settle(k, second, { tokens: 2_000, credits: 0.5 });
    expect((await a.limiter.reserve(k)).snapshot.tokensDay!.used).toBe(5_000);
    await b.flusher.flush();
    const third = await a.limiter.reserve(k);
    expect(third.snapshot.tokensDay!.used).toBe(7_000);
    expect(third.snapshot.creditsDay!.used).toBe(2);
    // 7,000 tokens against 6,000 per minute: in debt, refused until refilled.
    expect(third.allowed).toBe(false);
    expect(third.refused).toEqual(['tokensPerMinute']);
  });

  it('holds concurrent streams over replicas; a released slot is free at once here and after the flush elsewhere', async () => {
    prefix = 'slots:';
    const [a, b] = await Promise.all([replica('a'), replica('b')]);
    const k = key({ concurrentStreams: 2 });
    const one = await a.limiter.reserve(k);
    const two = await b.limiter.reserve(k);
    expect([one.allowed, two.allowed]).toEqual([true, true]);
    expect((await a.limiter.reserve(k)).refused).toEqual(['concurrentStreams']);
    a.limiter.settle(k, one, { tokens: 0, credits: 0 });
    // B does not know yet: A has not flushed.
    expect((await b.limiter.reserve(k)).allowed).toBe(false);
    const three = await a.limiter.reserve(k);
    expect(three.allowed).toBe(true);
    expect(three.snapshot.concurrent).toEqual({ limit: 2, inUse: 2 });
    expect(await admin.zcard(`${prefix}cslots:${k.id}`)).toBe(2);
  });

  it('frees the slots of a replica that stops renewing them when their lease runs out', async () => {
    prefix = 'lease:';
    const [a, b] = await Promise.all([replica('a', 1_000), replica('b', 1_000)]);
    const k = key({ concurrentStreams: 1 });
    expect((await a.limiter.reserve(k)).allowed).toBe(true);
    expect((await b.limiter.reserve(k)).allowed).toBe(false);
    // A "dies": it never renews. Its slot expires after the lease.
    await new Promise((r) => setTimeout(r, 1_300));
    expect((await b.limiter.reserve(k)).allowed).toBe(true);
    // B renews its own: it keeps the slot past the lease.
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 400));
      await b.flusher.flush();
    }
    expect((await a.limiter.reserve(k)).allowed).toBe(false);
  });
});

describe('Redis down: each replica enforces its share, and the usage of that time is written later', () => {
  it('divides the limits among the live replicas, keeps answering, and reconciles after the restart', async () => {
    prefix = 'outage:';
    const [a, b, c] = await Promise.all([replica('a'), replica('b'), replica('c')]);
    // Three live replicas, as their heartbeats would say.
    const now = Date.now();
    await admin.zadd(`${prefix}replicas`, now, 'a', now, 'b', now, 'c');
    await Promise.all([a, b, c].map((r) => r.flusher.flush()));
    expect(a.limiter.replicas).toBe(3);
    const k = key({ requestsPerMinute: 6, concurrentStreams: 3 });
    const held = await a.limiter.reserve(k);
    expect(held.allowed).toBe(true);
    a.usage.record({ at: Date.now(), subject: 'key', id: k.id, counts: { requests: 1 } });
    await a.flusher.flush();

    redis.kill9();
    await new Promise((r) => setTimeout(r, 300));
    // Each replica: 6 / 3 = 2 requests per minute, 3 / 3 = 1 stream (A's running stream counts).
    const outcomes = await Promise.all([a, b, c].map(async (r) => {
      const out: boolean[] = [];
      for (let i = 0; i < 4; i++) {
        const d = await r.limiter.reserve(k);
        out.push(d.allowed);
        if (d.allowed) {
          expect(d.scope).toBe('local');
          r.limiter.settle(k, d, { tokens: 10, credits: 0 });
          r.usage.record({ at: Date.now(), subject: 'key', id: k.id, counts: { requests: 1, inputTokens: 10 } });
        }
      }
      return out;
    }));
    expect(a.limiter.mode).toBe('local');
    // A holds its shared-era slot: its one local stream slot is taken, so it admits nothing more.
    expect(outcomes[0]!.filter(Boolean).length).toBe(0);
    expect(outcomes[1]!.filter(Boolean).length).toBe(2);
    expect(outcomes[2]!.filter(Boolean).length).toBe(2);

    await redis.restart();
    for (const r of [a, b, c]) {
      await expect.poll(async () => {
        await r.flusher.flush();
        return r.limiter.mode;
      }, { timeout: 10_000 }).toBe('shared');
    }
    // Every request counted exactly once: 1 before the outage, 4 during it.
    const day = await admin.hgetall(`${prefix}usage:d:${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`);
    expect(Number(day[`k:${k.id}:rq`])).toBe(5);
    expect(Number(day[`k:${k.id}:in`])).toBe(40);
    // A's slot, taken before the outage, is registered again (the AOF kept it, the renewal re-adds it anyway).
    expect(await admin.zscore(`${prefix}cslots:${k.id}`, held.slot!)).not.toBeNull();
  }, 60_000);
});

describe('Redis Cluster', () => {
  it('keeps every key of a check, a flush and a usage read in one hash slot (no CROSSSLOT)', async () => {
    const node = await startRedis({ cluster: true });
    try {
      const r = new ClientKeyRedis({ clusterNodes: `127.0.0.1:${node.port}`, keyPrefix: 'kc:', replicaId: 'a' });
      const limiter = new RedisKeyLimiter(r);
      const usage = new RedisUsageStore(r);
      const flusher = new ClientKeyFlusher(r, limiter, usage, { hourlyRetentionHours: 24, dailyRetentionDays: 7, intervalMs: 60_000 });
      await r.connect(10_000);
      try {
        const k = key({ requestsPerMinute: 5, tokensPerMinute: 1_000, concurrentStreams: 1 });
        const d = await limiter.reserve(k);
        expect(d).toMatchObject({ allowed: true, scope: 'shared' });
        limiter.settle(k, d, { tokens: 10, credits: 0.5 });
        usage.record({ at: Date.now(), subject: 'key', id: k.id, counts: { requests: 1, credits: 0.5 } });
        await flusher.flush();
        expect(r.online).toBe(true);
        const rows = await usage.query({ granularity: 'day', from: Date.now(), to: Date.now() });
        expect(rows).toEqual([expect.objectContaining({ subject: 'key', id: k.id, counts: expect.objectContaining({ requests: 1, credits: 0.5 }) })]);
        expect((await limiter.reserve(k)).snapshot.tokensDay).toBeUndefined();
      } finally {
        await flusher.stop();
        await r.close();
      }
    } finally {
      await node.stop();
    }
  });
});
