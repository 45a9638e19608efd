import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError, type RedisCredentialStore } from '../../../src/store/redis/redis-store.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import type { Credential } from '../../../src/credentials/types.js';
import { credential, eventually, makeStore, rawClient, uniquePrefix } from './fixtures.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function server(options?: Parameters<typeof startRedis>[0]): Promise<RedisServer> {
  const r = await startRedis(options);
  cleanups.push(() => r.stop());
  return r;
}

async function started(url: string, options: Parameters<typeof makeStore>[1]): Promise<RedisCredentialStore> {
  const store = makeStore(url, options);
  await store.init();
  cleanups.push(() => store.close());
  return store;
}

/** A TCP proxy in front of Redis that can cut one replica off while the others still reach Redis. */
async function partitionableProxy(targetPort: number): Promise<{ url: string; cut(): void; heal(): void }> {
  const sockets = new Set<Socket>();
  let isCut = false;
  const proxy: Server = createServer((client) => {
    if (isCut) return client.destroy();
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as { port: number };
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        proxy.close(() => resolve());
      }),
  );
  return {
    url: `redis://127.0.0.1:${port}`,
    cut() {
      isCut = true;
      for (const s of sockets) s.destroy();
    },
    heal() {
      isCut = false;
    },
  };
}

/**
 * Two replicas seeded alike, A through a proxy and B straight to Redis; A is cut off (and has noticed)
 * when this resolves. `heal()` lets it back.
 */
async function oneCutOff(seed: Credential[]): Promise<{ a: RedisCredentialStore; b: RedisCredentialStore; heal(): void }> {
  const redis = await server();
  const keyPrefix = uniquePrefix();
  const proxy = await partitionableProxy(redis.port);
  const a = await started(proxy.url, { keyPrefix, seed, replicaId: 'a' });
  const b = await started(redis.url, { keyPrefix, seed, replicaId: 'b' });
  proxy.cut();
  await eventually(() => expect(a.health().degraded).toBe(true));
  return { a, b, heal: () => proxy.heal() };
}

const REFRESHED = { refreshToken: 'rotated-while-down', accessToken: 'access-while-down', expiresAt: '2032-01-01T00:00:00.000Z' };

