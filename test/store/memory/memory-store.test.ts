import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../../../src/errors.js';
import { ENV_API_KEY_CREDENTIAL_ID, loadCredentialsFile } from '../../../src/store/credentials-file.js';
import { MemoryCredentialStore } from '../../../src/store/memory/memory-store.js';
import { KeyedMutex } from '../../../src/store/keyed-mutex.js';
import { TokensReplacedError } from '../../../src/store/store.js';
import type { Credential } from '../../../src/credentials/types.js';

const REFRESH = 'aorA' + 'm'.repeat(150);
const HEX64 = 'ef'.repeat(32);

function tempFile(content?: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'kiro-mem-'));
  const path = join(dir, 'credentials.json');
  if (content !== undefined) writeFileSync(path, JSON.stringify(content, null, 2));
  return path;
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function cred(id: number, extra: Partial<Credential> = {}): Credential {
  return { id, authMethod: 'social', refreshToken: REFRESH + id, priority: 0, machineId: HEX64, disabled: false, ...extra };
}

async function storeFromFile(content: unknown): Promise<{ store: MemoryCredentialStore; path: string }> {
  const path = tempFile(content);
  const store = await MemoryCredentialStore.fromFile(path, { machineId: '', kiroApiKeyCredential: '' });
  await store.init();
  return { store, path };
}

describe('MemoryCredentialStore reads', () => {
  it('lists by priority, then id, and gets by id', () => {
    const store = new MemoryCredentialStore({
      credentials: [cred(1, { priority: 2 }), cred(2, { priority: 0 }), cred(3, { priority: 2 }), cred(4, { priority: 1 })],
      form: 'array',
      path: null,
    });
    expect(store.list().map((r) => r.credential.id)).toEqual([2, 4, 1, 3]);
    expect(store.get(3)?.credential.priority).toBe(2);
    expect(store.get(99)).toBeUndefined();
    expect(store.get(1)?.stats).toEqual({ failureCount: 0, refreshFailureCount: 0, successCount: 0, failureTotal: 0, creditsUsed: 0 });
    expect(store.health()).toEqual({ ok: true, degraded: false });
    expect(store.kind).toBe('memory');
  });

  it('applies stats changes synchronously', () => {
    const store = new MemoryCredentialStore({ credentials: [cred(1)], form: 'array', path: null });
    store.updateStats(1, (s) => ({ successCount: s.successCount + 1, lastUsedAt: '2026-01-01T00:00:00.000Z' }));
    store.updateStats(1, (s) => ({ successCount: s.successCount + 1 }));
    store.updateStats(42, () => ({ successCount: 1 })); // unknown ids are ignored
    expect(store.get(1)?.stats).toMatchObject({ successCount: 2, lastUsedAt: '2026-01-01T00:00:00.000Z' });
  });
});

