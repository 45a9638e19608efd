/**
 * Client keys: requests, tokens, credits and errors per key, requests refused by a key's limits,
 * the time a limit check takes, and whether limits are enforced per replica (Redis unreachable).
 * The `key` label is the key's id (`config` for the configuration's apiKey), never the key; the
 * first MAX_KEY_SERIES ids get their own series, later ones share `other`.
 */
import type { CounterCell, FastCounter, HistogramCell } from './metric-primitives.js';
import { perValue, type MetricFactory } from './metric-factory.js';
import { LIMIT_NAMES, type LimitName } from '../keys/types.js';

/** Key ids with a series of their own; the rest are counted as `other`. */
export const MAX_KEY_SERIES = 50;
export const OTHER_KEY = 'other';

/** Seconds: a Redis round trip, or nothing at all for the local limiter. */
const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

interface KeyCells {
  label: string;
  requests: CounterCell;
  errors: CounterCell;
  input: CounterCell;
  output: CounterCell;
  credits: CounterCell;
}

export class KeyMetrics {
  private readonly requests: FastCounter;
  private readonly errors: FastCounter;
  private readonly tokens: FastCounter;
  private readonly credits: FastCounter;
  private readonly limited: FastCounter;
  private readonly cells = new Map<string, KeyCells>();
  private readonly limitedCells = new Map<string, CounterCell>();
  private readonly check: Record<'shared' | 'local', HistogramCell>;
  private local: () => boolean = () => false;

  constructor(f: MetricFactory) {
    this.requests = f.counter('client_key_requests_total', 'Messages requests admitted, by client key id (`config` = the configured apiKey).');
    this.errors = f.counter('client_key_errors_total', 'Admitted messages requests that failed, by client key id.');
    this.tokens = f.counter('client_key_tokens_total', 'Tokens used by client key id and direction (input, output).');
    this.credits = f.counter('client_key_credits_total', 'Kiro credits used by client key id.');
    this.limited = f.counter('client_key_rate_limited_total', "Requests refused with 429 by a client key's limits, by key id and limit.");
    const check = f.histogram(
      'client_key_limit_check_seconds',
      "Time to check and reserve a limited key's limits: one Redis call (shared) or none (local).",
      BUCKETS,
    );
    this.check = perValue(['shared', 'local'] as const, (scope) => check.cell({ scope }));
    f.gauge(
      'client_key_limits_local',
      "1 while this replica enforces client key limits alone (its share of each) because Redis is unreachable (scrape time).",
      () => (this.local() ? 1 : 0),
    );
  }

  /** Where the local-limits gauge reads from at scrape time. */
  setLocalSource(source: () => boolean): void {
    this.local = source;
  }

  limitChecked(seconds: number, scope: 'shared' | 'local'): void {
    this.check[scope].observe(seconds);
  }

  rateLimited(keyId: string, limits: readonly LimitName[]): void {
    const key = this.cellsOf(keyId).label;
    for (const limit of limits) {
      const id = `${key}\u0000${limit}`;
      let cell = this.limitedCells.get(id);
      if (!cell) this.limitedCells.set(id, (cell = this.limited.cell({ key, limit: LIMIT_NAMES.includes(limit) ? limit : 'other' })));
      cell.value++;
    }
  }

  requestEnded(keyId: string, counts: { requests: number; errors: number; inputTokens: number; outputTokens: number; credits: number }): void {
    const c = this.cellsOf(keyId);
    c.requests.value += counts.requests;
    c.errors.value += counts.errors;
    c.input.value += counts.inputTokens;
    c.output.value += counts.outputTokens;
    c.credits.value += counts.credits;
  }

  /** The series of a key id: its own among the first MAX_KEY_SERIES - 1, else `other`'s. */
  private cellsOf(keyId: string): KeyCells {
    const key = this.cells.has(keyId) || this.cells.size < MAX_KEY_SERIES - 1 ? keyId : OTHER_KEY;
    let cells = this.cells.get(key);
    if (!cells) {
      cells = {
        label: key,
        requests: this.requests.cell({ key }),
        errors: this.errors.cell({ key }),
        input: this.tokens.cell({ key, direction: 'input' }),
        output: this.tokens.cell({ key, direction: 'output' }),
        credits: this.credits.cell({ key }),
      };
      this.cells.set(key, cells);
    }
    return cells;
  }
}
