/**
 * Changes made by other replicas, as their write scripts publish them on the events channel
 * (`{"id":1|null,"replica":"…","kind":"update"|"settings"|…}`). Each notification becomes a re-read
 * of what changed, coalesced into one read per event-loop turn; our own events are skipped (the local
 * copy has them). After the subscriber reconnects everything is re-read, since messages may have been
 * missed meanwhile. While the store is not online nothing is read: the reconnect resync covers it.
 */
import type { RedisClient } from './connection.js';

/** What the feed needs from the store. */
export interface ChangeFeedTarget {
  readonly replicaId: string;
  /** The store can read from Redis now. */
  online(): boolean;
  /** Re-reads these credentials (all when undefined) into the local copy. */
  readCredentials(ids: number[] | undefined): Promise<unknown>;
  readSettings(): Promise<unknown>;
  /** A read failed for want of Redis. */
  onReadError(err: unknown): void;
}

/** Turns notifications into coalesced re-reads. */
export class ChangeFeed {
  private started = false;
  private ids = new Set<number>();
  private all = false;
  private scheduled = false;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly target: ChangeFeedTarget,
  ) {
    this.subscriber.on('message', (_channel: string, message: string) => this.onMessage(message));
    this.subscriber.on('ready', () => {
      if (this.started) this.reread(null); // messages may have been missed while away
    });
  }

  /** Re-reads after reconnects from now on (the initial read is the store's). */
  start(): void {
    this.started = true;
  }

  /** Schedules a re-read of one credential, or of everything (`null`). */
  reread(id: number | null): void {
    if (id === null) this.all = true;
    else this.ids.add(id);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const ids = this.all ? undefined : [...this.ids];
      this.all = false;
      this.ids.clear();
      if (!this.target.online()) return;
      this.target.readCredentials(ids).catch((err: unknown) => this.target.onReadError(err));
    });
  }

  private onMessage(message: string): void {
    let event: { id?: number | null; replica?: string; kind?: string };
    try {
      event = JSON.parse(message) as typeof event;
    } catch {
      return;
    }
    if (event.replica === this.target.replicaId) return; // our own write: the local copy has it
    if (event.kind === 'settings') {
      this.target.readSettings().catch((err: unknown) => this.target.onReadError(err));
      return;
    }
    this.reread(typeof event.id === 'number' ? event.id : null);
  }
}
