/**
 * Managed client keys shared by every replica: one Redis hash (key id → record JSON), a local copy
 * that serves every lookup, kept current by a notification after each change and a periodic re-read.
 * Changes need Redis (503 while it is unreachable); lookups never do.
 */
import { NotFoundError } from '../../errors.js';
import { IndexedKeyStore, patchRecord, type ClientKeyPatch } from '../../keys/key-store.js';
import { parseStoredKey } from '../../keys/stored-key.js';
import type { ClientKeyRecord } from '../../keys/types.js';
import { KeysUnavailableError, type ClientKeyRedis } from './client-key-redis.js';
import { isReplyError, LuaScript } from './connection.js';
import { READ_KEYS_SCRIPT, RESEED_KEYS_SCRIPT } from './lua/client-keys.js';

const RESEED = new LuaScript('key_reseed', RESEED_KEYS_SCRIPT);
export const READ_KEYS = new LuaScript('key_read', READ_KEYS_SCRIPT);

export class RedisClientKeyStore extends IndexedKeyStore {
  readonly kind = 'redis' as const;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly redis: ClientKeyRedis,
    private readonly resyncIntervalMs: number,
  ) {
    super();
    redis.useScripts(RESEED, READ_KEYS);
  }

  async init(): Promise<void> {
    const { subscriber, keys } = this.redis;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== keys.events) return;
      try {
        if ((JSON.parse(message) as { replica?: string }).replica === this.redis.replicaId) return;
      } catch {
        // unreadable: re-read anyway
      }
      this.reread();
    });
    // Notifications missed while away are covered by reading everything again.
    subscriber.on('ready', () => this.reread());
    this.redis.onReconnect(() => this.reread());
    await subscriber.subscribe(keys.events);
    await this.read();
    this.timer = setInterval(() => this.reread(), this.resyncIntervalMs);
    this.timer.unref();
  }

  async add(record: ClientKeyRecord): Promise<void> {
    await this.write('create an API key', record);
    this.index.set(record);
  }

  async update(id: string, patch: ClientKeyPatch): Promise<ClientKeyRecord> {
    const current = this.index.get(id);
    if (!current) throw new NotFoundError(`API key ${id} not found`);
    const next = patchRecord(current, patch);
    await this.write('change an API key', next);
    this.index.set(next);
    return next;
  }

  async remove(id: string): Promise<void> {
    if (!this.index.get(id)) throw new NotFoundError(`API key ${id} not found`);
    const { client, keys } = this.redis;
    await this.durable('delete an API key', () =>
      client.multi().hdel(keys.records, id).del(keys.limit(id), keys.slots(id)).publish(keys.events, this.event(id)).exec(),
    );
    this.index.delete(id);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.reading;
  }

  private event(id: string): string {
    return JSON.stringify({ replica: this.redis.replicaId, id });
  }

  /** One MULTI: the record and its notification land together. */
  private async write(action: string, record: ClientKeyRecord): Promise<void> {
    const { client, keys } = this.redis;
    await this.durable(action, () =>
      client
        .multi()
        .hset(keys.records, record.id, JSON.stringify(record))
        .set(keys.written, '1')
        .publish(keys.events, this.event(record.id))
        .exec(),
    );
  }

  private async durable<T>(action: string, call: () => Promise<T>): Promise<T> {
    if (!this.redis.connected) throw new KeysUnavailableError(action);
    try {
      return await this.redis.run(`multi:clientkeys`, call);
    } catch (err) {
      if (isReplyError(err)) throw err;
      throw new KeysUnavailableError(action, err);
    }
  }

  private reread(): void {
    if (this.reading || !this.redis.connected) return;
    this.reading = this.read()
      .catch((err: unknown) => this.redis.log('debug', 'could not re-read client keys', { error: String(err) }))
      .finally(() => (this.reading = undefined));
  }

  /**
   * Reads every record; one that does not parse is skipped (and logged), never served half-read. No
   * records and no `written` marker while this replica knows keys means Redis lost its data: the
   * keys are put back from the local copy instead of being forgotten.
   */
  private async read(): Promise<void> {
    const { client, keys } = this.redis;
    const [flat, marker] = (await this.redis.run('evalsha:key_read', () =>
      READ_KEYS.run(client, [keys.records, keys.written], []),
    )) as [string[], number];
    const all: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) all[flat[i]!] = flat[i + 1]!;
    const written = marker === 1;
    if (Object.keys(all).length === 0 && !written && this.index.list().length > 0) {
      const local = this.index.list();
      const wrote = await this.redis.run('evalsha:key_reseed', () =>
        RESEED.run(client, [keys.records, keys.written], local.flatMap((r) => [r.id, JSON.stringify(r)])),
      );
      if (wrote === 1) this.redis.log('warn', 'Redis had lost the client keys: written back from the local copy', { keys: local.length });
      return this.read();
    }
    const records: ClientKeyRecord[] = [];
    for (const [id, json] of Object.entries(all)) {
      try {
        records.push(parseStoredKey(JSON.parse(json), `Redis ${keys.records} ${id}`));
      } catch (err) {
        this.redis.log('error', 'unreadable client key record in Redis; skipped', { keyId: id, error: (err as Error).message });
      }
    }
    this.index.replaceAll(records);
  }
}
