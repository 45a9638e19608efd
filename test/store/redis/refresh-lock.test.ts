import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LockLostError, LockTimeoutError } from '../../../src/store/redis/refresh-lock.js';
import type { RedisCredentialStore } from '../../../src/store/redis/redis-store.js';
import { NotFoundError } from '../../../src/errors.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { credential, eventually, rawClient, redisWithStores, sleep, uniquePrefix } from './fixtures.js';

const redis = redisWithStores();
const { started } = redis;

describe('withRefreshLock', () => {
  it('runs refreshes of one credential one at a time across replicas, and later holders see the new token', async () => {
    const keyPrefix = uniquePrefix();
    const a = await started({ keyPrefix, seed: [credential(1)], replicaId: 'a' });
    const b = await started({ keyPrefix, seed: [credential(1)], replicaId: 'b' });
    let active = 0;
    let maxActive = 0;

    const refreshOnce = (store: RedisCredentialStore) =>
      store.withRefreshLock(1, async (fresh) => {
        active++;
        maxActive = Math.max(maxActive, active);
        try {
          if (fresh.credential.accessToken === 'refreshed') return 'reused';
          await sleep(150); // the upstream call
          await store.update(1, { refreshToken: 'rotated', accessToken: 'refreshed', expiresAt: '2031-01-01T00:00:00.000Z' });
          return 'refreshed';
        } finally {
          active--;
        }
      });

    const results = await Promise.all([a, b, a, b, a, b].map(refreshOnce));
    expect(maxActive).toBe(1);
    expect(results.filter((r) => r === 'refreshed')).toHaveLength(1);
    expect(results.filter((r) => r === 'reused')).toHaveLength(5);
    await eventually(async () => expect(await redis.raw.exists(`${keyPrefix}lock:refresh:1`)).toBe(0)); // released in the background
  });

  it('hands fn the credential as Redis has it, not the possibly stale local copy', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1)] });
    // Another pod wrote without a notification reaching us (e.g. the message was lost).
    await redis.raw.hset(`${keyPrefix}cred:1`, 'accessToken', 'written-elsewhere');
    expect(store.get(1)?.credential.accessToken).toBe('access-1');

    const seen = await store.withRefreshLock(1, async (fresh) => fresh.credential.accessToken);
    expect(seen).toBe('written-elsewhere');
    expect(store.get(1)?.credential.accessToken).toBe('written-elsewhere');
  });

  it('takes over a lock whose holder died without releasing it once the TTL has passed', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1)], lockTtlMs: 800 });
    await redis.raw.set(`${keyPrefix}lock:refresh:1`, 'dead-holder', 'PX', 800, 'NX');

    const t0 = Date.now();
    await store.withRefreshLock(1, async () => undefined);
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(600);
    expect(waited).toBeLessThan(1_600);
  });

  it('fails with LockTimeoutError when the lock stays taken longer than the wait budget', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1)], lockTtlMs: 500, lockWaitMs: 700 });
    await redis.raw.set(`${keyPrefix}lock:refresh:1`, 'busy', 'PX', 10_000);
    let ran = false;
    const t0 = Date.now();
    await expect(store.withRefreshLock(1, async () => (ran = true))).rejects.toBeInstanceOf(LockTimeoutError);
    // retryCount × retryDelay = the budget; the pauses are jittered, so their sum is about it.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700 * 0.75);
    expect(ran).toBe(false);
    expect(await redis.raw.get(`${keyPrefix}lock:refresh:1`)).toBe('busy'); // not ours to touch
  });

  it('hands a lock won after waiting longer than its TTL over unaborted (validity counts from the winning attempt)', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1)], lockTtlMs: 300, lockWaitMs: 5_000 });
    await redis.raw.set(`${keyPrefix}lock:refresh:1`, 'slow-holder', 'PX', 900);
    const aborted = await store.withRefreshLock(1, async (_fresh, signal) => {
      await sleep(50);
      return signal.aborted;
    });
    expect(aborted).toBe(false);
  });

  it('keeps the lock past its TTL while fn runs, so a waiter enters only afterwards', async () => {
    const keyPrefix = uniquePrefix();
    const a = await started({ keyPrefix, seed: [credential(1)], lockTtlMs: 300, lockWaitMs: 5_000 });
    const b = await started({ keyPrefix, seed: [credential(1)], lockTtlMs: 300, lockWaitMs: 5_000 });
    const events: string[] = [];
    let aborted = false;

    const slow = a.withRefreshLock(1, async (_fresh, signal) => {
      events.push('a:start');
      await sleep(1_000); // more than 3 TTLs
      aborted = signal.aborted;
      events.push('a:end');
    });
    await sleep(50);
    const waiter = b.withRefreshLock(1, async () => void events.push('b:run'));
    await Promise.all([slow, waiter]);
    expect(events).toEqual(['a:start', 'a:end', 'b:run']);
    expect(aborted).toBe(false);
  });

  it('aborts the signal when the lock is taken away from the holder', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1)], lockTtlMs: 300 });
    const reason = await store.withRefreshLock(1, async (_fresh, signal) => {
      await redis.raw.set(`${keyPrefix}lock:refresh:1`, 'usurper', 'PX', 5_000);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return signal.reason;
    });
    expect(reason).toBeInstanceOf(LockLostError);
    expect(await redis.raw.get(`${keyPrefix}lock:refresh:1`)).toBe('usurper'); // release left it alone
  });

  it('rejects an unknown credential with NotFoundError and releases the lock', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1)] });
    await expect(store.withRefreshLock(9, async () => 'never')).rejects.toBeInstanceOf(NotFoundError);
    await eventually(async () => expect(await redis.raw.exists(`${keyPrefix}lock:refresh:9`)).toBe(0));
  });
});

