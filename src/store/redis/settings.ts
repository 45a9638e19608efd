/**
 * Gateway settings shared by all replicas (e.g. the load-balancing mode) in one Redis hash, with a
 * local copy that serves reads with no I/O and listeners told of every change.
 */
import type { RedisKeys } from './codec.js';
import type { CommandTracker, RedisClient } from './connection.js';

/**
 * The settings part of the Redis credential store. It only talks to Redis when asked: the store
 * decides when Redis is reachable, calls {@link SharedSettings.read} on notifications and resyncs,
 * and wraps {@link SharedSettings.write} in its outage handling.
 */
export class SharedSettings {
  private readonly values = new Map<string, string>();
  private readonly listeners = new Set<(key: string, value: string) => void>();

  constructor(
    private readonly client: RedisClient,
    private readonly tracker: CommandTracker,
    private readonly keys: RedisKeys,
    private readonly replicaId: string,
  ) {}

  /** The local value of `key`, if any. */
  get(key: string): string | undefined {
    return this.values.get(key);
  }

  /** Writes `key` to Redis and notifies the other replicas; call {@link SharedSettings.apply} once it succeeds. */
  async write(key: string, value: string): Promise<void> {
    const event = JSON.stringify({ id: null, replica: this.replicaId, kind: 'settings' });
    // One MULTI: the write and its notification land together, as the Lua scripts do for credentials.
    await this.tracker.run('multi:settings', () =>
      this.client.multi().hset(this.keys.settings, key, value).publish(this.keys.events, event).exec(),
    );
  }

  /** Registers a listener for changed values; returns its unsubscribe function. */
  onChange(listener: (key: string, value: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sets the local value and tells the listeners, if it changed. */
  apply(key: string, value: string): void {
    if (this.values.get(key) === value) return;
    this.values.set(key, value);
    for (const listener of this.listeners) listener(key, value);
  }

  /** Settings change rarely: they are re-read on every notification and resync, all at once. */
  async read(): Promise<void> {
    const all = await this.tracker.run('hgetall:settings', () => this.client.hgetall(this.keys.settings));
    for (const [key, value] of Object.entries(all)) this.apply(key, value);
  }
}
