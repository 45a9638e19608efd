/**
 * client-keys.json of the single-process mode: every change is on disk (hashes only) before it
 * resolves, a restarted store serves the same keys, and a damaged file stops the start with its name.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileClientKeyStore } from '../../src/keys/file-key-store.js';
import { generateKeyId, generateKeySecret, keyHashOf, keyHint } from '../../src/keys/secret.js';
import type { ClientKeyRecord } from '../../src/keys/types.js';

function record(name: string): { record: ClientKeyRecord; secret: string } {
  const secret = generateKeySecret();
  const now = new Date().toISOString();
  return {
    secret,
    record: {
      id: generateKeyId(),
      name,
      owner: '',
      enabled: true,
      models: ['claude-sonnet-*'],
      credentials: [],
      limits: { requestsPerMinute: 5 },
      keyHash: keyHashOf(secret),
      hint: keyHint(secret),
      createdAt: now,
      updatedAt: now,
    },
  };
}

describe('FileClientKeyStore', () => {
  it('writes each change before it resolves, and a new store reads the same keys', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'kiro-keys-')), 'client-keys.json');
    const store = new FileClientKeyStore(path);
    await store.init();
    expect(store.list()).toEqual([]);
    const a = record('a');
    const b = record('b');
    await store.add(a.record);
    await store.add(b.record);
    await store.update(a.record.id, { enabled: false, limits: {} });
    await store.remove(b.record.id);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain(a.secret);
    expect(text).not.toContain(b.secret);

    const again = new FileClientKeyStore(path);
    await again.init();
    expect(again.list().map((k) => k.id)).toEqual([a.record.id]);
    expect(again.byHash(keyHashOf(a.secret))).toMatchObject({ enabled: false, limits: {}, models: ['claude-sonnet-*'] });
    expect(again.byHash(keyHashOf(b.secret))).toBeUndefined();
    await expect(again.update('key_0000000000000000', { name: 'x' })).rejects.toThrow(/not found/);
  });

  it('refuses a damaged file, naming it', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'kiro-keys-')), 'client-keys.json');
    writeFileSync(path, '{"keys": [{"id": "nope"}]}');
    await expect(new FileClientKeyStore(path).init()).rejects.toThrow(path);
    writeFileSync(path, '{"keys": ');
    await expect(new FileClientKeyStore(path).init()).rejects.toThrow(/not valid JSON/);
  });
});