describe('Redis outages', () => {
  it('fails init with a clear error when Redis cannot be reached', async () => {
    const store = makeStore('redis://127.0.0.1:1', { keyPrefix: uniquePrefix(), connectTimeoutMs: 300 });
    await expect(store.init()).rejects.toThrow(/Redis credential store could not start: Redis not reachable within 300 ms/);
    expect(store.health()).toMatchObject({ ok: false });
  });

  it('serves the local copy while Redis is down and re-seeds it from that copy when Redis comes back empty', async () => {
    const redis = await server();
    const keyPrefix = uniquePrefix();
    const seed = [credential(1), credential(2)];
    const logged: string[] = [];
    const log = (_level: string, msg: string) => void logged.push(msg);
    const a = await started(redis.url, { keyPrefix, seed, replicaId: 'a', log });
    const b = await started(redis.url, { keyPrefix, seed, replicaId: 'b', log });
    await a.update(1, { refreshToken: 'rotated-before', accessToken: 'x', expiresAt: '2031-01-01T00:00:00.000Z' });
    a.updateStats(1, (s) => ({ successCount: s.successCount + 5 }));
    await eventually(() => expect(b.get(1)?.stats.successCount).toBe(5));

    redis.kill9();
    await eventually(() => expect(a.health()).toMatchObject({ ok: true, degraded: true }));
    expect(a.health().detail).toMatch(/Redis unreachable since/);
    expect(a.list().map((r) => r.credential.id)).toEqual([1, 2]);
    expect(a.get(1)?.credential.refreshToken).toBe('rotated-before');

    // A token refresh while Redis is down: kept locally, written later.
    const refreshed = await a.withRefreshLock(1, async (fresh) => {
      expect(fresh.credential.refreshToken).toBe('rotated-before');
      return a.update(1, REFRESHED);
    });
    expect(refreshed.credential).toMatchObject(REFRESHED);
    expect(a.get(1)?.credential).toMatchObject(REFRESHED);
    for (let i = 0; i < 1_000; i++) a.updateStats(1 + (i % 2), (s) => ({ successCount: s.successCount + 1 }));
    b.updateStats(2, (s) => ({ failureTotal: s.failureTotal + 3 }));
    expect(a.get(1)?.stats.successCount).toBe(505);
    expect(a.health().detail).toMatch(/1 credential update\(s\) and 2 stats change\(s\) waiting/);
    const { id: _ignored, ...fields } = credential(0);
    await expect(a.add(fields)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(a.remove(2)).rejects.toBeInstanceOf(StoreUnavailableError);

    await redis.restart(); // no persistence: Redis is empty
    await eventually(() => expect(a.health()).toEqual({ ok: true, degraded: false }), 10_000);
    await eventually(() => expect(b.health()).toEqual({ ok: true, degraded: false }), 10_000);

    const raw = rawClient(redis.url);
    cleanups.push(() => raw.disconnect());
    await eventually(async () => {
      expect(await raw.hget(`${keyPrefix}cred:1`, 'refreshToken')).toBe(REFRESHED.refreshToken);
      expect(await raw.hget(`${keyPrefix}stats:1`, 'successCount')).toBe('505');
      expect(await raw.hget(`${keyPrefix}stats:2`, 'successCount')).toBe('500');
      expect(await raw.hget(`${keyPrefix}stats:2`, 'failureTotal')).toBe('3');
    }, 5_000);
    await eventually(() => {
      expect(b.get(1)?.credential).toMatchObject(REFRESHED);
      expect(b.get(2)?.stats).toMatchObject({ successCount: 500, failureTotal: 3 });
      expect(a.get(2)?.stats).toMatchObject({ successCount: 500, failureTotal: 3 });
    }, 5_000);
    expect(await raw.exists(`${keyPrefix}meta`)).toBe(1);
    expect(await raw.zrange(`${keyPrefix}ids`, 0, -1)).toEqual(['1', '2']);
    expect(logged).toContain('Redis had lost its data: re-seeded from the local copy');
  });

  it('writes a token refreshed while down into a Redis that kept its data (append-only file)', async () => {
    const redis = await server({ appendonly: true });
    const keyPrefix = uniquePrefix();
    const a = await started(redis.url, { keyPrefix, seed: [credential(1)], replicaId: 'a' });
    await a.update(1, { priority: 3 });

    redis.kill9();
    await eventually(() => expect(a.health().degraded).toBe(true));
    await a.update(1, REFRESHED);
    a.updateStats(1, (s) => ({ successCount: s.successCount + 2 }));

    await redis.restart();
    const raw = rawClient(redis.url);
    cleanups.push(() => raw.disconnect());
    await eventually(async () => {
      expect(await raw.hgetall(`${keyPrefix}cred:1`)).toMatchObject({ ...REFRESHED, priority: '3', _rev: '3' });
      expect(await raw.hget(`${keyPrefix}stats:1`, 'successCount')).toBe('2');
    }, 10_000);
    expect(a.health()).toEqual({ ok: true, degraded: false });
    expect(a.get(1)?.credential).toMatchObject({ ...REFRESHED, priority: 3 });
  });

  it('does not overwrite what another replica wrote while this one was cut off, except with a newer token', async () => {
    const { a, b, heal } = await oneCutOff([credential(1), credential(2)]);
    // Credential 1: B refreshed later than A did (its token expires later) and changed the priority.
    await a.update(1, { refreshToken: 'a-token', accessToken: 'a', expiresAt: '2031-06-01T00:00:00.000Z', priority: 7 });
    await b.update(1, { refreshToken: 'b-token', accessToken: 'b', expiresAt: '2031-07-01T00:00:00.000Z' });
    await b.update(1, { priority: 8 });
    // Credential 2: B only changed the priority; A's offline refresh is the newest token.
    await b.update(2, { priority: 9 });
    await a.update(2, { refreshToken: 'a-token-2', accessToken: 'a2', expiresAt: '2035-01-01T00:00:00.000Z', disabled: true });
    expect(a.get(1)?.credential.refreshToken).toBe('a-token');

    heal();
    await eventually(() => expect(a.health()).toEqual({ ok: true, degraded: false }), 10_000);
    await eventually(() => {
      expect(a.get(1)?.credential).toMatchObject({ refreshToken: 'b-token', priority: 8 });
      expect(a.get(2)?.credential).toMatchObject({ refreshToken: 'a-token-2', priority: 9, disabled: false });
      expect(b.get(2)?.credential).toMatchObject({ refreshToken: 'a-token-2', priority: 9, disabled: false });
    }, 5_000);
  });

  it('reconciles tokens by refresh time, and lifts an InvalidRefreshToken disable that judged an older token', async () => {
    const { a, b, heal } = await oneCutOff([credential(1), credential(2)]);
    // Credential 1: cut-off A refreshed (rotating the token); B, online, then found the old refresh
    // token refused and disabled the credential. A's token is the live one.
    await a.update(1, { refreshToken: 'a-rotated', accessToken: 'a', expiresAt: '2031-06-01T00:00:00.000Z', refreshedAt: 2_000 });
    await b.update(1, { disabled: true, disabledReason: 'InvalidRefreshToken' });
    // Credential 2: B's refresh came later (refreshedAt) although A's token claims a later expiry.
    await b.update(2, { refreshToken: 'b-later', accessToken: 'b2', expiresAt: '2031-01-01T00:00:00.000Z', refreshedAt: 3_000 });
    await a.update(2, { refreshToken: 'a-earlier', accessToken: 'a2', expiresAt: '2032-01-01T00:00:00.000Z', refreshedAt: 2_500 });

    heal();
    await eventually(() => expect(a.health()).toEqual({ ok: true, degraded: false }), 10_000);
    await eventually(() => {
      for (const store of [a, b]) {
        expect(store.get(1)?.credential).toMatchObject({ refreshToken: 'a-rotated', disabled: false, refreshedAt: 2_000 });
        expect(store.get(1)?.credential.disabledReason).toBeUndefined();
        expect(store.get(2)?.credential).toMatchObject({ refreshToken: 'b-later', refreshedAt: 3_000 });
      }
    }, 5_000);
  });

  it('catches up on changes it missed while its notifications were cut off', async () => {
    const { a, b, heal } = await oneCutOff([credential(1)]);
    const { id: _ignored, ...fields } = credential(0);
    const added = await b.add(fields);
    await b.update(1, { disabled: true, disabledReason: 'Manual' });
    heal();

    await eventually(() => {
      expect(a.get(added.credential.id)).toBeDefined();
      expect(a.get(1)?.credential).toMatchObject({ disabled: true, disabledReason: 'Manual' });
    }, 10_000);
  });
});
