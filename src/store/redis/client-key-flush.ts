/**
 * The background flush of client keys: every `intervalMs` one EVALSHA (FLUSH_SCRIPT) sends what the
 * request path buffered — usage increments, tokens and credits used, slots released — and renews the
 * leases of the slots this replica holds (every third of the lease, and at once after Redis was
 * away, which also re-registers them if Redis lost them). Its reply is the live replica count, the
 * divisor of the fallback limits. A flush that fails keeps its items for the next one; the first one
 * that gets through after an outage turns the shared limits back on.
 */
import { isReplyError, LuaScript } from './connection.js';
import type { ClientKeyRedis } from './client-key-redis.js';
import { FLUSH_SCRIPT } from './lua/client-keys.js';
import type { LimiterBatch, RedisKeyLimiter } from './key-limiter.js';
import type { RedisUsageStore } from './usage-store.js';

export const FLUSH = new LuaScript('key_flush', FLUSH_SCRIPT);

/** How old a heartbeat may be for its replica to count as live (three heartbeat periods). */
const LIVE_REPLICA_MS = 15_000;
/** Even with nothing to send, flush this often: the replica count stays fresh. */
const IDLE_FLUSH_MS = 5_000;

export interface FlushOptions {
  intervalMs?: number;
  hourlyRetentionHours: number;
  dailyRetentionDays: number;
}

export class ClientKeyFlusher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastFlush = 0;
  private lastRenew = 0;
  private readonly hourTtlS: number;
  private readonly dayTtlS: number;

  constructor(
    private readonly redis: ClientKeyRedis,
    private readonly limiter: RedisKeyLimiter,
    private readonly usage: RedisUsageStore,
    private readonly options: FlushOptions,
  ) {
    // A bucket is kept for its whole retention window after it ends.
    this.hourTtlS = (options.hourlyRetentionHours + 1) * 3_600;
    this.dayTtlS = (options.dailyRetentionDays + 1) * 86_400;
    redis.useScripts(FLUSH);
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs ?? 250);
    this.timer.unref();
  }

  /** Sends everything pending now (and waits for a flush already running). */
  async flush(): Promise<void> {
    await this.running;
    await this.tick(true);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    if (this.redis.connected) await this.tick(true);
  }

  private tick(force = false): Promise<void> {
    if (this.running || !this.redis.connected) return this.running ?? Promise.resolve();
    const now = Date.now();
    const renew = !this.redis.online || now - this.lastRenew >= this.limiter.leaseMs / 3;
    const idle = this.limiter.pendingCount === 0 && this.usage.pendingBuckets === 0;
    if (idle && !renew && !force && now - this.lastFlush < IDLE_FLUSH_MS) return Promise.resolve();
    this.running = this.send(renew).finally(() => (this.running = undefined));
    return this.running;
  }

  private async send(renew: boolean): Promise<void> {
    const usage = this.usage.take();
    const limits: LimiterBatch = this.limiter.take(renew);
    const args: Array<string | number> = [this.redis.keys.prefix, Date.now(), LIVE_REPLICA_MS, this.hourTtlS, this.dayTtlS];
    const usageArgs: Array<string | number> = [];
    for (const [bucket, fields] of usage) for (const [field, amount] of fields) usageArgs.push(bucket, field, amount);
    args.push(usageArgs.length / 3, ...usageArgs);
    args.push(limits.used.size);
    for (const [id, u] of limits.used) args.push(id, u.requestsPerMinute, u.tokensPerMinute, u.requests, u.tokens, u.credits);
    args.push(limits.released.length, ...limits.released.flat());
    args.push(limits.held.length);
    for (const [id, slot] of limits.held) args.push(id, slot, this.limiter.leaseMs);
    try {
      const replicas = await this.redis.run('evalsha:key_flush', () => FLUSH.run(this.redis.client, [this.redis.keys.replicas], args));
      this.lastFlush = Date.now();
      if (renew) this.lastRenew = this.lastFlush;
      this.redis.markOnline();
      this.limiter.flushed(Number(replicas));
    } catch (err) {
      if (isReplyError(err)) {
        // Redis refused the script itself: sending it again would fail forever.
        this.redis.log('error', 'client key flush rejected by Redis; batch dropped', { error: String(err) });
        return;
      }
      this.usage.requeue(usage);
      this.limiter.requeue(limits);
    }
  }
}
