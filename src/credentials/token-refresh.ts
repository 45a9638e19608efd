/**
 * Access tokens for the pool's attempts: the stored token while it is fresh, else one refresh per
 * credential at a time in this process, done under the store's refresh lock after re-reading the
 * credential (another replica may have refreshed meanwhile). Refresh failures count toward
 * disabling the credential (kiro.rs, docs/kiro-protocol.md §2.4).
 *
 * Two rules keep ambiguous answers from becoming permanent state:
 * - With a degraded store (Redis unreachable, the lock is local only) a token is refreshed only
 *   once it has expired or the upstream refused it, never `refreshBeforeExpiryMs` early: every
 *   cut-off replica refreshes on its own, and with rotation only the first one wins. A refresh
 *   token refused then (invalid_grant, 401/403, other 4xx) is most likely one another replica
 *   rotated: it is neither counted nor disabled; the credential waits for the store (AwaitingStore).
 * - A refresh forced by an upstream rejection of a still valid token happens at most once per
 *   credential per `pool.forcedRefreshIntervalMs` (the time is stored with the tokens, so the pace
 *   holds over all replicas) unless the token it produced has served a request since: a token
 *   refused again within it is the credential's failure (ForcedRefreshPacedError), not a reason to
 *   call the auth service again.
 */
import { NotFoundError } from '../errors.js';
import { CredentialAwaitingStoreError, type AwaitingStore } from './awaiting-store.js';
import type { CredentialHealth } from './health.js';
import { describeError } from './outcomes.js';
import type { PoolContext, PoolEvent } from './pool-types.js';
import { RefreshError, type TokenRefresher } from './refresh.js';
import { tokensReplaced, TokensReplacedError, type CredentialStore, type TokenFence } from '../store/store.js';
import type { Credential } from './types.js';
import type { AbortLike } from '../http/request-abort.js';
import type { GatewayConfig } from '../config.js';

/** kiro.rs disables a credential after this many consecutive refresh failures (§2.4). */
export const MAX_REFRESH_FAILURES = 3;
/** Both auth services issue one-hour tokens; assumed when an answer omits `expiresIn`. */
const DEFAULT_TOKEN_LIFETIME_MS = 3_600_000;

/**
 * Test-only pause points inside a token refresh, for the cluster tests that kill -9 a replica at an
 * exact step (test/cluster/rotation-safety.test.ts). Env `KIRO_TEST_REFRESH_PAUSE` = `before` (lock
 * held, upstream not called yet) | `after-upstream` (new tokens received, not stored) | `after-write`
 * (stored, lock not released yet). The first refresh of the process that reaches the point writes
 * `KIRO_TEST_REFRESH_PAUSE <point> credential=<id>` to stderr and waits `KIRO_TEST_REFRESH_PAUSE_MS`
 * (default 30000) before carrying on; with `KIRO_TEST_REFRESH_PAUSE_MS=stop` it stops itself with
 * SIGSTOP instead, like a long GC pause or a stalled VM (its timers, the lock extension's included,
 * stand still until the test sends SIGCONT; test/cluster/fencing.test.ts). Read once at load; unset
 * (always, outside tests) it costs one `undefined` check per refresh.
 */
type RefreshPausePoint = 'before' | 'after-upstream' | 'after-write';
const TEST_REFRESH_PAUSE: RefreshPausePoint | undefined = (() => {
  const v = process.env.KIRO_TEST_REFRESH_PAUSE;
  return v === 'before' || v === 'after-upstream' || v === 'after-write' ? v : undefined;
})();
let testRefreshPaused = false;

async function testRefreshPause(point: RefreshPausePoint, id: number): Promise<void> {
  if (testRefreshPaused || point !== TEST_REFRESH_PAUSE) return;
  testRefreshPaused = true;
  process.stderr.write(`KIRO_TEST_REFRESH_PAUSE ${point} credential=${id}\n`); // synchronous on a pipe
  if (process.env.KIRO_TEST_REFRESH_PAUSE_MS === 'stop') {
    process.kill(process.pid, 'SIGSTOP');
    return;
  }
  const ms = Number(process.env.KIRO_TEST_REFRESH_PAUSE_MS ?? 30_000);
  await new Promise<void>((resolve) => setTimeout(resolve, Number.isFinite(ms) ? ms : 30_000));
}

/**
 * A refresh forced by an upstream rejection was not made: the stored token is the one refused, and
 * the last forced refresh of the credential is less than `pool.forcedRefreshIntervalMs` old.
 */