describe('withRefreshLock on redis.lockNodes (Redlock over independent masters)', () => {
  const nodes: RedisServer[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });

  async function lockNodes(n: number): Promise<RedisServer[]> {
    const started = await Promise.all(Array.from({ length: n }, () => startRedis()));
    nodes.push(...started);
    return started;
  }

  it('takes the lock on a majority of 3 nodes and keeps excluding other replicas after one node is killed', async () => {
    const keyPrefix = uniquePrefix();
    const three = await lockNodes(3);
    const urls = three.map((n) => n.url);
    const a = await started({ keyPrefix, seed: [credential(1)], replicaId: 'a', lockNodes: urls, lockTtlMs: 600, lockWaitMs: 10_000 });
    const b = await started({ keyPrefix, seed: [credential(1)], replicaId: 'b', lockNodes: urls, lockTtlMs: 600, lockWaitMs: 10_000 });
    const lockKey = `${keyPrefix}lock:refresh:1`;
    const events: string[] = [];
    let holderAborted = false;

    const holder = a.withRefreshLock(1, async (fresh, signal, exclusive) => {
      events.push(`a:start:${exclusive}`);
      const clients = three.map((n) => rawClient(n.url));
      try {
        // On every node, and not in the store's own Redis.
        expect(await Promise.all(clients.map((c) => c.exists(lockKey)))).toEqual([1, 1, 1]);
        expect(await redis.raw.exists(lockKey)).toBe(0);
      } finally {
        clients.forEach((c) => c.disconnect());
      }
      three[0]!.kill9();
      await sleep(1_500); // 2.5 TTLs: only extensions on the 2 surviving nodes keep it
      holderAborted = signal.aborted;
      await a.update(1, { accessToken: 'refreshed', expiresAt: '2031-01-01T00:00:00.000Z' }, fresh.credential);
      events.push('a:end');
    });
    await sleep(100);
    const waiter = b.withRefreshLock(1, async (fresh, _signal, exclusive) => {
      events.push(`b:run:${exclusive}:${fresh.credential.accessToken}`);
    });
    await Promise.all([holder, waiter]);
    expect(holderAborted).toBe(false);
    expect(events).toEqual(['a:start:true', 'a:end', 'b:run:true:refreshed']);
    expect(a.health().degraded).toBe(false);
  });

  it('releases what a failed attempt locked before retrying, so a minority it won never blocks its own next attempt', async () => {
    const keyPrefix = uniquePrefix();
    const three = await lockNodes(3);
    const store = await started({ keyPrefix, seed: [credential(1)], lockNodes: three.map((n) => n.url), lockTtlMs: 5_000, lockWaitMs: 10_000 });
    three[0]!.kill9();
    // A fragment another waiter left on the third node: each attempt wins only the second node.
    const third = rawClient(three[2]!.url);
    await third.set(`${keyPrefix}lock:refresh:1`, 'fragment', 'PX', 500);
    third.disconnect();
    await sleep(200); // the client notices the dead node
    const t0 = Date.now();
    const exclusive = await store.withRefreshLock(1, async (_fresh, _signal, ex) => ex);
    expect(exclusive).toBe(true);
    // Had the second node stayed locked by our own failed attempts, this would take a whole TTL (5 s).
    expect(Date.now() - t0).toBeLessThan(2_500);
  });

  it("returns the holder's result at once although an extension that lost its majority is still retrying", async () => {
    const keyPrefix = uniquePrefix();
    const three = await lockNodes(3);
    const lockKey = `${keyPrefix}lock:refresh:1`;
    // A fragment on the third node, so the lock is taken on exactly the first two.
    const third = rawClient(three[2]!.url);
    await third.set(lockKey, 'fragment', 'PX', 30_000);
    third.disconnect();
    const store = await started({ keyPrefix, seed: [credential(1)], lockNodes: three.map((n) => n.url), lockTtlMs: 4_000 });
    let returnedAt = 0;
    const result = await store.withRefreshLock(1, async (_fresh, signal) => {
      three[0]!.kill9(); // one of the two: from now on no extension reaches a majority
      await sleep(2_000); // past the first extension (at ttl/3), well before the lock expires
      returnedAt = Date.now();
      return signal.aborted ? 'aborted' : 'done';
    });
    expect(result).toBe('done');
    // Redlock's using() alone would settle only when its extension retries give up, at the lock's expiry (~2 s later).
    expect(Date.now() - returnedAt).toBeLessThan(1_000);
  });

  it('without a majority refreshes under the local lock only (not exclusive), and the store stays healthy', async () => {
    const keyPrefix = uniquePrefix();
    const three = await lockNodes(3);
    const store = await started({ keyPrefix, seed: [credential(1)], lockNodes: three.map((n) => n.url) });
    three[0]!.kill9();
    three[1]!.kill9();
    await sleep(200); // the clients notice the closed connections
    const exclusive = await store.withRefreshLock(1, async (_fresh, _signal, ex) => ex);
    expect(exclusive).toBe(false);
    expect(store.health()).toEqual({ ok: true, degraded: false });

    await Promise.all([three[0]!.restart(), three[1]!.restart()]);
    await eventually(async () => expect(await store.withRefreshLock(1, async (_f, _s, ex) => ex)).toBe(true), 5_000, 100);
  });

  it("counts the lock's commands per node under the script's name in the store's command accounting", async () => {
    const keyPrefix = uniquePrefix();
    const three = await lockNodes(3);
    const names: string[] = [];
    const store = await started({
      keyPrefix,
      seed: [credential(1)],
      lockNodes: three.map((n) => n.url),
      lockTtlMs: 300,
      onRedisCommand: (name) => names.push(name),
    });
    await store.withRefreshLock(1, () => sleep(250)); // past ttl/3: one extension at least
    const count = (name: string) => names.filter((n) => n === name).length;
    // Redlock goes on once a majority answered; the third answer may arrive a moment later.
    await eventually(() => {
      expect(count('evalsha:lock_acquire')).toBe(3);
      expect(count('evalsha:lock_extend')).toBeGreaterThanOrEqual(3);
      expect(count('evalsha:lock_release')).toBe(3);
    });
    expect(count('evalsha:lock')).toBe(0); // every call named; no EVAL fallback (scripts loaded on connect)
    expect(names.filter((n) => n.startsWith('eval:'))).toEqual([]);
  });
});

