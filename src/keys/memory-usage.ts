/**
 * Usage of a single gateway process (no Redis): counted in memory and written to client-usage.json
 * (next to client-keys.json) once a minute when it changed and on shutdown, so that history and the
 * daily limits survive a restart. Buckets past their retention are dropped.
 */
import { readFile } from 'node:fs/promises';
import { removeStaleTempFiles, writeFileAtomic } from '../store/atomic-file.js';
import {
  addEntry,
  bucketOf,
  bucketsBetween,
  fieldOf,
  HOUR_MS,
  rowsOf,
  type UsageDeltas,
  type UsageEntry,
  type UsageQuery,
  type UsageRow,
  type UsageStore,
} from './usage.js';

export interface Retention {
  hourlyRetentionHours: number;
  dailyRetentionDays: number;
}

const PERSIST_INTERVAL_MS = 60_000;

/** `h:YYYYMMDDHH` / `d:YYYYMMDD` → epoch ms of its start. */
export function bucketTime(bucket: string): number {
  const digits = bucket.slice(2);
  const y = Number(digits.slice(0, 4));
  const m = Number(digits.slice(4, 6));
  const d = Number(digits.slice(6, 8));
  const h = digits.length >= 10 ? Number(digits.slice(8, 10)) : 0;
  return Date.UTC(y, m - 1, d, h);
}

export class MemoryUsageStore implements UsageStore {
  private readonly buckets: UsageDeltas = new Map();
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string | null,
    private readonly retention: Retention,
    private readonly onPersistError: (err: unknown) => void = () => {},
  ) {}

  async init(): Promise<void> {
    if (!this.path) return;
    await removeStaleTempFiles(this.path);
    try {
      const parsed = JSON.parse(await readFile(this.path, 'utf8')) as { buckets?: Record<string, Record<string, number>> };
      for (const [bucket, fields] of Object.entries(parsed.buckets ?? {})) {
        if (!/^(h:\d{10}|d:\d{8})$/.test(bucket) || typeof fields !== 'object' || fields === null) continue;
        const map = new Map<string, number>();
        for (const [field, value] of Object.entries(fields)) if (typeof value === 'number' && Number.isFinite(value)) map.set(field, value);
        this.buckets.set(bucket, map);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.onPersistError(err);
    }
    this.prune();
    this.timer = setInterval(() => void this.persist(), PERSIST_INTERVAL_MS);
    this.timer.unref();
  }

  record(entry: UsageEntry): void {
    addEntry(this.buckets, entry);
    this.dirty = true;
  }

  async query(query: UsageQuery): Promise<UsageRow[]> {
    const found = bucketsBetween(query.granularity, query.from, query.to).map(({ bucket, start }) => ({
      start,
      fields: this.buckets.get(bucket) ?? new Map<string, number>(),
    }));
    return rowsOf(found, query.subject);
  }

  todayOf(keyId: string, now = Date.now()): { tokens: number; credits: number } {
    const day = this.buckets.get(bucketOf('day', now));
    const get = (metric: 'inputTokens' | 'outputTokens' | 'credits') => day?.get(fieldOf('key', keyId, metric)) ?? 0;
    return { tokens: get('inputTokens') + get('outputTokens'), credits: get('credits') };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.persist();
  }

  /** Drops buckets older than their retention. */
  private prune(now = Date.now()): void {
    const hourlyFrom = now - this.retention.hourlyRetentionHours * HOUR_MS;
    const dailyFrom = now - this.retention.dailyRetentionDays * 24 * HOUR_MS;
    for (const bucket of this.buckets.keys()) {
      const end = bucketTime(bucket) + (bucket.startsWith('h:') ? HOUR_MS : 24 * HOUR_MS);
      if (end <= (bucket.startsWith('h:') ? hourlyFrom : dailyFrom)) this.buckets.delete(bucket);
    }
  }

  private persist(): Promise<void> {
    if (!this.path || !this.dirty) return this.writes;
    this.dirty = false;
    this.prune();
    const body = { buckets: Object.fromEntries([...this.buckets].map(([b, fields]) => [b, Object.fromEntries(fields)])) };
    const path = this.path;
    this.writes = this.writes
      .then(() => writeFileAtomic(path, `${JSON.stringify(body)}\n`))
      .catch((err: unknown) => {
        this.dirty = true;
        this.onPersistError(err);
      });
    return this.writes;
  }
}
