/**
 * Replica heartbeats for the admin cluster view: each replica writes `${prefix}replica:${id}` (JSON,
 * short TTL) and its id into `${prefix}replicas` (scored by time), so listing needs no SCAN, which
 * would have to visit every node in Cluster mode.
 */
import type { RedisKeys } from './codec.js';
import type { CommandTracker, RedisClient } from './connection.js';

/** One live replica as seen in Redis. */
export interface ReplicaInfo {
  id: string;
  /** What that replica's `heartbeat` callback returned (e.g. in-flight streams). */
  info: Record<string, unknown>;
  /** Epoch ms of its last heartbeat. */
  lastSeen: number;
}

/** Writes this replica's heartbeat on a timer and lists the others. */
export class ReplicaHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  /** A replica missing three beats in a row is gone. */
  private readonly ttlMs: number;

  constructor(
    private readonly client: RedisClient,
    private readonly tracker: CommandTracker,
    private readonly keys: RedisKeys,
    private readonly replicaId: string,
    private readonly intervalMs: number,
    private readonly payload: () => Record<string, unknown>,
    private readonly onError: (err: unknown) => void,
  ) {
    this.ttlMs = intervalMs * 3;
  }

  start(): void {
    const tick = () => {
      if (this.client.status === 'ready') this.beat().catch(this.onError);
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  /** Writes one heartbeat now. */
  async beat(): Promise<void> {
    const now = Date.now();
    let info: Record<string, unknown>;
    try {
      info = this.payload();
    } catch (err) {
      info = { error: `heartbeat callback failed: ${String(err)}` };
    }
    const body = JSON.stringify({ info, lastSeen: now });
    await this.tracker.run('multi:heartbeat', () =>
      this.client
        .multi()
        .set(this.keys.replica(this.replicaId), body, 'PX', this.ttlMs)
        .zadd(this.keys.replicas, now, this.replicaId)
        .zremrangebyscore(this.keys.replicas, '-inf', now - this.ttlMs)
        .exec(),
    );
  }

  /** Live replicas, sorted by id. */
  async list(): Promise<ReplicaInfo[]> {
    const since = Date.now() - this.ttlMs;
    const ids = await this.tracker.run('zrangebyscore:replicas', () => this.client.zrangebyscore(this.keys.replicas, since, '+inf'));
    if (ids.length === 0) return [];
    const bodies = await this.tracker.run('mget:replicas', () => this.client.mget(...ids.map((id) => this.keys.replica(id))));
    const out: ReplicaInfo[] = [];
    ids.forEach((id, i) => {
      const body = bodies[i];
      if (!body) return; // expired between the two reads
      try {
        const parsed = JSON.parse(body) as { info?: Record<string, unknown>; lastSeen?: number };
        out.push({ id, info: parsed.info ?? {}, lastSeen: Number(parsed.lastSeen ?? 0) });
      } catch {
        out.push({ id, info: {}, lastSeen: 0 });
      }
    });
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Stops beating and removes this replica's entry (best effort: it also expires on its own). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.client.status !== 'ready') return;
    try {
      await this.tracker.run('multi:heartbeat_stop', () =>
        this.client.multi().del(this.keys.replica(this.replicaId)).zrem(this.keys.replicas, this.replicaId).exec(),
      );
    } catch (err) {
      this.onError(err);
    }
  }
}
