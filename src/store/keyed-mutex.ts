/**
 * A per-key async mutex: callers with the same key run one at a time, in arrival order; different
 * keys never wait for each other. The memory store's refresh lock; the Redis store queues one
 * replica's callers with it before they ask Redis.
 */
export class KeyedMutex<K> {
  /** Resolves when the last queued holder of each key is done; absent = free. */
  private readonly tails = new Map<K, Promise<void>>();

  /** Runs `fn` once every earlier holder of `key` has finished. */
  async run<T>(key: K, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    const tail = previous ? previous.then(() => done) : done;
    this.tails.set(key, tail);
    try {
      if (previous) await previous;
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** True while some caller holds or waits for `key`. */
  isLocked(key: K): boolean {
    return this.tails.has(key);
  }
}
