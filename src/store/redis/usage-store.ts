/**
 * Usage counters shared by every replica: each replica buffers its increments in memory (the request
 * path does no I/O) and the background flush (client-key-flush.ts) adds them into hour and day hashes
 * with HINCRBYFLOAT, which expire after their retention. While Redis is unreachable the buffer keeps
 * growing only with new buckets, fields are merged; everything is written when it is back.
 */
import { addEntry, bucketsBetween, mergeDeltas, rowsOf, type UsageDeltas, type UsageEntry, type UsageQuery, type UsageRow, type UsageStore } from '../../keys/usage.js';
import { KeysUnavailableError, type ClientKeyRedis } from './client-key-redis.js';

export class RedisUsageStore implements UsageStore {
  private pending: UsageDeltas = new Map();

  constructor(private readonly redis: ClientKeyRedis) {}

  record(entry: UsageEntry): void {
    addEntry(this.pending, entry);
  }

  /** Takes every pending increment for a flush. */
  take(): UsageDeltas {
    const batch = this.pending;
    this.pending = new Map();
    return batch;
  }

  /** A flush did not get through: its increments go back (merged with newer ones). */
  requeue(batch: UsageDeltas): void {
    mergeDeltas(this.pending, batch);
  }

  get pendingBuckets(): number {
    return this.pending.size;
  }

  async query(query: UsageQuery): Promise<UsageRow[]> {
    const { client, keys } = this.redis;
    if (!this.redis.connected) throw new KeysUnavailableError('read usage');
    const buckets = bucketsBetween(query.granularity, query.from, query.to);
    const pipeline = client.pipeline();
    for (const { bucket } of buckets) pipeline.hgetall(keys.usage(bucket));
    let replies: Array<[Error | null, unknown]> | null;
    try {
      replies = await this.redis.run('pipeline:usage', () => pipeline.exec());
    } catch (err) {
      throw new KeysUnavailableError('read usage', err);
    }
    return rowsOf(
      buckets.map(({ start }, i) => {
        const [err, value] = replies?.[i] ?? [null, {}];
        const fields = err ? {} : ((value ?? {}) as Record<string, string>);
        return { start, fields: Object.entries(fields).map(([f, v]) => [f, Number(v)] as [string, number]) };
      }),
      query.subject,
    );
  }

  async close(): Promise<void> {}
}