describe('withRefreshLock across processes', () => {
  let bundleDir: string;
  let childScript: string;

  beforeAll(async () => {
    // The child runs the real store; bundling with esbuild avoids needing a TypeScript loader.
    bundleDir = mkdtempSync(join(tmpdir(), 'kiro-lock-child-'));
    childScript = join(bundleDir, 'child.cjs');
    await build({
      stdin: {
        contents: `
          import { RedisCredentialStore } from '../../../src/store/redis/redis-store.js';
          const [url, keyPrefix] = process.argv.slice(2);
          const store = new RedisCredentialStore({
            url, keyPrefix, resyncIntervalMs: 60000, lockTtlMs: 1000, seed: [], replicaId: 'child',
          });
          void (async () => {
            await store.init();
            await store.withRefreshLock(1, async () => {
              process.stdout.write('locked\\n');
              await new Promise(() => {}); // "refreshing" forever, lock extended by the store
            });
          })();
        `,
        resolveDir: dirname(fileURLToPath(import.meta.url)),
        loader: 'ts',
        sourcefile: 'lock-holder.ts',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: childScript,
      logLevel: 'silent',
    });
  });
  afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

  it('lets another replica refresh within the lock TTL after the holder is killed with SIGKILL', async () => {
    const keyPrefix = uniquePrefix();
    const store = await started({ keyPrefix, seed: [credential(1)], lockTtlMs: 1_000, lockWaitMs: 10_000 });
    const child = spawn(process.execPath, [childScript, redis.url, keyPrefix], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
        child.once('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
      });
      await sleep(1_500); // longer than the TTL: only extension keeps it alive
      expect(await redis.raw.get(`${keyPrefix}lock:refresh:1`)).not.toBeNull();

      child.kill('SIGKILL');
      const t0 = Date.now();
      await store.withRefreshLock(1, async () => undefined);
      expect(Date.now() - t0).toBeLessThan(1_500);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
