/**
 * Single-process CredentialStore: state lives in memory and durable changes are written back to
 * credentials.json (atomically, one write at a time) before they resolve. Stats stay in memory.
 */
import type { GatewayConfig } from '../../config.js';
import { NotFoundError } from '../../errors.js';
import {
  envApiKeyCredential,
  loadCredentialsFile,
  saveCredentialsFile,
  type CredentialsFileForm,
} from '../credentials-file.js';
import { removeStaleTempFiles } from '../atomic-file.js';
import { KeyedMutex } from '../keyed-mutex.js';
import { tokensReplaced, TokensReplacedError, type CredentialStore, type TokenFence } from '../store.js';
import { EMPTY_STATS, type Credential, type CredentialFileEntry, type CredentialRecord, type CredentialStats } from '../../credentials/types.js';

/** What the memory store is built from: usually the result of `loadCredentialsFile`. */
export interface MemoryStoreOptions {
  credentials: Credential[];
  form: CredentialsFileForm;
  /** credentials.json to persist to; null keeps everything in memory only. */
  path: string | null;
  /** Raw file entries by id, so unknown keys survive write-backs. */
  originalEntries?: Map<number, CredentialFileEntry>;
  /** Write the file once in `init()` (ids or machine ids were assigned while loading). */
  needsWriteBack?: boolean;
  /** Served like the others but never written to the file (env KIRO_API_KEY). */
  ephemeral?: Credential[];
  /** Called when the start-up write-back fails (the store keeps working from memory). */
  onPersistError?: (err: unknown) => void;
}

/** A signal that never aborts: an in-process lock cannot be lost. */
const NEVER_ABORTED = new AbortController().signal;

/**
 * In-memory {@link CredentialStore} persisted to credentials.json.
 *
 * @example
 * const store = await MemoryCredentialStore.fromFile(config.credentialsPath, config);
 * await store.init();
 */
export class MemoryCredentialStore implements CredentialStore {
  readonly kind = 'memory' as const;

  /** Insertion (file) order, which is also the order written back. */
  private readonly records = new Map<number, CredentialRecord>();
  private readonly ephemeralIds = new Set<number>();
  private readonly originalEntries: Map<number, CredentialFileEntry>;
  private readonly listeners = new Set<(id: number | null) => void>();
  private readonly settings = new Map<string, string>();
  private readonly settingListeners = new Set<(key: string, value: string) => void>();
  private readonly refreshLocks = new KeyedMutex<number>();
  private sorted: CredentialRecord[] | null = null;
  private form: CredentialsFileForm;
  private readonly path: string | null;
  private needsWriteBack: boolean;
  private readonly onPersistError: (err: unknown) => void;
  /** The last scheduled write; writes run strictly one after another. */
  private writeChain: Promise<void> = Promise.resolve();
  /** A scheduled write that has not started yet: later changes ride along with it. */
  private pendingWrite: Promise<void> | null = null;

  constructor(opts: MemoryStoreOptions) {
    this.form = opts.form;
    this.path = opts.path;
    this.originalEntries = new Map(opts.originalEntries ?? []);
    this.needsWriteBack = opts.needsWriteBack ?? false;
    this.onPersistError = opts.onPersistError ?? (() => {});
    for (const cred of opts.ephemeral ?? []) {
      this.records.set(cred.id, { credential: { ...cred }, stats: { ...EMPTY_STATS } });
      this.ephemeralIds.add(cred.id);
    }
    for (const cred of opts.credentials) {
      if (this.records.has(cred.id)) throw new Error(`duplicate credential id ${cred.id}`);
      this.records.set(cred.id, { credential: { ...cred }, stats: { ...EMPTY_STATS } });
    }
  }

  /** Loads credentials.json (and the env KIRO_API_KEY credential) into a new store. */
  static async fromFile(
    path: string,
    config: Pick<GatewayConfig, 'machineId' | 'kiroApiKeyCredential'>,
    opts: Pick<MemoryStoreOptions, 'onPersistError'> = {},
  ): Promise<MemoryCredentialStore> {
    const loaded = await loadCredentialsFile(path, { machineId: config.machineId });
    const env = envApiKeyCredential(config);
    return new MemoryCredentialStore({ ...loaded, path, ephemeral: env ? [env] : [], ...opts });
  }

  /** Removes temp files of a crashed writer and writes back assigned ids/machine ids once. */
  async init(): Promise<void> {
    if (!this.path) return;
    await removeStaleTempFiles(this.path);
    if (this.needsWriteBack) {
      this.needsWriteBack = false;
      await this.persist().catch((err: unknown) => this.onPersistError(err));
    }
  }

