/**
 * Limits kept in this process: the only limiter of a single gateway process, and every replica's
 * fallback while Redis is unreachable. Same rules as the shared limiter (limits.ts), with each limit
 * divided by `share()` — 1 alone, the number of live replicas in a fallback — so that the replicas
 * together stay within the limit while none of them can see the others' counts.
 */
import { randomBytes } from 'node:crypto';
import { refill, utcDay, type LimitDecision, type LimitSnapshot } from './limits.js';
import type { KeyLimits, LimitName } from './types.js';

/** Day counters a key starts from (what was used today before this limiter took over). */
export interface DayUsage {
  tokens: number;
  credits: number;
}

interface KeyState {
  requests?: { level: number; at: number };
  tokens?: { level: number; at: number };
  day: number;
  /** What was used today before this limiter took over, and what it admitted since. */
  dayBase: DayUsage;
  dayTokens: number;
  dayCredits: number;
  slots: Set<string>;
}

export interface LocalLimiterOptions {
  /** The divisor of every limit (live replicas in a fallback); default 1. */
  share?: () => number;
  /** Today's usage of a key when the limiter first sees it (persisted usage, or the shared store's last answer). */
  dayUsage?: (keyId: string) => DayUsage | undefined;
  now?: () => number;
}

/** A minute limit's share: at least 1, so a small limit still lets traffic through. */
function shareOf(limit: number, share: number): number {
  return Math.max(1, Math.floor(limit / share));
}

export class LocalLimiter {
  private readonly keys = new Map<string, KeyState>();
  private readonly slotPrefix = randomBytes(4).toString('hex');
  private slotSeq = 0;
  private readonly share: () => number;
  private readonly now: () => number;

  constructor(private readonly options: LocalLimiterOptions = {}) {
    this.share = options.share ?? (() => 1);
    this.now = options.now ?? Date.now;
  }

  /** Checks every limit of the key and, when all allow it, reserves the request. */
  reserve(keyId: string, limits: KeyLimits): LimitDecision {
    const now = this.now();
    const share = Math.max(1, this.share());
    const state = this.stateOf(keyId, now);
    const snapshot: LimitSnapshot = { now };
    const refused: LimitName[] = [];

    const rpm = limits.requestsPerMinute ?? 0;
    let requestLevel = 0;
    if (rpm > 0) {
      const cap = shareOf(rpm, share);
      requestLevel = state.requests ? refill(state.requests.level, state.requests.at, cap, now) : cap;
      if (requestLevel < 1) refused.push('requestsPerMinute');
      snapshot.requests = { limit: cap, level: requestLevel };
    }
    const tpm = limits.tokensPerMinute ?? 0;
    if (tpm > 0) {
      const cap = shareOf(tpm, share);
      const level = state.tokens ? refill(state.tokens.level, state.tokens.at, cap, now) : cap;
      state.tokens = { level, at: now };
      if (level <= 0) refused.push('tokensPerMinute');
      snapshot.tokensMinute = { limit: cap, level };
    }
    // A day's share: what was left of the limit when this limiter took over, divided among the replicas.
    const dayShare = (limit: number, base: number) => base + Math.max(0, limit - base) / share;
    const tpd = limits.tokensPerDay ?? 0;
    if (tpd > 0) {
      const used = state.dayBase.tokens + state.dayTokens;
      const limit = dayShare(tpd, state.dayBase.tokens);
      if (used >= limit) refused.push('tokensPerDay');
      snapshot.tokensDay = { limit: Math.floor(limit), used };
    }
    const cpd = limits.creditsPerDay ?? 0;
    if (cpd > 0) {
      const used = state.dayBase.credits + state.dayCredits;
      const limit = dayShare(cpd, state.dayBase.credits);
      if (used >= limit) refused.push('creditsPerDay');
      snapshot.creditsDay = { limit, used };
    }
    const conc = limits.concurrentStreams ?? 0;
    if (conc > 0) {
      const cap = shareOf(conc, share);
      if (state.slots.size >= cap) refused.push('concurrentStreams');
      snapshot.concurrent = { limit: cap, inUse: state.slots.size };
    }

    if (refused.length > 0) {
      if (rpm > 0) state.requests = { level: requestLevel, at: now };
      return { allowed: false, refused, snapshot, scope: 'local' };
    }
    let slot: string | undefined;
    if (rpm > 0) {
      state.requests = { level: requestLevel - 1, at: now };
      snapshot.requests!.level = requestLevel - 1;
    }
    if (conc > 0) {
      slot = `${this.slotPrefix}:${++this.slotSeq}`;
      state.slots.add(slot);
      snapshot.concurrent!.inUse = state.slots.size;
    }
    return { allowed: true, refused, snapshot, slot, scope: 'local' };
  }

  /** After the answer: the tokens and credits it used, and the end of its concurrency slot. */
  settle(keyId: string, limits: KeyLimits, slot: string | undefined, tokens: number, credits: number): void {
    const now = this.now();
    const state = this.stateOf(keyId, now);
    if (slot) state.slots.delete(slot);
    const tpm = limits.tokensPerMinute ?? 0;
    if (tpm > 0 && tokens > 0) {
      const cap = shareOf(tpm, Math.max(1, this.share()));
      const level = state.tokens ? refill(state.tokens.level, state.tokens.at, cap, now) : cap;
      state.tokens = { level: level - tokens, at: now };
    }
    state.dayTokens += tokens;
    state.dayCredits += credits;
  }

  /** Takes a slot held elsewhere into account (a stream admitted by the shared limiter, still running). */
  holdSlot(keyId: string, slot: string): void {
    this.stateOf(keyId, this.now()).slots.add(slot);
  }

  /** Forgets everything (the shared limiter took over again). */
  reset(): void {
    this.keys.clear();
  }

  private stateOf(keyId: string, now: number): KeyState {
    const day = utcDay(now);
    let state = this.keys.get(keyId);
    if (!state) {
      state = { day, dayBase: this.options.dayUsage?.(keyId) ?? { tokens: 0, credits: 0 }, dayTokens: 0, dayCredits: 0, slots: new Set() };
      this.keys.set(keyId, state);
    } else if (state.day !== day) {
      state.day = day;
      state.dayBase = { tokens: 0, credits: 0 };
      state.dayTokens = 0;
      state.dayCredits = 0;
    }
    return state;
  }
}
