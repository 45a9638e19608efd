/**
 * How long a credential rests after a 429. Kiro flags accounts whose clients retry aggressively as
 * "temporary suspicious activity" (kirodotdev/Kiro#8770, docs/kiro-protocol-newer.md §6 and the
 * user-asks list), so repeated 429s on one credential must slow down, not hammer on: the cool-down
 * doubles with each 429 in a row, from `pool.rateLimitCooldownMs` (30 s) up to
 * `pool.rateLimitCooldownMaxMs` (5 min), and starts over after a success or a quiet spell.
 *
 * The streak is per process: each replica backs off on what it sees; the resulting `cooldownUntil`
 * is shared through the store as before.
 */
export class RateLimitCooldowns {
  private readonly streaks = new Map<number, { count: number; lastAt: number }>();

  constructor(
    private readonly baseMs: () => number,
    private readonly maxMs: () => number,
    private readonly now: () => number,
  ) {}

  /** Records a 429 of credential `id` and returns its cool-down (ms). */
  next(id: number): number {
    const now = this.now();
    const base = this.baseMs();
    const max = Math.max(base, this.maxMs());
    const streak = this.streaks.get(id);
    // A 429 within twice the longest cool-down of the previous one continues the streak.
    const count = streak && now - streak.lastAt <= 2 * max ? streak.count + 1 : 1;
    this.streaks.set(id, { count, lastAt: now });
    return Math.min(base * 2 ** Math.min(count - 1, 30), max);
  }

  /** A success ends the streak. */
  reset(id: number): void {
    this.streaks.delete(id);
  }
}