  list(): readonly CredentialRecord[] {
    if (!this.sorted) {
      this.sorted = [...this.records.values()].sort(
        (a, b) => a.credential.priority - b.credential.priority || a.credential.id - b.credential.id,
      );
    }
    return this.sorted;
  }

  get(id: number): CredentialRecord | undefined {
    return this.records.get(id);
  }

  /**
   * Applies the patch at once (an `undefined` value clears the field; enabling clears the disabled
   * reason and date; disabling without a reason means Manual), then persists. With `fence`: only
   * while the credential holds the fence's tokens (see CredentialStore.update).
   */
  async update(id: number, patch: Partial<Omit<Credential, 'id'>>, fence?: TokenFence): Promise<CredentialRecord> {
    const record = this.records.get(id);
    if (!record) throw new NotFoundError(`credential ${id} not found`);
    if (fence && tokensReplaced(record.credential, fence)) throw new TokensReplacedError(id, record);
    const next: Credential = { ...record.credential, ...patch, id };
    if (fence && patch.accessToken !== undefined && next.disabledReason === 'InvalidRefreshToken') {
      next.disabled = false;
      delete next.disabledReason;
    }
    for (const key of Object.keys(next) as Array<keyof Credential>) if (next[key] === undefined) delete next[key];
    if (!next.disabled) {
      delete next.disabledReason;
      delete next.disabledUntil;
    } else if (!next.disabledReason) {
      next.disabledReason = 'Manual';
    }
    record.credential = next;
    this.sorted = null;
    this.emit(id);
    if (!this.ephemeralIds.has(id)) await this.persist();
    return record;
  }

  async readFresh(id: number): Promise<CredentialRecord | undefined> {
    return this.records.get(id);
  }

  async add(credential: Omit<Credential, 'id'>): Promise<CredentialRecord> {
    const id = Math.max(0, ...this.records.keys()) + 1;
    const record: CredentialRecord = { credential: { ...credential, id } as Credential, stats: { ...EMPTY_STATS } };
    this.records.set(id, record);
    this.sorted = null;
    this.emit(id);
    await this.persist();
    return record;
  }

  async remove(id: number): Promise<void> {
    if (!this.records.has(id)) throw new NotFoundError(`credential ${id} not found`);
    this.records.delete(id);
    this.originalEntries.delete(id);
    const wasEphemeral = this.ephemeralIds.delete(id);
    this.sorted = null;
    this.emit(id);
    if (!wasEphemeral) await this.persist();
  }

  updateStats(id: number, mutate: (current: Readonly<CredentialStats>) => Partial<CredentialStats>): void {
    const record = this.records.get(id);
    if (!record) return;
    record.stats = { ...record.stats, ...mutate(record.stats) };
  }

  async withRefreshLock<T>(id: number, fn: (fresh: CredentialRecord, signal: AbortSignal, exclusive: boolean) => Promise<T>): Promise<T> {
    return this.refreshLocks.run(id, async () => {
      const fresh = this.records.get(id);
      if (!fresh) throw new NotFoundError(`credential ${id} not found`);
      return fn(fresh, NEVER_ABORTED, true); // one process owns the credentials
    });
  }

  onChange(listener: (id: number | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  getSetting(key: string): string | undefined {
    return this.settings.get(key);
  }

  /** One process: nothing to share. Persisting (kiro.rs writes config.json) is the gateway's job. */
  async setSetting(key: string, value: string): Promise<void> {
    if (this.settings.get(key) === value) return;
    this.settings.set(key, value);
    for (const listener of this.settingListeners) listener(key, value);
  }

  onSettingChange(listener: (key: string, value: string) => void): () => void {
    this.settingListeners.add(listener);
    return () => this.settingListeners.delete(listener);
  }

  health(): { ok: boolean; degraded: boolean; detail?: string } {
    return { ok: true, degraded: false };
  }

  /** Waits for scheduled writes. */
  async close(): Promise<void> {
    await this.writeChain.catch(() => {});
  }

  private emit(id: number | null): void {
    for (const listener of this.listeners) {
      try {
        listener(id);
      } catch {
        // a failing listener must not break the change that triggered it
      }
    }
  }

  /** Schedules a write of the whole file; resolves once a write that includes every change so far is done. */
  private persist(): Promise<void> {
    const path = this.path;
    if (!path) return Promise.resolve();
    if (this.pendingWrite) return this.pendingWrite;
    const write = this.writeChain
      .catch(() => {})
      .then(async () => {
        this.pendingWrite = null;
        const credentials = [...this.records.values()]
          .filter((r) => !this.ephemeralIds.has(r.credential.id))
          .map((r) => r.credential);
        this.form = await saveCredentialsFile(path, credentials, this.form, this.originalEntries);
      });
    this.pendingWrite = write;
    this.writeChain = write;
    return write;
  }
}
