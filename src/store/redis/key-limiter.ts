/**
 * Client key limits shared by every replica. A limited key's request costs one EVALSHA
 * (CHECK_SCRIPT), which also carries what this replica learned about the key since its last call
 * (tokens and credits used, slots released), so the check sees this replica's own traffic at once
 * and other replicas' within a flush interval. Everything else leaves with the background flush.
 *
 * While Redis is unreachable each replica enforces every limit alone with its share of it (the
 * limit divided by the live replicas it last saw, see LocalLimiter); what it admits meanwhile is
 * queued and written when Redis is back, and the slots it holds are re-registered then.
 */
import { randomBytes } from 'node:crypto';
import type { LimitDecision, LimitSnapshot } from '../../keys/limits.js';
import type { KeyLimiter } from '../../keys/limiter.js';
import { LocalLimiter, type DayUsage } from '../../keys/local-limiter.js';
import type { ClientKeyRecord, LimitName } from '../../keys/types.js';
import type { ClientKeyRedis } from './client-key-redis.js';
import { isReplyError, LuaScript } from './connection.js';
import { CHECK_SCRIPT } from './lua/client-keys.js';

export const CHECK = new LuaScript('key_check', CHECK_SCRIPT);

/** A concurrency slot lives this long without renewal (a replica that died frees its slots within it). */
export const SLOT_LEASE_MS = 60_000;

/** What this replica learned about a key and Redis does not know yet. */
interface Used {
  requestsPerMinute: number;
  tokensPerMinute: number;
  /** Requests admitted locally while Redis was unreachable. */
  requests: number;
  tokens: number;
  credits: number;
}

/** What the background flush sends for the limiter. */
export interface LimiterBatch {
  used: Map<string, Used>;
  released: Array<[keyId: string, slot: string]>;
  held: Array<[keyId: string, slot: string]>;
}

export class RedisKeyLimiter implements KeyLimiter {
  private used = new Map<string, Used>();
  private released = new Map<string, string[]>();
  /** Slots this replica holds (slot → key id), renewed by the flush. */
  private readonly held = new Map<string, string>();
  /** Today's tokens and credits of each key as Redis last reported them: where a fallback starts. */
  private readonly lastDay = new Map<string, DayUsage>();
  private readonly slotPrefix: string;
  private slotSeq = 0;
  private liveReplicas = 1;
  private inLocal = false;
  private readonly local: LocalLimiter;

  constructor(
    private readonly redis: ClientKeyRedis,
    private readonly onFallback: (active: boolean) => void = () => {},
    /** Lease of a concurrency slot (ms); tests shorten it. */
    readonly leaseMs = SLOT_LEASE_MS,
  ) {
    this.slotPrefix = `${redis.replicaId}:${randomBytes(3).toString('hex')}`;
    this.local = new LocalLimiter({ share: () => this.liveReplicas, dayUsage: (id) => this.lastDay.get(id) });
    redis.useScripts(CHECK);
  }

  get mode(): 'shared' | 'local' {
    return this.redis.online ? 'shared' : 'local';
  }

  get replicas(): number {
    return this.liveReplicas;
  }

