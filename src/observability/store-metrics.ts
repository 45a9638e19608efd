/** The credential store: token refreshes, waits for the refresh lock, and Redis command latency and errors. */
import type { CounterCell, FastCounter, FastHistogram, HistogramCell } from './metric-primitives.js';
import { LABEL_CACHE_LIMIT, perValue, type MetricFactory } from './metric-factory.js';
import { DEFAULT_REDIS_COMMANDS, REFRESH_OUTCOMES, type RefreshOutcome } from './metric-labels.js';

/** Seconds. */
const BUCKETS = {
  lockWait: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  redis: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
} as const;

export class StoreMetrics {
  private readonly refreshes: Record<RefreshOutcome, CounterCell>;
  private readonly lockWait: HistogramCell;
  private readonly lockContention: CounterCell;
  private readonly redisDuration: FastHistogram;
  private readonly redisErrors: FastCounter;
  private readonly redisCommands: ReadonlySet<string>;
  private readonly redisCells = new Map<string, { duration: HistogramCell; errors: CounterCell }>();

  /** `redisCommands`: names labelled individually besides the default ones (others are `other`). */
  constructor(f: MetricFactory, redisCommands: readonly string[] = []) {
    const refreshes = f.counter('token_refreshes_total', 'Token refresh attempts by outcome.');
    this.refreshes = perValue(REFRESH_OUTCOMES, (outcome) => refreshes.cell({ outcome }));
    this.lockWait = f.histogram(
      'refresh_lock_wait_seconds',
      'Time spent waiting for a credential refresh lock.',
      BUCKETS.lockWait,
    ).cell();
    this.lockContention = f.counter(
      'refresh_lock_contention_total',
      'Refresh lock acquisitions that found the lock held by another request or replica.',
    ).cell();

    this.redisCommands = new Set([...DEFAULT_REDIS_COMMANDS, ...redisCommands].map((c) => c.toLowerCase()));
    this.redisDuration = f.histogram(
      'redis_command_duration_seconds',
      'Redis command latency by command (unknown commands are labelled other).',
      BUCKETS.redis,
    );
    this.redisErrors = f.counter('redis_errors_total', 'Redis commands that failed, by command.');
  }

  recordRefresh(outcome: RefreshOutcome): void {
    (this.refreshes[outcome] ?? this.refreshes.rejected).value++;
  }

  observeRefreshLockWait(seconds: number, contended: boolean): void {
    this.lockWait.observe(seconds);
    if (contended) this.lockContention.value++;
  }

  observeRedisCommand(command: string, seconds: number, failed: boolean): void {
    let cells = this.redisCells.get(command);
    if (!cells) {
      const lower = command.toLowerCase();
      const label = { command: this.redisCommands.has(lower) ? lower : 'other' };
      cells = { duration: this.redisDuration.cell(label), errors: this.redisErrors.cell(label) };
      if (this.redisCells.size < LABEL_CACHE_LIMIT) this.redisCells.set(command, cells);
    }
    cells.duration.observe(seconds);
    if (failed) cells.errors.value++;
  }
}
