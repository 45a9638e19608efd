/**
 * What the request path asks of a limiter, whichever one it is: the shared one in Redis (with its
 * per-replica fallback) or the local one of a single process.
 */
import type { LimitDecision } from './limits.js';
import { LocalLimiter } from './local-limiter.js';
import type { ClientKeyRecord } from './types.js';

export interface KeyLimiter {
  /** Checks every limit of the key and reserves the request when all allow it (at most one Redis call). */
  reserve(key: ClientKeyRecord): Promise<LimitDecision>;
  /** After the answer: what it used, and the end of its concurrency slot. No I/O. */
  settle(key: ClientKeyRecord, decision: LimitDecision, used: { tokens: number; credits: number }): void;
  /** `shared`: limits hold over every replica (Redis); `local`: this replica enforces its share alone; `process`: one process, no Redis. */
  readonly mode: 'shared' | 'local' | 'process';
  /** Live replicas the limits are shared among (the divisor of the local fallback). */
  readonly replicas: number;
}

/** The limiter of a single gateway process. */
export class ProcessLimiter implements KeyLimiter {
  readonly mode = 'process' as const;
  readonly replicas = 1;

  constructor(private readonly local: LocalLimiter) {}

  reserve(key: ClientKeyRecord): Promise<LimitDecision> {
    return Promise.resolve(this.local.reserve(key.id, key.limits));
  }

  settle(key: ClientKeyRecord, decision: LimitDecision, used: { tokens: number; credits: number }): void {
    this.local.settle(key.id, key.limits, decision.slot, used.tokens, used.credits);
  }
}
