/**
 * Where managed client keys live: in Redis when replicas share a store, else in client-keys.json
 * next to credentials.json. Both keep a local copy indexed by key hash, so authenticating a request
 * never waits on I/O; writes are awaited and reach every replica through the store's notifications.
 */
import type { ClientKeyRecord } from './types.js';

/** The fields an admin may change after creation. */
export type ClientKeyPatch = Partial<Pick<ClientKeyRecord, 'name' | 'owner' | 'enabled' | 'models' | 'credentials' | 'limits'>>;

export interface ClientKeyStore {
  readonly kind: 'file' | 'redis';
  /** Loads the keys; call once before anything else. */
  init(): Promise<void>;
  /** Every key, oldest first. No I/O. */
  list(): readonly ClientKeyRecord[];
  /** One key by id. No I/O. */
  get(id: string): ClientKeyRecord | undefined;
  /** The key whose SHA-256 is `keyHash`. No I/O. */
  byHash(keyHash: string): ClientKeyRecord | undefined;
  /** Stores a new key (persisted before resolving). */
  add(record: ClientKeyRecord): Promise<void>;
  /** Changes a key (persisted before resolving); NotFoundError for an unknown id. */
  update(id: string, patch: ClientKeyPatch): Promise<ClientKeyRecord>;
  /** Deletes a key (persisted before resolving); NotFoundError for an unknown id. */
  remove(id: string): Promise<void>;
  /** Called after every change, made here or by another replica. */
  onChange(listener: () => void): () => void;
  close(): Promise<void>;
}

/** The local copy both stores serve from: records by id and by key hash. */
class ClientKeyIndex {
  private byId = new Map<string, ClientKeyRecord>();
  private hashes = new Map<string, ClientKeyRecord>();
  private sorted: ClientKeyRecord[] = [];
  private readonly listeners = new Set<() => void>();

  list(): readonly ClientKeyRecord[] {
    return this.sorted;
  }

  get(id: string): ClientKeyRecord | undefined {
    return this.byId.get(id);
  }

  byHash(keyHash: string): ClientKeyRecord | undefined {
    return this.hashes.get(keyHash);
  }

  /** Replaces the whole copy; tells the listeners when anything changed. */
  replaceAll(records: Iterable<ClientKeyRecord>): void {
    const next = new Map<string, ClientKeyRecord>();
    for (const r of records) next.set(r.id, r);
    const changed =
      next.size !== this.byId.size || [...next].some(([id, r]) => JSON.stringify(this.byId.get(id)) !== JSON.stringify(r));
    if (!changed) return;
    this.byId = next;
    this.rebuild();
  }

  set(record: ClientKeyRecord): void {
    this.byId.set(record.id, record);
    this.rebuild();
  }

  delete(id: string): boolean {
    if (!this.byId.delete(id)) return false;
    this.rebuild();
    return true;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private rebuild(): void {
    this.hashes = new Map([...this.byId.values()].map((r) => [r.keyHash, r]));
    this.sorted = [...this.byId.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    for (const listener of this.listeners) listener();
  }
}

/**
 * What both stores share: every lookup served from the local copy, and the listeners of its changes.
 * A store keeps `index` current and implements the rest.
 */
export abstract class IndexedKeyStore implements ClientKeyStore {
  abstract readonly kind: ClientKeyStore['kind'];
  protected readonly index = new ClientKeyIndex();

  abstract init(): Promise<void>;
  abstract add(record: ClientKeyRecord): Promise<void>;
  abstract update(id: string, patch: ClientKeyPatch): Promise<ClientKeyRecord>;
  abstract remove(id: string): Promise<void>;
  abstract close(): Promise<void>;

  list(): readonly ClientKeyRecord[] {
    return this.index.list();
  }

  get(id: string): ClientKeyRecord | undefined {
    return this.index.get(id);
  }

  byHash(keyHash: string): ClientKeyRecord | undefined {
    return this.index.byHash(keyHash);
  }

  onChange(listener: () => void): () => void {
    return this.index.onChange(listener);
  }
}

/** A record with a patch applied and `updatedAt` set. */
export function patchRecord(record: ClientKeyRecord, patch: ClientKeyPatch, now = new Date()): ClientKeyRecord {
  const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as ClientKeyPatch;
  return { ...record, ...defined, updatedAt: now.toISOString() };
}