export class ForcedRefreshPacedError extends Error {
  constructor(id: number, intervalMs: number) {
    super(`credential ${id}: the upstream refused a token that was force-refreshed less than ${intervalMs} ms ago`);
    this.name = 'ForcedRefreshPacedError';
  }
}

/** Refresh answers that, while the store is degraded, may only mean another replica rotated the token. */
function mayBeRotatedElsewhere(err: RefreshError): boolean {
  return err.kind === 'invalid_grant' || err.kind === 'unauthorized' || err.kind === 'rejected';
}

/** Resolves like `promise`, or rejects with `signal.reason` as soon as `signal` aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortLike): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Hands out access tokens, refreshing them under the store's lock when needed. */
export class AccessTokens {
  private readonly store: CredentialStore;
  private readonly config: GatewayConfig;
  private readonly now: () => number;
  /** One refresh per credential at a time in this process; everyone else awaits it. */
  private readonly refreshing = new Map<number, Promise<string>>();
  private readonly expiryCache = new WeakMap<Credential, { raw: string; at: number }>();
  /** Credentials whose forced-refresh mark is being cleared (one write each). */
  private readonly unpacing = new Set<number>();

  constructor(
    private readonly ctx: PoolContext,
    private readonly refresher: Pick<TokenRefresher, 'refresh'>,
    private readonly health: CredentialHealth,
    private readonly awaiting: AwaitingStore,
  ) {
    this.store = ctx.store;
    this.config = ctx.config;
    this.now = ctx.now;
  }

  /**
   * Token for a credential, refreshing when less than `refreshBeforeExpiryMs` remain (with a
   * degraded store: once expired) or when forced. API-key credentials answer their key.
   *
   * `rejected` is null for a normal lookup, else the token the upstream refused (forced refresh):
   * a stored token that differs from it was refreshed by someone else meanwhile and is reused.
   * A forced refresh is paced (ForcedRefreshPacedError) unless `unpaced` (an operator's refresh).
   * Rejects with CredentialAwaitingStoreError while the credential waits for the store.
   */
  obtain(id: number, rejected: string | undefined | null, signal?: AbortLike, unpaced = false): Promise<string> {
    const record = this.store.get(id);
    if (!record) return Promise.reject(new NotFoundError(`credential ${id} not found`));
    const cred = record.credential;
    if (cred.authMethod === 'api_key') {
      if (!cred.kiroApiKey) return Promise.reject(new RefreshError('invalid_token_format', 'API-key credential has no kiroApiKey'));
      return Promise.resolve(cred.kiroApiKey);
    }
    if (this.awaiting.waiting(record)) return Promise.reject(new CredentialAwaitingStoreError(id));
    const force = rejected !== null;
    const fresh = this.isFresh(cred);
    if (fresh && (!force || cred.accessToken !== rejected)) return Promise.resolve(cred.accessToken!);
    if (fresh && !unpaced && this.paced(cred)) return Promise.reject(new ForcedRefreshPacedError(id, this.config.pool.forcedRefreshIntervalMs));
    let shared = this.refreshing.get(id);
    if (!shared) {
      shared = this.refreshUnderLock(id, force, rejected ?? undefined, unpaced).finally(() => this.refreshing.delete(id));
      this.refreshing.set(id, shared);
    }
    return signal ? raceAbort(shared, signal) : shared;
  }

  /**
   * A request succeeded with the credential's token: a forced refresh that produced it helped, so
   * the next rejection may force one again (pacing is for refreshes that do not help). Writes only
   * when a forced refresh is on record, so the steady state costs nothing.
   */
  noteSuccess(id: number): void {
    if (this.store.get(id)?.credential.forcedRefreshAt === undefined || this.unpacing.has(id)) return;
    this.unpacing.add(id);
    this.store
      .update(id, { forcedRefreshAt: undefined })
      .catch((err: unknown) => this.ctx.log('warn', 'could not store the end of forced-refresh pacing', { credentialId: id, error: describeError(err) }))
      .finally(() => this.unpacing.delete(id));
  }

  /** obtain, telling `onEvent` when the request had to wait for a refresh (for its trace). */
  async observed(
    id: number,
    rejected: string | null,
    signal: AbortLike,
    onEvent: (e: PoolEvent) => void,
  ): Promise<string> {
    const started = this.now();
    const pending = this.obtain(id, rejected, signal);
    if (!this.refreshing.has(id)) return pending;
    try {
      const token = await pending;
      onEvent({ type: 'refresh_wait', credentialId: id, outcome: 'success', durationMs: this.now() - started });
      return token;
    } catch (err) {
      onEvent({ type: 'refresh_wait', credentialId: id, outcome: 'failure', durationMs: this.now() - started });
      throw err;
    }
  }

