import { describe, expect, it } from 'vitest';
import { applyDelta, deltaToOps, diffStats, mergeDeltas, StatsQueue } from '../../../src/store/redis/stats.js';
import { EMPTY_STATS, type CredentialStats } from '../../../src/credentials/types.js';

const stats = (over: Partial<CredentialStats> = {}): CredentialStats => ({ ...EMPTY_STATS, ...over });

describe('diffStats', () => {
  it('turns a raised counter into an increment and a counter set to 0 into an absolute set', () => {
    const delta = diffStats(stats({ successCount: 4, failureCount: 2 }), { successCount: 5, failureCount: 0, lastUsedAt: 'T' });
    expect(delta).toEqual({ counters: { successCount: { add: 1 }, failureCount: { set: 0, add: 0 } }, fields: { lastUsedAt: 'T' } });
    expect(deltaToOps(delta!)).toEqual(['s', 'failureCount', '0', 'i', 'successCount', '1', 's', 'lastUsedAt', 'T']);
  });

  it('ignores counters returned unchanged, and resets an already-zero counter explicitly', () => {
    expect(diffStats(stats({ successCount: 3 }), { successCount: 3 })).toBeUndefined();
    expect(diffStats(stats(), { failureCount: 0 })?.counters).toEqual({ failureCount: { set: 0, add: 0 } });
  });

  it('sends credits as a float increment (HINCRBYFLOAT), the integer counters as HINCRBY', () => {
    const delta = diffStats(stats({ successCount: 1, creditsUsed: 0.5 }), { successCount: 2, creditsUsed: 0.5 + 0.0052 })!;
    expect(deltaToOps(delta)).toEqual(['i', 'successCount', '1', 'f', 'creditsUsed', String(0.5 + 0.0052 - 0.5)]);
    expect(applyDelta(stats({ creditsUsed: 0.5 }), delta).creditsUsed).toBeCloseTo(0.5052, 12);
  });

  it('deletes a field returned as undefined', () => {
    const delta = diffStats(stats({ cooldownUntil: 5 }), { cooldownUntil: undefined })!;
    expect(deltaToOps(delta)).toEqual(['d', 'cooldownUntil', '']);
    expect(applyDelta(stats({ cooldownUntil: 5 }), delta)).toEqual(stats());
  });
});

describe('mergeDeltas', () => {
  it('adds increments, and lets a later set replace what came before it', () => {
    const inc = { counters: { failureCount: { add: 2 } }, fields: {} };
    const reset = { counters: { failureCount: { set: 0, add: 0 } }, fields: {} };
    expect(mergeDeltas(inc, inc).counters.failureCount).toEqual({ set: undefined, add: 4 });
    expect(mergeDeltas(inc, reset).counters.failureCount).toEqual({ set: 0, add: 0 });
    const afterReset = mergeDeltas(reset, inc);
    expect(afterReset.counters.failureCount).toEqual({ set: 0, add: 2 });
    expect(deltaToOps(afterReset)).toEqual(['s', 'failureCount', '2']);
  });
});

describe('StatsQueue', () => {
  const inc = (n: number) => ({ counters: { successCount: { add: n } }, fields: {} });
  const view = (q: StatsQueue, redisValue: number, mark: number) =>
    q.overlay(1, mark).reduce(applyDelta, stats({ successCount: redisValue })).successCount;

  it('coalesces deltas per credential, so its size is bounded by the number of credentials', () => {
    const q = new StatsQueue();
    for (let i = 0; i < 1_000; i++) q.record(1 + (i % 3), inc(1));
    expect(q.pendingCount).toBe(3);
    expect(q.take()?.deltas.get(2)).toEqual({ counters: { successCount: { set: undefined, add: 333 } }, fields: {} });
  });

  it('does not count a batch twice when a read sent after it already includes it', () => {
    const q = new StatsQueue();
    q.record(1, inc(2));
    const batch = q.take()!;
    const mark = q.mark(); // read sent after the batch: Redis applied it first
    q.record(1, inc(5));
    expect(view(q, 2, mark)).toBe(7);
    q.ack(batch);
    expect(view(q, 2, mark)).toBe(7);
  });

  it('lays an in-flight batch over a read sent before it', () => {
    const q = new StatsQueue();
    const mark = q.mark();
    q.record(1, inc(2));
    q.take();
    expect(view(q, 10, mark)).toBe(12);
  });

  it('puts a failed batch back in front of newer deltas', () => {
    const q = new StatsQueue();
    q.record(1, { counters: { failureCount: { add: 1 } }, fields: { lastError: 'old' } });
    const batch = q.take()!;
    q.record(1, { counters: { failureCount: { set: 0, add: 0 } }, fields: { lastError: 'new' } });
    q.requeue(batch);
    expect(q.take()?.deltas.get(1)).toEqual({ counters: { failureCount: { set: 0, add: 0 } }, fields: { lastError: 'new' } });
  });

  it('ignores a requeue of a batch that was cleared meanwhile', () => {
    const q = new StatsQueue();
    q.record(1, inc(1));
    const batch = q.take()!;
    q.clear();
    q.requeue(batch);
    expect(q.pendingCount).toBe(0);
  });
});
