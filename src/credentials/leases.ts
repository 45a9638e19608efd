/**
 * Per-credential concurrency in this process: how many requests hold a lease on each credential,
 * and the lease objects that give the slot back.
 */
import type { Lease } from './pool-types.js';
import type { Credential } from './types.js';

/** Counts in-flight leases per credential id. */
export class LeaseSlots {
  private readonly slots = new Map<number, number>();

  /** Requests in flight on credential `id` in this process. */
  inFlight(id: number): number {
    return this.slots.get(id) ?? 0;
  }

  /** Takes a slot on `id`; the lease gives it back on its first `release()`. */
  acquire(id: number): PoolLease {
    this.slots.set(id, this.inFlight(id) + 1);
    return new PoolLease(() => {
      const n = this.inFlight(id) - 1;
      if (n > 0) this.slots.set(id, n);
      else this.slots.delete(id);
    });
  }
}

/** A lease whose credential and token are bound once the token is known. */
export class PoolLease implements Lease {
  credential!: Credential;
  accessToken = '';
  attempt = 0;
  private released = false;

  constructor(private readonly onRelease: () => void) {}

  /** Binds the credential and token of the attempt this lease is used for. */
  bind(credential: Credential, accessToken: string, attempt: number): void {
    this.credential = credential;
    this.accessToken = accessToken;
    this.attempt = attempt;
  }

  /** Frees the slot. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease();
  }
}
