/**
 * Usage accounting per key and per credential, in hour and day buckets (UTC): requests, input and
 * output tokens, Kiro credits, errors, and requests refused by a key's limits. The request path only
 * adds to an in-memory buffer; the store behind it (Redis, or memory for one process) takes the
 * buffer in batches. Buckets and fields are named the same everywhere:
 * bucket `h:2025120714` / `d:20251207`, field `k:<keyId>:<metric>` / `c:<credentialId>:<metric>`.
 */

/** What is counted, and the short names used in stored field names. */
export const USAGE_METRICS = {
  requests: 'rq',
  inputTokens: 'in',
  outputTokens: 'out',
  credits: 'cr',
  errors: 'err',
  rateLimited: 'rl',
} as const;
export type UsageMetric = keyof typeof USAGE_METRICS;
export type UsageCounts = Record<UsageMetric, number>;
const METRIC_BY_CODE = new Map(Object.entries(USAGE_METRICS).map(([name, code]) => [code as string, name as UsageMetric]));

export type UsageSubject = 'key' | 'credential';
export type UsageGranularity = 'hour' | 'day';

export const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export function emptyCounts(): UsageCounts {
  return { requests: 0, inputTokens: 0, outputTokens: 0, credits: 0, errors: 0, rateLimited: 0 };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** The names of the last hour asked about: every request of an hour reuses them (no Date, no strings). */
let lastHour = { hour: NaN, hourBucket: '', dayBucket: '' };

/** Bucket name of the hour or day holding `at` (UTC). */
export function bucketOf(granularity: UsageGranularity, at: number): string {
  const hour = Math.floor(at / HOUR_MS);
  if (hour !== lastHour.hour) {
    const d = new Date(hour * HOUR_MS);
    const day = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
    lastHour = { hour, hourBucket: `h:${day}${pad(d.getUTCHours())}`, dayBucket: `d:${day}` };
  }
  return granularity === 'hour' ? lastHour.hourBucket : lastHour.dayBucket;
}

/** Start (epoch ms) of the bucket holding `at`. */
export function bucketStart(granularity: UsageGranularity, at: number): number {
  const size = granularity === 'hour' ? HOUR_MS : DAY_MS;
  return Math.floor(at / size) * size;
}

/** Every bucket from the one holding `from` to the one holding `to`, oldest first, with its start. */
export function bucketsBetween(granularity: UsageGranularity, from: number, to: number): Array<{ bucket: string; start: number }> {
  const size = granularity === 'hour' ? HOUR_MS : DAY_MS;
  const out: Array<{ bucket: string; start: number }> = [];
  for (let t = bucketStart(granularity, from); t <= to; t += size) out.push({ bucket: bucketOf(granularity, t), start: t });
  return out;
}

export function fieldOf(subject: UsageSubject, id: string | number, metric: UsageMetric): string {
  return `${subject === 'key' ? 'k' : 'c'}:${id}:${USAGE_METRICS[metric]}`;
}

/** The subject, id and metric of a stored field; undefined for a field of another kind. */
export function parseField(field: string): { subject: UsageSubject; id: string; metric: UsageMetric } | undefined {
  const first = field.indexOf(':');
  const last = field.lastIndexOf(':');
  if (first <= 0 || last <= first) return undefined;
  const kind = field.slice(0, first);
  const metric = METRIC_BY_CODE.get(field.slice(last + 1));
  if ((kind !== 'k' && kind !== 'c') || !metric) return undefined;
  return { subject: kind === 'k' ? 'key' : 'credential', id: field.slice(first + 1, last), metric };
}

/** One request's counts for one subject. */
export interface UsageEntry {
  at: number;
  subject: UsageSubject;
  id: string | number;
  counts: Partial<UsageCounts>;
}

/** Pending increments: bucket → field → amount. Bounded by subjects × metrics × buckets touched. */
export type UsageDeltas = Map<string, Map<string, number>>;

/**
 * Field names by metric of the subjects seen lately: every request adds to the same few fields of
 * its key and credential, so their names are built once (two entries per request, five metrics,
 * two buckets: 20 names built per request before).
 */
const fieldNames: Record<UsageSubject, Map<string | number, Readonly<Record<UsageMetric, string>>>> = { key: new Map(), credential: new Map() };
/** Subjects remembered per kind; past it the names are rebuilt (keys and credentials are few). */
const FIELD_NAMES_LIMIT = 1_024;

function fieldNamesOf(subject: UsageSubject, id: string | number): Readonly<Record<UsageMetric, string>> {
  const known = fieldNames[subject];
  const names = known.get(id);
  if (names) return names;
  const built = {} as Record<UsageMetric, string>;
  for (const metric in USAGE_METRICS) built[metric as UsageMetric] = fieldOf(subject, id, metric as UsageMetric);
  if (known.size >= FIELD_NAMES_LIMIT) known.clear();
  known.set(id, built);
  return built;
}

/** Adds an entry to both its hour and its day bucket (a bucket is created only for a non-zero amount). */
export function addEntry(deltas: UsageDeltas, entry: UsageEntry): void {
  const names = fieldNamesOf(entry.subject, entry.id);
  let hour: Map<string, number> | undefined;
  let day: Map<string, number> | undefined;
  const counts = entry.counts;
  for (const metric in counts) {
    const amount = counts[metric as UsageMetric];
    if (!amount) continue;
    hour ??= bucketFields(deltas, bucketOf('hour', entry.at));
    day ??= bucketFields(deltas, bucketOf('day', entry.at));
    const field = names[metric as UsageMetric];
    hour.set(field, (hour.get(field) ?? 0) + amount);
    day.set(field, (day.get(field) ?? 0) + amount);
  }
}

function bucketFields(deltas: UsageDeltas, bucket: string): Map<string, number> {
  let fields = deltas.get(bucket);
  if (!fields) deltas.set(bucket, (fields = new Map()));
  return fields;
}

/** Adds every increment of `from` into `into`. */
export function mergeDeltas(into: UsageDeltas, from: UsageDeltas): void {
  for (const [bucket, fields] of from) {
    let target = into.get(bucket);
    if (!target) into.set(bucket, (target = new Map()));
    for (const [field, amount] of fields) target.set(field, (target.get(field) ?? 0) + amount);
  }
}

/** A usage query: one granularity, a time range (epoch ms, inclusive), optionally one subject. */
export interface UsageQuery {
  granularity: UsageGranularity;
  from: number;
  to: number;
  subject?: UsageSubject;
}

/** Counts of one subject in one bucket (buckets without any usage are left out). */
export interface UsageRow {
  start: number;
  subject: UsageSubject;
  id: string;
  counts: UsageCounts;
}

/** Turns stored buckets (field → value) into rows, oldest bucket first, then subject and id. */
export function rowsOf(buckets: ReadonlyArray<{ start: number; fields: Iterable<[string, number]> }>, subject?: UsageSubject): UsageRow[] {
  const rows: UsageRow[] = [];
  for (const { start, fields } of buckets) {
    const bySubject = new Map<string, UsageRow>();
    for (const [field, value] of fields) {
      const parsed = parseField(field);
      if (!parsed || (subject && parsed.subject !== subject) || !Number.isFinite(value)) continue;
      const id = `${parsed.subject}:${parsed.id}`;
      let row = bySubject.get(id);
      if (!row) bySubject.set(id, (row = { start, subject: parsed.subject, id: parsed.id, counts: emptyCounts() }));
      row.counts[parsed.metric] += value;
    }
    rows.push(
      ...[...bySubject.values()].sort((a, b) => a.subject.localeCompare(b.subject) || a.id.localeCompare(b.id, undefined, { numeric: true })),
    );
  }
  return rows;
}

/** Where usage goes: `record` on the request path (no I/O), `query` for the admin API. */
export interface UsageStore {
  record(entry: UsageEntry): void;
  query(query: UsageQuery): Promise<UsageRow[]>;
  /** Today's (UTC) tokens and credits of a key, as far as this store knows (the local limiter's start). */
  todayOf?(keyId: string, now?: number): { tokens: number; credits: number };
  close(): Promise<void>;
}
