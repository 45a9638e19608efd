/**
 * Issue "Credential pool shared across replicas" — memory mode (one process, no Redis): token
 * refreshes made through the real HTTP path rewrite credentials.json atomically (a concurrent reader
 * only ever sees a whole, parseable file; the file is replaced, not rewritten in place; no temp files
 * are left), keep its shape (a single object stays an object, an array stays an array) and unknown
 * keys, and the rotated refresh token in the file is the live one after a kill -9 and restart.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { message, sleep, startReplica, type Replica } from '../helpers/replicas.js';
import { eventually, refreshTokenFor, writeCredentials } from '../helpers/stack.js';
import { cleanupsPerTest } from './harness.js';

const cleanups = cleanupsPerTest();

async function gateway(sim: Simulator, credentialsPath: string): Promise<Replica> {
  const r = await startReplica({ simUrl: sim.url, credentialsPath });
  cleanups.push(() => r.kill9());
  return r;
}

/** Reads the file as fast as it can until stopped (bounded to 30 s): what a crash or a reader could see. */
function watchFile(path: string): { stop(): Promise<{ reads: number; unparseable: number; shapes: Set<string>; inodes: Set<number> }> } {
  let stopped = false;
  const seen = { reads: 0, unparseable: 0, shapes: new Set<string>(), inodes: new Set<number>() };
  const deadline = Date.now() + 30_000;
  const loop = (async () => {
    while (!stopped && Date.now() < deadline) {
      const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
      seen.reads++;
      seen.inodes.add(st.ino);
      try {
        const json = JSON.parse(text) as unknown;
        seen.shapes.add(Array.isArray(json) ? 'array' : typeof json);
      } catch {
        seen.unparseable++;
      }
      await sleep(1);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return seen;
    },
  };
}

const tempFiles = (path: string) => readdirSync(dirname(path)).filter((f) => f.endsWith('.tmp'));

describe('memory mode persistence through the gateway', () => {
  it('rewrites a single-object credentials.json atomically, as an object, and the stored rotated token is live after kill -9', async () => {
    const sim = await createSimulator({ rotateRefreshTokens: true });
    cleanups.push(() => sim.close());
    const original = refreshTokenFor('mem-object');
    const path = writeCredentials({ refreshToken: original, authMethod: 'social', region: 'us-east-1', unknownKey: { kept: true } });
    const gw = await gateway(sim, path);

    const watcher = watchFile(path);
    const tokens = new Set<string>([original]);
    for (let i = 0; i < 6; i++) {
      if (i > 0) sim.expireAccessTokens(); // the gateway's cached token is rejected: forced refresh
      const res = await message(gw.url);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      // The refreshed tokens are on disk before the response (the pool awaits the store's write).
      const file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      expect(Array.isArray(file)).toBe(false);
      tokens.add(file.refreshToken as string);
    }
    const seen = await watcher.stop();

    expect(sim.stats.byAccount[original]?.refresh).toBe(6);
    expect(tokens.size).toBe(7); // the original and six rotations, each written
    expect(seen.unparseable).toBe(0);
    expect([...seen.shapes]).toEqual(['object']);
    expect(seen.inodes.size).toBeGreaterThan(1); // replaced by rename, never truncated in place
    expect(seen.reads).toBeGreaterThan(20);
    // A write that follows the last response (the credential's model list, learned in the background)
    // may still be between its temp file and the rename: it must finish, not linger.
    await eventually(() => tempFiles(path).length === 0, 3_000);
    expect(tempFiles(path)).toEqual([]);

    const file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    expect(file).toMatchObject({ id: 1, authMethod: 'social', region: 'us-east-1', unknownKey: { kept: true } });
    expect(file.machineId).toMatch(/^[0-9a-f]{64}$/);
    expect(typeof file.accessToken).toBe('string');
    expect(Date.parse(file.expiresAt as string)).toBeGreaterThan(Date.now());
    expect(file.refreshToken).not.toBe(original);

    // Every earlier refresh token is retired upstream: a restart works only with the one on disk.
    await gw.kill9();
    sim.expireAccessTokens();
    const restarted = await gateway(sim, path);
    const res = await message(restarted.url);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(sim.stats.byAccount[original]?.refresh).toBe(7);
    expect(Array.isArray(JSON.parse(readFileSync(path, 'utf8')))).toBe(false);
  });

  it('keeps an array credentials.json an array, in file order, with unknown keys', async () => {
    const sim = await createSimulator({ rotateRefreshTokens: true });
    cleanups.push(() => sim.close());
    const [t1, t2] = [refreshTokenFor('mem-array-1'), refreshTokenFor('mem-array-2')];
    const path = writeCredentials([
      { id: 7, refreshToken: t1, authMethod: 'social', priority: 1, note: 'first' },
      { id: 3, refreshToken: t2, authMethod: 'social', priority: 0, note: 'second' },
    ]);
    const gw = await gateway(sim, path);
    const res = await message(gw.url);
    expect(res.status).toBe(200);

    const file = JSON.parse(readFileSync(path, 'utf8')) as Array<Record<string, unknown>>;
    expect(Array.isArray(file)).toBe(true);
    expect(file.map((e) => [e.id, e.note])).toEqual([
      [7, 'first'],
      [3, 'second'],
    ]);
    // Priority 0 (id 3) served and was refreshed; id 7 was left as it was.
    expect(file[1]!.refreshToken).not.toBe(t2);
    expect(typeof file[1]!.accessToken).toBe('string');
    expect(file[0]!.refreshToken).toBe(t1);
    expect(file[0]!.accessToken).toBeUndefined();
    expect(tempFiles(path)).toEqual([]);
  });
});
