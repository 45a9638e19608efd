/**
 * The simulator's live counters and the ring of recent requests tests assert on.
 */
import type { AccountStats, RecordedRequest, SimulatorStats } from './types.js';

/** A fresh, zeroed stats object. */
export function createStats(): SimulatorStats {
  return {
    generate: 0,
    refresh: 0,
    usage: 0,
    mcp: 0,
    models: 0,
    rejected: 0,
    streamsInFlight: 0,
    streamsCompleted: 0,
    streamsAborted: 0,
    byAccount: {},
    requests: [],
  };
}

/**
 * Zeroes `stats` in place (tests keep a reference to it). Streams still running keep counting, so
 * `streamsInFlight` is left alone.
 */
export function resetStats(stats: SimulatorStats): void {
  const inFlight = stats.streamsInFlight;
  Object.assign(stats, createStats());
  stats.streamsInFlight = inFlight;
}

/** Counts one call of `kind`, in total and for the account when known. */
export function countCall(stats: SimulatorStats, kind: keyof AccountStats, accountId: string | undefined): void {
  stats[kind]++;
  if (accountId === undefined) return;
  const perAccount = (stats.byAccount[accountId] ??= { refresh: 0, generate: 0, usage: 0, mcp: 0, models: 0 });
  perAccount[kind]++;
}

/** Appends to the recent-requests ring, dropping the oldest beyond `limit`. */
export function recordRequest(stats: SimulatorStats, entry: RecordedRequest, limit: number): void {
  stats.requests.push(entry);
  if (stats.requests.length > limit) stats.requests.splice(0, stats.requests.length - limit);
}
