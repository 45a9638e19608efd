/**
 * Managed client keys of a single gateway process (no Redis): kept in memory and written to
 * client-keys.json, next to credentials.json by default, atomically and one write at a time, before
 * each change resolves. The file holds key hashes, never keys.
 */
import { readFile } from 'node:fs/promises';
import { ApiError, NotFoundError } from '../errors.js';
import { removeStaleTempFiles, writeFileAtomic } from '../store/atomic-file.js';
import { IndexedKeyStore, patchRecord, type ClientKeyPatch } from './key-store.js';
import { parseStoredKey } from './stored-key.js';
import type { ClientKeyRecord } from './types.js';

/** The file's shape: `{ "keys": [ ClientKeyRecord, … ] }`. */
interface KeysFile {
  keys: ClientKeyRecord[];
}

export class FileClientKeyStore extends IndexedKeyStore {
  readonly kind = 'file' as const;
  private writes: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {
    super();
  }

  async init(): Promise<void> {
    await removeStaleTempFiles(this.path);
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new Error(`${this.path} is not valid JSON: ${(err as Error).message}`);
    }
    const keys = (parsed as Partial<KeysFile> | null)?.keys;
    if (!Array.isArray(keys)) throw new Error(`${this.path}: expected {"keys": [...]}`);
    this.index.replaceAll(keys.map((k, i) => parseStoredKey(k, `${this.path} keys[${i}]`)));
  }

  add(record: ClientKeyRecord): Promise<void> {
    return this.change((records) => {
      records.push(record);
    });
  }

  update(id: string, patch: ClientKeyPatch): Promise<ClientKeyRecord> {
    return this.change((records) => {
      const at = records.findIndex((r) => r.id === id);
      if (at < 0) throw new NotFoundError(`API key ${id} not found`);
      records[at] = patchRecord(records[at]!, patch);
      return records[at]!;
    });
  }

  remove(id: string): Promise<void> {
    return this.change((records) => {
      const at = records.findIndex((r) => r.id === id);
      if (at < 0) throw new NotFoundError(`API key ${id} not found`);
      records.splice(at, 1);
    });
  }

  async close(): Promise<void> {
    await this.writes;
  }

  /**
   * Applies `edit` to a copy of the keys, writes the file, and only then serves the new copy: a
   * failed write changes nothing. Changes run one after another.
   */
  private change<T>(edit: (records: ClientKeyRecord[]) => T): Promise<T> {
    const run = this.writes.then(async () => {
      const records = [...this.index.list()];
      const result = edit(records);
      const body: KeysFile = { keys: records };
      try {
        await writeFileAtomic(this.path, `${JSON.stringify(body, null, 2)}\n`);
      } catch (err) {
        throw new ApiError(`Could not write ${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; nothing was changed`, { cause: err });
      }
      this.index.replaceAll(records);
      return result;
    });
    this.writes = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}
