/**
 * Access tokens for the pool's attempts: the stored token while it is fresh, else one refresh per
 * credential at a time in this process, done under the store's refresh lock after re-reading the
 * credential (another replica may have refreshed meanwhile). Refresh failures count toward
 * disabling the credential (kiro.rs, docs/kiro-protocol.md §2.4).
 */
import { NotFoundError } from '../errors.js';
import type { CredentialHealth } from './health.js';
import { describeError } from './outcomes.js';
import type { PoolContext, PoolEvent } from './pool-types.js';
import { RefreshError, type TokenRefresher } from './refresh.js';
import type { CredentialStore } from './store.js';
import type { Credential } from './types.js';
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
 * (default 30000) before carrying on. Read once at load; unset (always, outside tests) it costs one
 * `undefined` check per refresh.
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
  process.stderr.write(`KIRO_TEST_REFRESH_PAUSE ${point} credential=${id}\n`);
  const ms = Number(process.env.KIRO_TEST_REFRESH_PAUSE_MS ?? 30_000);
  await new Promise<void>((resolve) => setTimeout(resolve, Number.isFinite(ms) ? ms : 30_000));
}

/** Resolves like `promise`, or rejects with `signal.reason` as soon as `signal` aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
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

  constructor(
    private readonly ctx: PoolContext,
    private readonly refresher: Pick<TokenRefresher, 'refresh'>,
    private readonly health: CredentialHealth,
  ) {
    this.store = ctx.store;
    this.config = ctx.config;
    this.now = ctx.now;
  }

  /**
   * Token for a credential, refreshing when less than `refreshBeforeExpiryMs` remain or when
   * forced. API-key credentials answer their key.
   *
   * `rejected` is null for a normal lookup, else the token the upstream refused (forced refresh):
   * a stored token that differs from it was refreshed by someone else meanwhile and is reused.
   */
  obtain(id: number, rejected: string | undefined | null, signal?: AbortSignal): Promise<string> {
    const record = this.store.get(id);
    if (!record) return Promise.reject(new NotFoundError(`credential ${id} not found`));
    const cred = record.credential;
    if (cred.authMethod === 'api_key') {
      if (!cred.kiroApiKey) return Promise.reject(new RefreshError('invalid_token_format', 'API-key credential has no kiroApiKey'));
      return Promise.resolve(cred.kiroApiKey);
    }
    const force = rejected !== null;
    if (this.isFresh(cred) && (!force || cred.accessToken !== rejected)) return Promise.resolve(cred.accessToken!);
    let shared = this.refreshing.get(id);
    if (!shared) {
      shared = this.refreshUnderLock(id, force, rejected ?? undefined).finally(() => this.refreshing.delete(id));
      this.refreshing.set(id, shared);
    }
    return signal ? raceAbort(shared, signal) : shared;
  }

  /** obtain, telling `onEvent` when the request had to wait for a refresh (for its trace). */
  async observed(
    id: number,
    rejected: string | null,
    signal: AbortSignal,
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

  private isFresh(cred: Credential): boolean {
    if (!cred.accessToken) return false;
    const at = this.expiresAtMs(cred);
    return !Number.isNaN(at) && at - this.now() > this.config.pool.refreshBeforeExpiryMs;
  }

  private async refreshUnderLock(id: number, force: boolean, rejectedToken: string | undefined): Promise<string> {
    const lockRequested = this.now();
    return this.store.withRefreshLock(id, async (fresh, lockSignal) => {
      const lockWaitMs = this.now() - lockRequested;
      const cred = fresh.credential;
      if (cred.authMethod === 'api_key' && cred.kiroApiKey) return cred.kiroApiKey;
      // Another holder found the refresh token dead meanwhile: a refresh now would only spend a call.
      if (cred.disabled && cred.disabledReason === 'InvalidRefreshToken') throw new Error(`credential ${id} was disabled (${cred.disabledReason ?? 'unknown'}) while waiting to refresh`);
      // Another request or replica may have refreshed while we waited for the lock.
      if (this.isFresh(cred) && (!force || cred.accessToken !== rejectedToken)) {
        this.ctx.emit({ type: 'refresh', credentialId: id, outcome: 'skipped', durationMs: 0, lockWaitMs });
        return cred.accessToken!;
      }
      if (TEST_REFRESH_PAUSE) await testRefreshPause('before', id);
      const started = this.now();
      let result;
      try {
        result = await this.refresher.refresh(cred, lockSignal);
      } catch (err) {
        this.recordRefreshFailure(id, err, this.now() - started);
        throw err;
      }
      const expiresAt = result.expiresAt ?? new Date(this.now() + DEFAULT_TOKEN_LIFETIME_MS).toISOString();
      const patch: Partial<Credential> = { accessToken: result.accessToken, expiresAt };
      if (result.refreshToken) patch.refreshToken = result.refreshToken;
      if (result.profileArn) patch.profileArn = result.profileArn;
      if (TEST_REFRESH_PAUSE) await testRefreshPause('after-upstream', id);
      try {
        await this.store.update(id, patch);
      } catch (err) {
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

  private recordRefreshFailure(id: number, err: unknown, durationMs: number): void {
    if (!(err instanceof RefreshError)) return; // aborted or lock lost: says nothing about the credential
    const detail = err.message;
    this.ctx.emit({ type: 'refresh', credentialId: id, outcome: 'failure', kind: err.kind, durationMs });
    this.ctx.log('warn', 'token refresh failed', { credentialId: id, kind: err.kind, status: err.status, error: detail });
    if (err.permanent) {
      this.store.updateStats(id, (s) => ({ failureTotal: s.failureTotal + 1, lastError: detail }));
      this.health.disable(id, 'InvalidRefreshToken');
      return;
    }
    // No HTTP answer at all is our network's problem, not the credential's.
    if (err.kind === 'network') {
      this.store.updateStats(id, () => ({ lastError: detail }));
      return;
    }
    this.store.updateStats(id, (s) => ({
      refreshFailureCount: s.refreshFailureCount + 1,
      failureTotal: s.failureTotal + 1,
      lastError: detail,
    }));
    const count = this.store.get(id)?.stats.refreshFailureCount ?? 0;
    if (count >= MAX_REFRESH_FAILURES) this.health.disable(id, 'TooManyRefreshFailures');
  }
}
