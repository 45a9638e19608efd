/**
 * Which credential an attempt uses (docs/kiro-protocol.md §9.1): `priority` mode sticks to the
 * current credential (kiro.rs `current_id`) while it is enabled, `balanced` mode takes the least
 * used one; both skip credentials excluded by the request, at their attempt or concurrency limit,
 * free-tier ones for Opus, and prefer any credential not cooling down after a 429.
 */
import type { GatewayConfig, LoadBalancingMode } from '../config.js';
import type { AwaitingStore } from './awaiting-store.js';
import type { CredentialHealth } from './health.js';
import { AWAITING_SUMMARY } from './outcomes.js';
import type { LeaseSlots } from './leases.js';
import type { CredentialStore } from '../store/store.js';
import type { Credential, CredentialRecord } from './types.js';

/** What a request has already ruled out (part of the pool's per-request bookkeeping). */
export interface PickState {
  /** Credentials this request will not try again (auth failure, refresh failure, disabled). */
  readonly excluded: ReadonlySet<number>;
  /** Attempts made so far on credential `id`. */
  attemptsOn(id: number): number;
  /** Only credentials this accepts can serve the request (e.g. those offering its model). */
  readonly accepts?: (record: CredentialRecord) => boolean;
}

/** A picked credential. */
export interface Selection {
  record: CredentialRecord;
  /** Only a credential cooling down after a 429 was left. */
  cooling: boolean;
}

function isFreeTier(cred: Credential): boolean {
  return cred.subscriptionTitle?.toUpperCase().includes('FREE') ?? false;
}

/** Picks credentials by load-balancing mode; follows store changes to re-select in `priority` mode. */
export class CredentialSelector {
  /** Current load-balancing mode of this process. */
  mode: LoadBalancingMode;
  /** Sticky credential of `priority` mode (kiro.rs `current_id`). */
  private current: number | undefined;
  private readonly priorities = new Map<number, number>();

  constructor(
    private readonly store: CredentialStore,
    private readonly config: GatewayConfig,
    private readonly now: () => number,
    private readonly health: CredentialHealth,
    private readonly leases: LeaseSlots,
    private readonly awaiting: AwaitingStore,
  ) {
    this.mode = config.loadBalancingMode;
    for (const r of store.list()) this.priorities.set(r.credential.id, r.credential.priority);
  }

  /** The credential `priority` mode would use next (kiro.rs `currentId`), or null when none is enabled. */
  currentId(): number | null {
    const now = this.now();
    if (this.current !== undefined) {
      const rec = this.store.get(this.current);
      if (rec && this.health.isEnabled(rec, now)) return this.current;
    }
    return this.store.list().find((r) => this.health.isEnabled(r, now))?.credential.id ?? null;
  }

