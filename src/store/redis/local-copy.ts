/**
 * The in-process copy of the Redis store's credentials: what `list()`/`get()` return with no I/O.
 * Records are replaced, never mutated, so a caller holding one never sees it change half-way.
 */
import type { Credential, CredentialRecord } from '../../credentials/types.js';

/** One credential in the local copy, with the Redis bookkeeping needed for writes. */
export interface LocalEntry {
  record: CredentialRecord;
  /** `_rev` of the Redis hash this copy reflects. */
  rev: number;
  /** SHA-256 of the original refresh token / API key (the seed identity). */
  seedHash: string;
}

/** Applies a credential patch; a key present with value `undefined` removes the field. */
export function applyCredentialPatch(credential: Credential, patch: Partial<Credential>): Credential {
  const out: Record<string, unknown> = { ...credential };
  for (const [name, value] of Object.entries(patch)) {
    if (name === 'id') continue;
    if (value === undefined) delete out[name];
    else out[name] = value;
  }
  return out as unknown as Credential;
}

/** Map of entries plus a cached sorted list and change listeners. */
export class LocalCopy {
  private readonly map = new Map<number, LocalEntry>();
  private readonly listeners = new Set<(id: number | null) => void>();
  private sorted: readonly CredentialRecord[] | undefined;

  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {}

  /** Sorted by priority, then id; cached until the next change. */
  list(): readonly CredentialRecord[] {
    this.sorted ??= Object.freeze(
      [...this.map.values()]
        .map((e) => e.record)
        .sort((a, b) => a.credential.priority - b.credential.priority || a.credential.id - b.credential.id),
    );
    return this.sorted;
  }

  get(id: number): LocalEntry | undefined {
    return this.map.get(id);
  }

  entries(): IterableIterator<LocalEntry> {
    return this.map.values();
  }

  /**
   * Stores an entry. With `emit`, listeners are told at once; without, returns whether anything
   * visible changed so the caller can batch notifications.
   */
  set(id: number, entry: LocalEntry, emit: boolean): boolean {
    const prev = this.map.get(id);
    this.map.set(id, entry);
    this.sorted = undefined;
    if (emit) {
      this.emit(id);
      return true;
    }
    return !prev || prev.rev !== entry.rev || JSON.stringify(prev.record) !== JSON.stringify(entry.record);
  }

  /** Stores an entry without notifying anyone: the hot path's stats changes (as the memory store does). */
  replace(id: number, entry: LocalEntry): void {
    this.map.set(id, entry);
    this.sorted = undefined;
  }

  /** Removes an entry; returns whether it existed. */
  delete(id: number, emit: boolean): boolean {
    const existed = this.map.delete(id);
    if (existed) {
      this.sorted = undefined;
      if (emit) this.emit(id);
    }
    return existed;
  }

  onChange(listener: (id: number | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(id: number | null): void {
    for (const listener of this.listeners) {
      try {
        listener(id);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