describe('MemoryCredentialStore writes', () => {
  it('persists an update to credentials.json before resolving', async () => {
    const { store, path } = await storeFromFile([{ id: 1, refreshToken: REFRESH, machineId: HEX64, note: 'keep me' }]);
    await store.update(1, { accessToken: 'at-1', expiresAt: '2026-01-01T01:00:00.000Z', refreshToken: REFRESH + 'rotated' });
    expect(readJson(path)).toEqual([
      { id: 1, refreshToken: REFRESH + 'rotated', machineId: HEX64, note: 'keep me', accessToken: 'at-1', expiresAt: '2026-01-01T01:00:00.000Z', authMethod: 'social' },
    ]);
  });

  it('keeps the single-object form when persisting', async () => {
    const { store, path } = await storeFromFile({ refreshToken: REFRESH, machineId: HEX64 });
    expect(readJson(path)).toMatchObject({ id: 1 }); // the assigned id was written back by init()
    await store.update(1, { accessToken: 'at' });
    expect(readJson(path)).toMatchObject({ id: 1, accessToken: 'at' });
    expect(Array.isArray(readJson(path))).toBe(false);
  });

  it('clears fields patched with undefined, and the disabled reason when enabling', async () => {
    const { store, path } = await storeFromFile([{ id: 1, refreshToken: REFRESH, machineId: HEX64, email: 'a@b.c' }]);
    await store.update(1, { disabled: true, disabledReason: 'QuotaExceeded', disabledUntil: '2026-02-01T00:00:00.000Z' });
    expect(readJson(path)).toEqual([expect.objectContaining({ disabled: true, disabledReason: 'QuotaExceeded' })]);
    const rec = await store.update(1, { disabled: false, email: undefined });
    expect(rec.credential).not.toHaveProperty('disabledReason');
    expect(rec.credential).not.toHaveProperty('disabledUntil');
    expect(rec.credential).not.toHaveProperty('email');
    expect(readJson(path)).toEqual([{ id: 1, refreshToken: REFRESH, machineId: HEX64, authMethod: 'social' }]);
    expect((await store.update(1, { disabled: true })).credential.disabledReason).toBe('Manual');
  });

  it('fences an update on the tokens a refresh started from, and lifts an InvalidRefreshToken disable with new tokens', async () => {
    const { store, path } = await storeFromFile([{ id: 1, refreshToken: REFRESH, accessToken: 'at-0', machineId: HEX64 }]);
    const from = { refreshToken: REFRESH, accessToken: 'at-0' };
    await store.update(1, { disabled: true, disabledReason: 'InvalidRefreshToken' }, from);
    await store.update(1, { accessToken: 'at-1', refreshToken: REFRESH + 'rotated' }, from);
    expect(store.get(1)?.credential).toMatchObject({ accessToken: 'at-1', disabled: false });
    expect(store.get(1)?.credential).not.toHaveProperty('disabledReason');

    const late = await store.update(1, { accessToken: 'at-late' }, from).catch((err: unknown) => err);
    expect(late).toBeInstanceOf(TokensReplacedError);
    expect((late as TokensReplacedError).current.credential.accessToken).toBe('at-1');
    expect(readJson(path)).toEqual([expect.objectContaining({ accessToken: 'at-1', refreshToken: REFRESH + 'rotated' })]);
    expect((await store.readFresh(1))?.credential.accessToken).toBe('at-1');
  });

  it('serialises concurrent updates so the file ends with every change and no temp file', async () => {
    const { store, path } = await storeFromFile([1, 2, 3, 4, 5].map((id) => ({ id, refreshToken: REFRESH + id, machineId: HEX64 })));
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.update((i % 5) + 1, { accessToken: `at-${i}`, priority: i })),
    );
    const written = readJson(path) as Array<{ id: number; accessToken: string; priority: number }>;
    for (const entry of written) {
      const last = 45 + entry.id - 1;
      expect(entry).toMatchObject({ accessToken: `at-${last}`, priority: last });
    }
    expect(readdirSync(join(path, '..'))).toEqual(['credentials.json']);
  });

  it('adds with the next id and removes, persisting both', async () => {
    const { store, path } = await storeFromFile([{ id: 4, refreshToken: REFRESH, machineId: HEX64 }]);
    const added = await store.add({ authMethod: 'api_key', kiroApiKey: 'ksk_new', priority: 1, machineId: HEX64, disabled: false });
    expect(added.credential.id).toBe(5);
    expect((readJson(path) as Array<{ id: number }>).map((e) => e.id)).toEqual([4, 5]);
    await store.remove(4);
    expect((readJson(path) as Array<{ id: number }>).map((e) => e.id)).toEqual([5]);
    expect(store.list().map((r) => r.credential.id)).toEqual([5]);
  });

  it('throws NotFoundError for unknown ids', async () => {
    const store = new MemoryCredentialStore({ credentials: [], form: 'missing', path: null });
    await expect(store.update(9, { priority: 1 })).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.remove(9)).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.withRefreshLock(9, async () => 1)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('serves the KIRO_API_KEY credential first but never writes it to the file', async () => {
    const path = tempFile([{ id: 1, refreshToken: REFRESH, machineId: HEX64 }]);
    const store = await MemoryCredentialStore.fromFile(path, { machineId: '', kiroApiKeyCredential: 'ksk_env_key' });
    await store.init();
    expect(store.list().map((r) => r.credential.id)).toEqual([ENV_API_KEY_CREDENTIAL_ID, 1]);
    await store.update(ENV_API_KEY_CREDENTIAL_ID, { subscriptionTitle: 'KIRO PRO' });
    await store.update(1, { accessToken: 'x' });
    const added = await store.add({ authMethod: 'social', refreshToken: REFRESH + 'n', priority: 0, machineId: HEX64, disabled: false });
    expect(added.credential.id).toBe(2);
    expect(readFileSync(path, 'utf8')).not.toContain('ksk_env_key');
  });

  it('writes back ids and machine ids assigned while loading, once, in init()', async () => {
    const path = tempFile([{ refreshToken: REFRESH }]);
    const loaded = await loadCredentialsFile(path);
    const store = new MemoryCredentialStore({ ...loaded, path });
    expect(readJson(path)).toEqual([{ refreshToken: REFRESH }]);
    await store.init();
    expect(readJson(path)).toEqual([{ refreshToken: REFRESH, id: 1, authMethod: 'social', machineId: loaded.credentials[0].machineId }]);
  });

  it('reports a failed start-up write-back instead of failing', async () => {
    const path = tempFile([{ refreshToken: REFRESH }]);
    const loaded = await loadCredentialsFile(path);
    const errors: unknown[] = [];
    const store = new MemoryCredentialStore({ ...loaded, path: join(path, 'not-a-dir', 'x.json'), onPersistError: (e) => errors.push(e) });
    await store.init();
    expect(errors).toHaveLength(1);
  });

  it('notifies listeners of durable changes until they unsubscribe', async () => {
    const store = new MemoryCredentialStore({ credentials: [cred(1)], form: 'array', path: null });
    const seen: Array<number | null> = [];
    const off = store.onChange((id) => seen.push(id));
    store.onChange(() => {
      throw new Error('listener bug');
    });
    await store.update(1, { priority: 3 });
    const added = await store.add({ authMethod: 'social', priority: 0, machineId: HEX64, disabled: false });
    off();
    await store.remove(added.credential.id);
    expect(seen).toEqual([1, added.credential.id]);
  });
});