  /** The credential for the next attempt, or undefined when none is eligible. */
  pick(opus: boolean, state: PickState, retrySame: number | undefined): Selection | undefined {
    const now = this.now();
    const health = this.health;
    const leases = this.leases;
    const limits = this.config.pool;
    const cap = limits.maxConcurrencyPerCredential;
    const eligible = (r: CredentialRecord): boolean => {
      const id = r.credential.id;
      return (
        !state.excluded.has(id) &&
        state.attemptsOn(id) < limits.maxAttemptsPerCredential &&
        health.isEnabled(r, now) &&
        !(opus && isFreeTier(r.credential)) &&
        !(cap > 0 && leases.inFlight(id) >= cap) &&
        !this.awaiting.waiting(r)
      );
    };
    // A credential passed over because it cannot serve this request's model (`accepts`).
    let filtered = false;
    const accepted = (r: CredentialRecord): boolean => {
      if (!state.accepts || state.accepts(r)) return true;
      filtered = true;
      return false;
    };
    const ready = (r: CredentialRecord): boolean => !(r.stats.cooldownUntil !== undefined && r.stats.cooldownUntil > now);

    if (retrySame !== undefined) {
      const r = this.store.get(retrySame);
      if (r && eligible(r) && accepted(r)) return { record: r, cooling: false };
    }

    const records = this.store.list();
    let best: CredentialRecord | undefined;
    let coolest: CredentialRecord | undefined;
    if (this.mode === 'priority') {
      const current = this.current === undefined ? undefined : this.store.get(this.current);
      if (current && eligible(current) && ready(current) && accepted(current)) return { record: current, cooling: false };
      for (const r of records) {
        if (!eligible(r) || !accepted(r)) continue;
        if (ready(r)) {
          best = r;
          break;
        }
        if (!coolest || r.stats.cooldownUntil! < coolest.stats.cooldownUntil!) coolest = r;
      }
      // Stick to the current credential while it is enabled; move on only when it is not. A pick
      // shaped by the Opus filter is for this request only: it must not move Sonnet traffic off a
      // free-tier credential that is the preferred one.
      if (best && !opus && !filtered && (!current || !this.health.isEnabled(current, now))) this.current = best.credential.id;
    } else {
      let bestLoad = Infinity;
      for (const r of records) {
        if (!eligible(r) || !accepted(r)) continue;
        if (!ready(r)) {
          if (!coolest || r.stats.cooldownUntil! < coolest.stats.cooldownUntil!) coolest = r;
          continue;
        }
        // Local in-flight requests count as use, so a burst spreads before any of it succeeds.
        const load = r.stats.successCount + leases.inFlight(r.credential.id);
        if (load < bestLoad) {
          best = r;
          bestLoad = load;
        }
      }
    }
    if (best) return { record: best, cooling: false };
    return coolest ? { record: coolest, cooling: true } : undefined;
  }

  /** Follows a store change (`null`: everything may have changed). */
  onStoreChange(id: number | null): void {
    // kiro.rs re-selects the current credential when priorities change (admin API).
    const records = id === null ? this.store.list() : [this.store.get(id)].filter((r): r is CredentialRecord => r !== undefined);
    if (id !== null && records.length === 0) this.priorities.delete(id);
    let changed = id === null;
    for (const r of records) {
      if (this.priorities.get(r.credential.id) !== r.credential.priority) changed = true;
      this.priorities.set(r.credential.id, r.credential.priority);
      if (!r.credential.disabled) this.health.noteEnabled(r.credential.id);
    }
    if (changed || (id !== null && id === this.current && records.length === 0)) this.current = undefined;
  }

  /** Why nothing could be picked, as counts; never names secrets. */
  unusableSummary(opus: boolean): string {
    const records = this.store.list();
    if (records.length === 0) return 'no credentials configured';
    const now = this.now();
    const disabled = new Map<string, number>();
    let freeTier = 0;
    let atCap = 0;
    let waiting = 0;
    const cap = this.config.pool.maxConcurrencyPerCredential;
    for (const r of records) {
      if (!this.health.isEnabled(r, now)) {
        const reason = r.credential.disabledReason ?? 'Manual';
        disabled.set(reason, (disabled.get(reason) ?? 0) + 1);
      } else if (opus && isFreeTier(r.credential)) freeTier++;
      else if (cap > 0 && this.leases.inFlight(r.credential.id) >= cap) atCap++;
      else if (this.awaiting.waiting(r)) waiting++;
    }
    const parts = [`${records.length} configured`];
    if (disabled.size > 0) {
      const total = [...disabled.values()].reduce((a, b) => a + b, 0);
      parts.push(`${total} disabled (${[...disabled].map(([k, v]) => `${k}: ${v}`).join(', ')})`);
    }
    if (freeTier > 0) parts.push(`${freeTier} free-tier (no Opus models)`);
    if (atCap > 0) parts.push(`${atCap} at the concurrency limit of ${cap}`);
    if (waiting > 0) parts.push(`${waiting} ${AWAITING_SUMMARY} (Redis unreachable)`);
    return parts.join('; ');
  }
}
