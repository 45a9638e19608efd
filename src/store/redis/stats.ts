/**
 * Batching of stats changes for the Redis store. The hot path applies a change locally and records a
 * delta here; a timer sends all deltas in one script call. Counters travel as increments so that
 * replicas' increments add up instead of overwriting each other.
 */
import type { CredentialStats } from '../../credentials/types.js';

/** Counters sent as HINCRBY deltas (HINCRBYFLOAT for FLOAT_COUNTERS), or HSET when reset. */
export const COUNTER_FIELDS = ['failureCount', 'refreshFailureCount', 'successCount', 'failureTotal', 'creditsUsed'] as const;
/** Counters that are not whole numbers: Kiro credits (meteringEvent sums such as 0.0052). */
const FLOAT_COUNTERS: ReadonlySet<string> = new Set<CounterField>(['creditsUsed']);
/** Fields where the last writer wins. */
export const LWW_FIELDS = ['lastUsedAt', 'lastError', 'cooldownUntil'] as const;

export type CounterField = (typeof COUNTER_FIELDS)[number];
export type LwwField = (typeof LWW_FIELDS)[number];

/** `set` (when present) replaces the stored value, then `add` is added. */
export interface CounterChange {
  set?: number;
  add: number;
}

/** Pending change of one credential's stats; `null` in `fields` deletes the field. */
export interface StatsDelta {
  counters: Partial<Record<CounterField, CounterChange>>;
  fields: Partial<Record<LwwField, string | number | null>>;
}

/**
 * Turns what `mutate` returned into a delta against the local value `current`:
 * a counter that went up by k is an increment of k; a counter set to 0 (or lowered) is an absolute
 * set, so a "reset consecutive failures" wins over increments made elsewhere before it; a counter
 * returned unchanged (and non-zero) is ignored. Timestamps and `lastError` are absolute.
 */
export function diffStats(current: Readonly<CredentialStats>, patch: Partial<CredentialStats>): StatsDelta | undefined {
  const delta: StatsDelta = { counters: {}, fields: {} };
  let changed = false;
  for (const name of COUNTER_FIELDS) {
    if (!Object.hasOwn(patch, name)) continue;
    const next = patch[name];
    if (typeof next !== 'number' || !Number.isFinite(next)) continue;
    const cur = current[name];
    if (next > cur) delta.counters[name] = { add: next - cur };
    else if (next === cur && next !== 0) continue;
    else delta.counters[name] = { set: next, add: 0 };
    changed = true;
  }
  for (const name of LWW_FIELDS) {
    if (!Object.hasOwn(patch, name)) continue;
    const next = patch[name];
    delta.fields[name] = next === undefined ? null : next;
    changed = true;
  }
  return changed ? delta : undefined;
}

/** Combines two deltas of one credential, `older` first. */
export function mergeDeltas(older: StatsDelta, newer: StatsDelta): StatsDelta {
  const counters = { ...older.counters };
  for (const name of COUNTER_FIELDS) {
    const n = newer.counters[name];
    if (!n) continue;
    const o = counters[name];
    counters[name] = n.set !== undefined || !o ? { ...n } : { set: o.set, add: o.add + n.add };
  }
  return { counters, fields: { ...older.fields, ...newer.fields } };
}

/** Applies a delta to stats, returning a new object. */
export function applyDelta(stats: Readonly<CredentialStats>, delta: StatsDelta): CredentialStats {
  const out: CredentialStats = { ...stats };
  for (const name of COUNTER_FIELDS) {
    const c = delta.counters[name];
    if (c) out[name] = (c.set ?? out[name]) + c.add;
  }
  for (const name of LWW_FIELDS) {
    if (!Object.hasOwn(delta.fields, name)) continue;
    const v = delta.fields[name];
    if (v === null || v === undefined) delete out[name];
    else (out as unknown as Record<string, unknown>)[name] = v;
  }
  return out;
}

/**
 * Encodes a delta as `[op, field, value]` triples for FLUSH_STATS_SCRIPT (`i` integer increment,
 * `f` float increment, `s` set, `d` delete).
 */
export function deltaToOps(delta: StatsDelta): string[] {
  const ops: string[] = [];
  for (const name of COUNTER_FIELDS) {
    const c = delta.counters[name];
    if (!c) continue;
    if (c.set !== undefined) ops.push('s', name, String(c.set + c.add));
    else if (c.add !== 0) ops.push(FLOAT_COUNTERS.has(name) ? 'f' : 'i', name, String(c.add));
  }
  for (const name of LWW_FIELDS) {
    if (!Object.hasOwn(delta.fields, name)) continue;
    const v = delta.fields[name];
    if (v === null || v === undefined) ops.push('d', name, '');
    else ops.push('s', name, String(v));
  }
  return ops;
}

/** One flush: the deltas taken from the queue and its sequence number. */
export interface StatsBatch {
  readonly seq: number;
  readonly deltas: ReadonlyMap<number, StatsDelta>;
}

/**
 * Pending and in-flight stats deltas. Bounded by the number of credentials: deltas of one credential
 * coalesce, however long Redis stays unreachable. At most one batch is in flight.
 *
 * Reads and flushes share one connection, so Redis answers them in the order they were sent. A read
 * sent after batch N already includes it; `overlay(id, mark)` returns what such a read is missing
 * (a later in-flight batch and the pending delta), so the local view never counts a delta twice.
 */
export class StatsQueue {
  private pending = new Map<number, StatsDelta>();
  private inflight: StatsBatch | undefined;
  private sentSeq = 0;

  /** Records a delta for later sending. */
  record(id: number, delta: StatsDelta): void {
    const prev = this.pending.get(id);
    this.pending.set(id, prev ? mergeDeltas(prev, delta) : delta);
  }

  /** Number of credentials with unsent deltas. */
  get pendingCount(): number {
    return this.pending.size;
  }

  get busy(): boolean {
    return this.inflight !== undefined;
  }

  /** Moves all pending deltas into a new in-flight batch; undefined when idle or a batch is in flight. */
  take(): StatsBatch | undefined {
    if (this.inflight || this.pending.size === 0) return undefined;
    this.inflight = { seq: ++this.sentSeq, deltas: this.pending };
    this.pending = new Map();
    return this.inflight;
  }

  /** The batch reached Redis. */
  ack(batch: StatsBatch): void {
    if (this.inflight === batch) this.inflight = undefined;
  }

  /** The batch did not reach Redis (or may not have): its deltas go back in front of newer ones. */
  requeue(batch: StatsBatch): void {
    if (this.inflight !== batch) return; // cleared meanwhile: its deltas were folded in already
    this.inflight = undefined;
    for (const [id, older] of batch.deltas) {
      const newer = this.pending.get(id);
      this.pending.set(id, newer ? mergeDeltas(older, newer) : older);
    }
  }

  /** Sequence mark to take right before sending a read. */
  mark(): number {
    return this.sentSeq;
  }

  /** Deltas of `id` that a read sent at `mark` does not include, oldest first. */
  overlay(id: number, mark: number): StatsDelta[] {
    const out: StatsDelta[] = [];
    const inflight = this.inflight?.seq !== undefined && this.inflight.seq > mark ? this.inflight.deltas.get(id) : undefined;
    if (inflight) out.push(inflight);
    const pending = this.pending.get(id);
    if (pending) out.push(pending);
    return out;
  }

  /** Forgets everything about one credential (removed). */
  drop(id: number): void {
    this.pending.delete(id);
  }

  /** Forgets all unsent deltas (they were folded into absolute values written elsewhere). */
  clear(): void {
    this.pending.clear();
    this.inflight = undefined;
  }
}
