/**
 * Credentials this replica must not use until the credential store tells it more: their refresh
 * token was refused while the store was degraded (Redis unreachable), when "refused" most likely
 * means another replica, cut off as well, refreshed first and the auth service rotated the token.
 * The newer token reaches this replica through the store when Redis is back; until then the
 * credential is skipped here (other credentials serve, or the client gets a retryable 529), and
 * nothing about it is counted or disabled.
 *
 * A mark ends when the stored refresh token changes (the newer one arrived), or `graceMs` after the
 * store is first seen reachable again: replicas reconnect and write their queued tokens a moment
 * apart, and a refresh with the old token in between would be refused again. After the grace, a
 * token still unchanged is judged normally (refreshed under the shared lock; disabled if refused).
 */
import { OverloadedError } from '../errors.js';
import type { CredentialRecord } from './types.js';

/** How long a marked credential keeps waiting once the store is reachable again. */
export const AWAITING_STORE_GRACE_MS = 5_000;
/** `retry-after` of the 529 a request gets when only waiting credentials are left (seconds). */
export const AWAITING_STORE_RETRY_AFTER_S = 2;

/** A credential waits for a newer token from the store; the request may succeed on another replica. */
export class CredentialAwaitingStoreError extends OverloadedError {
  constructor(id: number, options?: { cause?: unknown }) {
    super(
      `credential ${id} is waiting for a newer token from the credential store (its refresh token was refused while Redis was unreachable; another replica probably rotated it)`,
      { ...options, retryAfterSeconds: AWAITING_STORE_RETRY_AFTER_S },
    );
  }
}

interface Mark {
  /** The refresh token that was refused. */
  refreshToken: string | undefined;
  /** When the store was first seen reachable again after the mark. */
  onlineSince?: number;
}

/** Marks of credentials waiting for the store, per process. */
export class AwaitingStore {
  private readonly marks = new Map<number, Mark>();

  constructor(
    private readonly isDegraded: () => boolean,
    private readonly now: () => number,
    private readonly graceMs = AWAITING_STORE_GRACE_MS,
  ) {}

  /** Credential `id`'s refresh token `refreshToken` was refused while the store was degraded. */
  mark(id: number, refreshToken: string | undefined): void {
    this.marks.set(id, { refreshToken });
  }

  /** A refresh succeeded: nothing to wait for. */
  clear(id: number): void {
    this.marks.delete(id);
  }

  /** Whether credential `record` must still wait. No I/O; free when nothing is marked. */
  waiting(record: CredentialRecord): boolean {
    if (this.marks.size === 0) return false;
    const id = record.credential.id;
    const mark = this.marks.get(id);
    if (!mark) return false;
    if (record.credential.refreshToken !== mark.refreshToken) {
      this.marks.delete(id);
      return false;
    }
    if (this.isDegraded()) {
      mark.onlineSince = undefined;
      return true;
    }
    const now = this.now();
    mark.onlineSince ??= now;
    if (now - mark.onlineSince < this.graceMs) return true;
    this.marks.delete(id);
    return false;
  }
}