describe('MemoryCredentialStore refresh lock', () => {
  it('runs holders of one credential one at a time, each seeing the previous result', async () => {
    const store = new MemoryCredentialStore({ credentials: [cred(1), cred(2)], form: 'array', path: null });
    const order: string[] = [];
    const refreshOnce = (tag: string) =>
      store.withRefreshLock(1, async (fresh, signal) => {
        expect(signal.aborted).toBe(false);
        order.push(`${tag}:start:${fresh.credential.accessToken ?? 'none'}`);
        if (!fresh.credential.accessToken) {
          await new Promise((r) => setTimeout(r, 20));
          await store.update(1, { accessToken: `from-${tag}` });
        }
        order.push(`${tag}:end`);
        return store.get(1)?.credential.accessToken;
      });
    const other = store.withRefreshLock(2, async () => {
      order.push('other');
      return 'x';
    });
    const results = await Promise.all([refreshOnce('a'), refreshOnce('b'), other]);
    expect(results).toEqual(['from-a', 'from-a', 'x']);
    expect(order.filter((e) => e !== 'other')).toEqual(['a:start:none', 'a:end', 'b:start:from-a', 'b:end']);
    expect(order.indexOf('other')).toBeLessThan(order.indexOf('a:end')); // another credential is not blocked
  });

  it('releases the lock when the holder throws', async () => {
    const mutex = new KeyedMutex<number>();
    await expect(mutex.run(1, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(mutex.isLocked(1)).toBe(false);
    await expect(mutex.run(1, async () => 'ok')).resolves.toBe('ok');
  });
});