  private expiresAtMs(cred: Credential): number {
    const raw = cred.expiresAt;
    if (!raw) return NaN;
    const cached = this.expiryCache.get(cred);
    if (cached && cached.raw === raw) return cached.at;
    const at = Date.parse(raw);
    this.expiryCache.set(cred, { raw, at });
    return at;
  }

  /**
   * The token has more than `refreshBeforeExpiryMs` left; with a degraded store, any time left
   * (an early refresh there is what starts replicas racing to rotate the same refresh token).
   */
  private isFresh(cred: Credential): boolean {
    if (!cred.accessToken) return false;
    const at = this.expiresAtMs(cred);
    if (Number.isNaN(at)) return false;
    const left = at - this.now();
    if (left > this.config.pool.refreshBeforeExpiryMs) return true;
    return left > 0 && this.store.health().degraded;
  }

  /** The last forced refresh is too recent for another one. */
  private paced(cred: Credential): boolean {
    const last = cred.forcedRefreshAt;
    return last !== undefined && this.now() - last < this.config.pool.forcedRefreshIntervalMs;
  }

  private async refreshUnderLock(id: number, force: boolean, rejectedToken: string | undefined, unpaced: boolean): Promise<string> {
    const lockRequested = this.now();
    return this.store.withRefreshLock(id, async (fresh, lockSignal, exclusive) => {
      const lockWaitMs = this.now() - lockRequested;
      const cred = fresh.credential;
      if (cred.authMethod === 'api_key' && cred.kiroApiKey) return cred.kiroApiKey;
      // Another holder found the refresh token dead meanwhile: a refresh now would only spend a call.
      if (cred.disabled && cred.disabledReason === 'InvalidRefreshToken') throw new Error(`credential ${id} was disabled (${cred.disabledReason ?? 'unknown'}) while waiting to refresh`);
      // A refresh of this process queued behind one whose refresh token was refused while cut off.
      if (!exclusive && this.awaiting.waiting(fresh)) throw new CredentialAwaitingStoreError(id);
      // Another request or replica may have refreshed while we waited for the lock.
      const valid = this.isFresh(cred);
      if (valid && (!force || cred.accessToken !== rejectedToken)) {
        this.ctx.emit({ type: 'refresh', credentialId: id, outcome: 'skipped', durationMs: 0, lockWaitMs });
        return cred.accessToken!;
      }
      // Re-checked on the record just read: another replica may have forced a refresh meanwhile.
      if (valid && !unpaced && this.paced(cred)) throw new ForcedRefreshPacedError(id, this.config.pool.forcedRefreshIntervalMs);
      if (TEST_REFRESH_PAUSE) await testRefreshPause('before', id);
      // The lock was lost before the call (this process stood still past its TTL): another holder
      // may be refreshing right now.
      if (lockSignal.aborted) throw lockSignal.reason;
      const from: TokenFence = { refreshToken: cred.refreshToken, accessToken: cred.accessToken };
      const started = this.now();
      let result;
      try {
        // Not aborted when the lock is lost: once sent, the call may rotate the refresh token, and its
        // answer is then the only copy of the live one. The fenced write decides whether it is kept.
        result = await this.refresher.refresh(cred);
      } catch (err) {
        const current = await this.replacedDuring(id, err, from, this.now() - started);
        if (current !== undefined) return current;
        throw this.recordRefreshFailure(id, err, this.now() - started, exclusive, from);
      }
      this.awaiting.clear(id);
      const expiresAt = result.expiresAt ?? new Date(this.now() + DEFAULT_TOKEN_LIFETIME_MS).toISOString();
      const patch: Partial<Credential> = { accessToken: result.accessToken, expiresAt, refreshedAt: started };
      // Forced while the token was still valid by its expiry: the refresh the pacing counts.
      if (valid) patch.forcedRefreshAt = started;
      if (result.refreshToken) patch.refreshToken = result.refreshToken;
      if (result.profileArn) patch.profileArn = result.profileArn;
      if (TEST_REFRESH_PAUSE) await testRefreshPause('after-upstream', id);
      try {
        await this.store.update(id, patch, from);
      } catch (err) {
        if (err instanceof TokensReplacedError) return this.lateWrite(err, result.accessToken, this.now() - started, lockWaitMs);
        // The token still works for this process; losing a rotated refresh token is what hurts.
        this.ctx.log('error', 'refreshed token could not be stored', { credentialId: id, error: describeError(err) });
      }
      if (TEST_REFRESH_PAUSE) await testRefreshPause('after-write', id);
      this.store.updateStats(id, () => ({ refreshFailureCount: 0 }));
      this.ctx.emit({ type: 'refresh', credentialId: id, outcome: 'success', durationMs: this.now() - started, lockWaitMs });
      this.ctx.log('debug', 'access token refreshed', { credentialId: id, expiresAt });
      return result.accessToken;
    });
  }