  async reserve(key: ClientKeyRecord): Promise<LimitDecision> {
    if (!this.redis.online) return this.reserveLocally(key);
    const l = key.limits;
    const slot = (l.concurrentStreams ?? 0) > 0 ? `${this.slotPrefix}:${++this.slotSeq}` : '';
    const used = this.used.get(key.id);
    const released = this.released.get(key.id) ?? [];
    this.used.delete(key.id);
    this.released.delete(key.id);
    let reply: unknown;
    try {
      reply = await this.redis.run('evalsha:key_check', () =>
        CHECK.run(this.redis.client, [this.redis.keys.limit(key.id), this.redis.keys.slots(key.id)], [
          l.requestsPerMinute ?? 0, l.tokensPerMinute ?? 0, l.tokensPerDay ?? 0, l.creditsPerDay ?? 0, l.concurrentStreams ?? 0,
          slot, this.leaseMs, used?.tokens ?? 0, used?.credits ?? 0, used?.requests ?? 0, ...released,
        ]),
      );
    } catch (err) {
      // A reply error is a bug, not an outage: say so (the request is still served, on local limits).
      if (isReplyError(err)) this.redis.log('error', 'client key limit check refused by Redis', { keyId: key.id, error: String(err) });
      // Not sent, or not known to be: sent again with the next call (a duplicate costs a little accuracy, never a crash).
      if (used) this.addUsed(key, used);
      if (released.length) this.released.set(key.id, [...released, ...(this.released.get(key.id) ?? [])]);
      return this.reserveLocally(key);
    }
    this.leaveLocal();
    const [refusedText, now, rq, tk, dtk, dcr, inUse] = reply as [string, string, string, string, string, string, number];
    const snapshot: LimitSnapshot = { now: Number(now) };
    if (l.requestsPerMinute) snapshot.requests = { limit: l.requestsPerMinute, level: Number(rq) };
    if (l.tokensPerMinute) snapshot.tokensMinute = { limit: l.tokensPerMinute, level: Number(tk) };
    if (l.tokensPerDay) snapshot.tokensDay = { limit: l.tokensPerDay, used: Number(dtk) };
    if (l.creditsPerDay) snapshot.creditsDay = { limit: l.creditsPerDay, used: Number(dcr) };
    if (l.concurrentStreams) snapshot.concurrent = { limit: l.concurrentStreams, inUse: Number(inUse) };
    this.lastDay.set(key.id, { tokens: Number(dtk), credits: Number(dcr) });
    const refused = refusedText ? (refusedText.split(',') as LimitName[]) : [];
    if (refused.length > 0) return { allowed: false, refused, snapshot, scope: 'shared' };
    if (slot) this.held.set(slot, key.id);
    return { allowed: true, refused, snapshot, slot: slot || undefined, scope: 'shared' };
  }

  settle(key: ClientKeyRecord, decision: LimitDecision, used: { tokens: number; credits: number }): void {
    if (this.inLocal) this.local.settle(key.id, key.limits, decision.slot, used.tokens, used.credits);
    if (decision.slot && this.held.delete(decision.slot)) {
      const list = this.released.get(key.id);
      if (list) list.push(decision.slot);
      else this.released.set(key.id, [decision.slot]);
    }
    if (used.tokens > 0 || used.credits > 0) this.addUsed(key, { requests: 0, tokens: used.tokens, credits: used.credits });
  }

  /** Everything the flush should send; `renew` adds every held slot (their leases, or after Redis lost them). */
  take(renew: boolean): LimiterBatch {
    const batch: LimiterBatch = {
      used: this.used,
      released: [...this.released].flatMap(([id, slots]) => slots.map((s) => [id, s] as [string, string])),
      held: renew ? [...this.held].map(([slot, id]) => [id, slot] as [string, string]) : [],
    };
    this.used = new Map();
    this.released = new Map();
    return batch;
  }

  /** The flush got through: Redis knows the live replica count again and holds our slots. */
  flushed(liveReplicas: number): void {
    this.liveReplicas = Math.max(1, liveReplicas);
    this.leaveLocal();
  }

  /** The flush did not get through: its items are sent with the next one. */
  requeue(batch: LimiterBatch): void {
    for (const [id, u] of batch.used) this.merge(id, u);
    for (const [id, slot] of batch.released) {
      const list = this.released.get(id);
      if (list) list.push(slot);
      else this.released.set(id, [slot]);
    }
  }

  get pendingCount(): number {
    return this.used.size + this.released.size;
  }

  private addUsed(key: ClientKeyRecord, u: Pick<Used, 'requests' | 'tokens' | 'credits'>): void {
    this.merge(key.id, { requestsPerMinute: key.limits.requestsPerMinute ?? 0, tokensPerMinute: key.limits.tokensPerMinute ?? 0, ...u });
  }

  private merge(id: string, u: Used): void {
    const prev = this.used.get(id);
    this.used.set(
      id,
      prev
        ? { ...u, requests: prev.requests + u.requests, tokens: prev.tokens + u.tokens, credits: prev.credits + u.credits }
        : u,
    );
  }

  private reserveLocally(key: ClientKeyRecord): LimitDecision {
    if (!this.inLocal) {
      this.inLocal = true;
      // Streams admitted through Redis and still running count against this replica's share.
      for (const [slot, id] of this.held) this.local.holdSlot(id, slot);
      this.onFallback(true);
    }
    const decision = this.local.reserve(key.id, key.limits);
    if (decision.slot) this.held.set(decision.slot, key.id);
    // The shared bucket learns of it once Redis is back.
    if (decision.allowed && key.limits.requestsPerMinute) this.addUsed(key, { requests: 1, tokens: 0, credits: 0 });
    return decision;
  }

  private leaveLocal(): void {
    if (!this.inLocal) return;
    this.inLocal = false;
    this.local.reset();
    this.onFallback(false);
  }
}
