import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeStaleTempFiles, writeFileAtomic } from '../../src/store/atomic-file.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'kiro-atomic-'));
}

function writeJson(dir: string, value: string, name = 'credentials.json'): string {
  const path = join(dir, name);
  writeFileSync(path, value);
  return path;
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

describe('writeFileAtomic', () => {
  it('leaves no temp files behind', async () => {
    const dir = tempDir();
    const path = writeJson(dir, '{}');
    for (let i = 0; i < 5; i++) await writeFileAtomic(path, JSON.stringify({ i }));
    expect(readdirSync(dir)).toEqual(['credentials.json']);
    expect(readJson(path)).toEqual({ i: 4 });
  });

  it('replaces the file by rename: a reader holding the old file still sees the complete old content', async () => {
    const dir = tempDir();
    const old = JSON.stringify({ version: 'old', padding: 'p'.repeat(10_000) });
    const path = writeJson(dir, old);
    const inodeBefore = statSync(path).ino;
    const fd = openSync(path, 'r');
    try {
      await writeFileAtomic(path, JSON.stringify({ version: 'new' }));
      const buf = Buffer.alloc(old.length + 10);
      const n = readSync(fd, buf, 0, buf.length, 0);
      // Written in place (truncate + write) this read would see the new or a truncated content.
      expect(buf.subarray(0, n).toString('utf8')).toBe(old);
    } finally {
      closeSync(fd);
    }
    expect(statSync(path).ino).not.toBe(inodeBefore);
    expect(readJson(path)).toEqual({ version: 'new' });
  });

  it('keeps the old file intact and cleans up when the write fails', async () => {
    const dir = tempDir();
    const target = join(dir, 'credentials.json');
    mkdirSync(target); // rename onto a directory fails after the temp file was written
    await expect(writeFileAtomic(target, '{"a":1}')).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['credentials.json']);
  });

  it('readers never observe a partial file during concurrent writes', async () => {
    const dir = tempDir();
    const path = writeJson(dir, JSON.stringify({ n: 0, pad: 'x'.repeat(50_000) }));
    let stop = false;
    let reads = 0;
    const reader = (async () => {
      while (!stop) {
        JSON.parse(readFileSync(path, 'utf8')); // throws on a torn read
        reads++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let n = 1; n <= 30; n++) await writeFileAtomic(path, JSON.stringify({ n, pad: 'x'.repeat(50_000 + n) }));
    stop = true;
    await reader;
    expect(reads).toBeGreaterThan(0);
  });

  it('writes through a symlink, keeping the link', async () => {
    const dir = tempDir();
    const real = writeJson(dir, '{}', 'real.json');
    const link = join(dir, 'credentials.json');
    symlinkSync(real, link);
    await writeFileAtomic(link, '{"a":1}');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readJson(real)).toEqual({ a: 1 });
  });

  it('removes temp files left by a crashed writer', async () => {
    const dir = tempDir();
    const path = writeJson(dir, '{}');
    writeFileSync(join(dir, `.credentials.json.999999999.abcdef.tmp`), '{"trunc');
    writeFileSync(join(dir, `.credentials.json.${process.pid}.abcdef.tmp`), '{"trunc');
    expect(await removeStaleTempFiles(path)).toBe(2);
    expect(readdirSync(dir)).toEqual(['credentials.json']);
  });
});