  /**
   * The fenced write was refused: while this refresh ran, another replica stored newer tokens (this
   * one's lock had expired, or it held only a local one). The store kept theirs; this process uses
   * them too, so every replica ends on one token. Ours is used only if theirs is not fresh.
   */
  private lateWrite(replaced: TokensReplacedError, ours: string, durationMs: number, lockWaitMs: number): string {
    const { id, current } = replaced;
    this.ctx.log('warn', 'refreshed tokens not stored: another replica stored newer ones while this refresh ran', {
      credentialId: id,
    });
    this.ctx.emit({ type: 'refresh', credentialId: id, outcome: 'success', durationMs, lockWaitMs });
    return this.isFresh(current.credential) ? current.credential.accessToken! : ours;
  }

  /**
   * A failed refresh whose tokens were replaced in the store while it ran (another replica refreshed
   * after this one's lock expired, or while it held only a local one) says nothing about the
   * credential: the refused refresh token is an old one. Such a late verdict is neither counted nor allowed to disable; the stored
   * access token is returned when it is fresh, else the error is thrown uncounted. Undefined when the
   * tokens are unchanged, so the verdict stands. One store read, on failures only.
   */
  private async replacedDuring(id: number, err: unknown, from: TokenFence, durationMs: number): Promise<string | undefined> {
    if (!(err instanceof RefreshError)) return undefined;
    let current;
    try {
      current = await this.store.readFresh(id);
    } catch {
      return undefined;
    }
    if (!current || !tokensReplaced(current.credential, from)) return undefined;
    this.ctx.emit({ type: 'refresh', credentialId: id, outcome: 'failure', kind: err.kind, durationMs });
    this.ctx.log('warn', 'refresh refused for tokens another replica had already replaced: not counted, the stored tokens are used', {
      credentialId: id,
      kind: err.kind,
      status: err.status,
    });
    this.awaiting.clear(id);
    if (this.isFresh(current.credential)) return current.credential.accessToken!;
    throw err;
  }

  /** Counts a failed refresh (or not) and returns the error to throw; a disable is fenced on `from`. */
  private recordRefreshFailure(id: number, err: unknown, durationMs: number, exclusive: boolean, from: TokenFence): unknown {
    if (!(err instanceof RefreshError)) return err; // aborted or lock lost: says nothing about the credential
    const detail = err.message;
    this.ctx.emit({ type: 'refresh', credentialId: id, outcome: 'failure', kind: err.kind, durationMs });
    if (!exclusive && mayBeRotatedElsewhere(err)) {
      this.ctx.log('warn', 'refresh token refused while Redis is unreachable: another replica probably rotated it; waiting for the store', {
        credentialId: id,
        kind: err.kind,
        status: err.status,
        error: detail,
      });
      this.awaiting.mark(id, from.refreshToken);
      return new CredentialAwaitingStoreError(id, { cause: err });
    }
    this.ctx.log('warn', 'token refresh failed', { credentialId: id, kind: err.kind, status: err.status, error: detail });
    if (err.permanent) {
      this.store.updateStats(id, (s) => ({ failureTotal: s.failureTotal + 1, lastError: detail }));
      this.health.disable(id, 'InvalidRefreshToken', undefined, from);
      return err;
    }
    // No HTTP answer at all is our network's problem, not the credential's: not counted, but other
    // credentials are preferred for a cool-down, so that requests do not each wait on the same
    // unreachable auth host (up to the refresh timeout) while another credential could serve.
    if (err.kind === 'network') {
      this.health.coolDown(id, this.ctx.config.pool.rateLimitCooldownMs, detail);
      return err;
    }
    this.store.updateStats(id, (s) => ({
      refreshFailureCount: s.refreshFailureCount + 1,
      failureTotal: s.failureTotal + 1,
      lastError: detail,
    }));
    const count = this.store.get(id)?.stats.refreshFailureCount ?? 0;
    if (count >= MAX_REFRESH_FAILURES) this.health.disableForRefreshFailures(id, from);
    return err;
  }
}
