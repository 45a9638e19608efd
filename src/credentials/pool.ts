/**
 * The credential failover policy (docs/kiro-protocol.md §9): which credential serves a request,
 * when its token is refreshed, how each upstream answer is classified, and which error the client
 * finally sees. Depends only on the CredentialStore interface and a token refresher.
 *
 * Hot path: with a valid token, picking a credential and getting its token is synchronous work on
 * the store's local copy; counters go through `store.updateStats` (fire-and-forget).
 *
 * This module runs the failover loop; its parts live beside it: `selection.ts` (which credential),
 * `token-refresh.ts` (tokens, refresh under the lock), `outcomes.ts` (classification, final error),
 * `health.ts` (disable, re-enable, self-heal), `leases.ts` (concurrency), `pool-types.ts` (types).
 */
import type { GatewayConfig, LoadBalancingMode } from '../config.js';
import { GatewayError, NotFoundError } from '../errors.js';
import { AwaitingStore, CredentialAwaitingStoreError } from './awaiting-store.js';
import { CredentialHealth } from './health.js';
import { LeaseSlots } from './leases.js';
import { RateLimitCooldowns } from './rate-limit-cooldown.js';
import { CredentialSelector, type PickState } from './selection.js';
import { classifyAttempt, describeError, finalError, requestRejection, type Failure } from './outcomes.js';
import type { AttemptResult, Lease, PoolContext, PoolDeps, PoolEvent, PoolLog } from './pool-types.js';
import type { CredentialStore } from '../store/store.js';
import { AccessTokens, ForcedRefreshPacedError } from './token-refresh.js';
import type { Credential, CredentialRecord } from './types.js';
import type { AbortLike } from '../http/request-abort.js';

export type { AttemptOutcome, AttemptResult, Lease, PoolDeps, PoolEvent, PoolLog } from './pool-types.js';
export { MAX_REFRESH_FAILURES } from './token-refresh.js';

const BACKOFF_BASE_MS = 200;
const BACKOFF_MAX_MS = 2_000;
const BACKOFF_JITTER = 0.25;

const NONE: ReadonlySet<number> = new Set();

/**
 * Per-request bookkeeping of one `execute` call. Most requests make one attempt that succeeds: the
 * sets are made when first needed, and attempts are counted in a short list.
 */
class RequestState implements PickState {
  /** Credentials this request will not try again (auth failure, refresh failure, disabled). */
  excluded: ReadonlySet<number> = NONE;
  /** Credentials already force-refreshed during this request. */
  forced: ReadonlySet<number> = NONE;
  /** Credential ids tried, once per attempt. */
  private readonly tried: number[] = [];
  backoffs = 0;
  pendingBackoff = false;
  healed = false;
  refreshFailures = 0;
  last?: Failure;

  constructor(readonly accepts: ((record: CredentialRecord) => boolean) | undefined) {}

  /** Attempts made so far, on any credential. */
  get attempts(): number {
    return this.tried.length;
  }

  attemptsOn(id: number): number {
    let n = 0;
    for (const tried of this.tried) if (tried === id) n++;
    return n;
  }

  /** Counts an attempt on credential `id`. */
  attempt(id: number): void {
    this.tried.push(id);
  }

  exclude(id: number): void {
    if (this.excluded === NONE) this.excluded = new Set();
    (this.excluded as Set<number>).add(id);
  }

  force(id: number): void {
    if (this.forced === NONE) this.forced = new Set();
    (this.forced as Set<number>).add(id);
  }
}

/** The request's last failure after a token could not be obtained. */
function tokenFailure(err: unknown): Failure {
  if (err instanceof CredentialAwaitingStoreError) return { outcome: 'awaiting_store', detail: err.message };
  return { outcome: 'refresh_failed', detail: describeError(err) };
}

function defaultSleep(ms: number, signal: AbortLike): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Picks credentials for requests and runs upstream attempts with failover.
 *
 * @example
 * const { value, lease } = await pool.execute({ kiroModelId, signal }, (l) =>
 *   client.generate(body, l.credential, l.accessToken, { signal, firstByteTimeoutMs }));
 * try { await stream(value); } finally { lease.release(); }
 */
export class CredentialPool {
  private readonly store: CredentialStore;
  private readonly config: GatewayConfig;
  private readonly now: () => number;
  private readonly log: PoolLog;
  private readonly emit: (e: PoolEvent) => void;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal: AbortLike) => Promise<void>;
  private readonly health: CredentialHealth;
  private readonly tokens: AccessTokens;
  private readonly leases = new LeaseSlots();
  private readonly selector: CredentialSelector;
  private readonly unsubscribe: () => void;
  private readonly cooldowns: RateLimitCooldowns;

  constructor(deps: PoolDeps) {
    this.store = deps.store;
    this.config = deps.config;
    this.now = deps.now ?? Date.now;
    this.log = deps.log ?? (() => {});
    const onEvent = deps.onEvent;
    this.emit = onEvent
      ? (e) => {
          try {
            onEvent(e);
          } catch {
            // metrics must never break a request
          }
        }
      : () => {};
    this.random = deps.random ?? Math.random;
    this.sleep = deps.sleep ?? defaultSleep;
    const ctx: PoolContext = { store: this.store, config: this.config, now: this.now, log: this.log, emit: this.emit };
    this.health = new CredentialHealth(ctx);
    const awaiting = new AwaitingStore(() => this.store.health().degraded, this.now);
    this.tokens = new AccessTokens(ctx, deps.refresher, this.health, awaiting);
    this.selector = new CredentialSelector(this.store, this.config, this.now, this.health, this.leases, awaiting);
    this.unsubscribe = this.store.onChange((id) => this.selector.onStoreChange(id));
    this.cooldowns = new RateLimitCooldowns(
      () => this.config.pool.rateLimitCooldownMs,
      () => this.config.pool.rateLimitCooldownMaxMs,
      this.now,
    );
  }

  /** Current load-balancing mode. */
  get mode(): LoadBalancingMode {
    return this.selector.mode;
  }

  /** Switches the load-balancing mode for this process (the admin API persists and propagates it). */
  setMode(mode: LoadBalancingMode): void {
    this.selector.mode = mode;
  }

  /** Requests in flight on credential `id` in this process. */
  inFlight(id: number): number {
    return this.leases.inFlight(id);
  }

  /** The credential `priority` mode would use next (kiro.rs `currentId`), or null when none is enabled. */
  currentId(): number | null {
    return this.selector.currentId();
  }

  /**
   * Where a QuotaExceeded credential's reset date comes from (epoch ms), e.g. the balance cache.
   * Without one, or when it knows nothing, the 1st of next month (UTC) is used.
   */
  setQuotaResetLookup(lookup: (id: number) => number | undefined): void {
    this.health.setQuotaResetLookup(lookup);
  }

  /** Adds the Kiro credits one request used to credential `id`'s stats (summed over every replica). */
  recordCredits(id: number, credits: number): void {
    this.health.recordCredits(id, credits);
  }

  /** Stops listening to the store. */
  dispose(): void {
    this.unsubscribe();
  }

  /** Runs `attempt` with credentials in policy order until one succeeds. */
  async execute<T>(
    request: {
      kiroModelId: string;
      signal: AbortLike;
      onEvent?: (e: PoolEvent) => void;
      /** Only these credentials can serve the request (they offer its model); replaces the free-tier Opus rule. */
      accepts?: (record: CredentialRecord) => boolean;
      /** Last check with the token in hand (a model list fetched late); false skips the credential without an attempt. */
      admit?: (credential: Credential, token: string) => Promise<boolean>;
    },
    attempt: (lease: Lease) => Promise<AttemptResult<T>>,
  ): Promise<{ value: T; lease: Lease }> {
    const { signal } = request;
    const tokenFor = request.onEvent
      ? (id: number, rejected: string | null) => this.tokens.observed(id, rejected, signal, request.onEvent!)
      : (id: number, rejected: string | null) => this.tokens.obtain(id, rejected, signal);
    signal.throwIfAborted();
    const limits = this.config.pool;
    const opus = !request.accepts && request.kiroModelId.toLowerCase().includes('opus');
    const state = new RequestState(request.accepts);
    let retrySame: number | undefined;

    while (state.attempts < limits.maxAttemptsPerRequest) {
      signal.throwIfAborted();
      let pick = this.selector.pick(opus, state, retrySame);
      retrySame = undefined;
      // Back off after a transient failure, or when only a credential cooling down after a 429 is
      // left; then pick again, as the pool may have changed meanwhile.
      if (pick && (state.pendingBackoff || pick.cooling)) {
        state.pendingBackoff = false;
        await this.sleep(this.backoffDelay(state.backoffs++), signal);
        pick = this.selector.pick(opus, state, undefined);
      }
      if (!pick) {
        if (!state.healed && (await this.health.selfHeal())) {
          state.healed = true;
          continue;
        }
        break;
      }

      const id = pick.record.credential.id;
      const lease = this.leases.acquire(id);
      let token: string;
      try {
        token = await tokenFor(id, null);
      } catch (err) {
        lease.release();
        if (signal.aborted) throw signal.reason;
        state.refreshFailures++;
        state.exclude(id);
        state.last = tokenFailure(err);
        this.emit({ type: 'failover', fromId: id, reason: 'refresh_failed' });
        continue;
      }

      if (request.admit && !(await this.admitted(request.admit, id, token, signal))) {
        lease.release();
        state.exclude(id);
        continue;
      }

      state.attempt(id);
      const credential = this.leaseCredential(id, token);
      lease.bind(credential, token, state.attempts);
      const started = this.now();
      let result: AttemptResult<T>;
      try {
        result = await attempt(lease);
      } catch (err) {
        if (signal.aborted || err instanceof GatewayError) {
          lease.release();
          throw signal.aborted ? signal.reason : err;
        }
        result = { ok: false, networkError: err };
      }
      const durationMs = this.now() - started;

      if (result.ok) {
        this.health.recordSuccess(id);
        this.tokens.noteSuccess(id);
        this.cooldowns.reset(id);
        this.emit({ type: 'attempt', credentialId: id, attempt: state.attempts, outcome: 'success', durationMs });
        return { value: result.value, lease };
      }
      lease.release();
      // The client left: whatever the attempt reports is a consequence, not the credential's fault.
      signal.throwIfAborted();
      const failure = classifyAttempt(result);
      this.emit({ type: 'attempt', credentialId: id, attempt: state.attempts, outcome: failure.outcome, status: failure.status, durationMs });
      this.log('debug', 'upstream attempt failed', { credentialId: id, attempt: state.attempts, outcome: failure.outcome, status: failure.status, detail: failure.detail });
      state.last = failure;

      const rejection = requestRejection(failure);
      if (rejection) throw rejection;

      switch (failure.outcome) {
        case 'quota_exceeded': {
          const until = this.health.quotaResetAt(id);
          this.health.disable(id, 'QuotaExceeded', new Date(until).toISOString());
          state.exclude(id);
          break;
        }
        case 'suspended':
          this.health.disable(id, 'Suspended');
          state.exclude(id);
          break;
        case 'token_invalid':
          if (pick.record.credential.authMethod !== 'api_key' && !state.forced.has(id)) {
            state.force(id);
            try {
              await tokenFor(id, lease.accessToken);
              retrySame = id;
              continue;
            } catch (err) {
              if (signal.aborted) throw signal.reason;
              // Paced: refreshing again cannot help yet; the refusal counts below.
              if (!(err instanceof ForcedRefreshPacedError)) {
                state.refreshFailures++;
                state.last = tokenFailure(err);
                state.exclude(id);
                break;
              }
            }
          }
          state.exclude(id);
          if (this.store.health().degraded) {
            // Cut off from Redis, a refused token may be one another replica's refresh replaced:
            // not evidence against the credential. Retryable elsewhere, never counted.
            state.last = { outcome: 'awaiting_store', status: failure.status, detail: failure.detail };
            break;
          }
          // Refused right after a (forced) refresh: the credential's failure, with a cool-down.
          this.health.recordAuthFailure(id, failure.detail, limits.rateLimitCooldownMs);
          break;
        case 'auth_failure':
          this.health.recordAuthFailure(id, failure.detail);
          state.exclude(id);
          break;
        case 'rate_limited':
          this.health.coolDown(id, this.cooldowns.next(id), failure.detail);
          break;
        default:
          state.pendingBackoff = true;
          break;
      }
      if (state.excluded.has(id) || failure.outcome === 'rate_limited') {
        this.emit({ type: 'failover', fromId: id, reason: failure.outcome });
      }
    }
    throw finalError(state.last, state.attempts, limits.rateLimitCooldownMs, () => this.selector.unusableSummary(opus));
  }

  /**
   * Token for a credential, refreshing (under store.withRefreshLock, re-reading first) when less
   * than `refreshBeforeExpiryMs` remain or when forced. API-key credentials answer their key.
   * `force` refreshes unconditionally (an operator's request); `rejected` is a token the upstream
   * refused, refreshed like the pool does (reused if someone refreshed meanwhile, paced).
   */
  async accessTokenFor(id: number, opts: { force?: boolean; rejected?: string; signal?: AbortSignal } = {}): Promise<string> {
    if (opts.rejected !== undefined) return this.tokens.obtain(id, opts.rejected, opts.signal);
    const current = this.store.get(id)?.credential.accessToken;
    return this.tokens.obtain(id, opts.force ? current : null, opts.signal, true);
  }

  /** Runs the request's admit check; a failing check admits (it must never block traffic). */
  private async admitted(
    admit: (credential: Credential, token: string) => Promise<boolean>,
    id: number,
    token: string,
    signal: AbortLike,
  ): Promise<boolean> {
    try {
      return await admit(this.leaseCredential(id, token), token);
    } catch {
      signal.throwIfAborted();
      return true;
    }
  }

  /** The stored credential, carrying the token the attempt uses even if storing it failed. */
  private leaseCredential(id: number, token: string): Credential {
    const cred = this.store.get(id)?.credential;
    if (!cred) throw new NotFoundError(`credential ${id} not found`);
    if (cred.authMethod === 'api_key' || cred.accessToken === token) return cred;
    return { ...cred, accessToken: token };
  }

  private backoffDelay(n: number): number {
    const base = Math.min(BACKOFF_BASE_MS * 2 ** n, BACKOFF_MAX_MS);
    return Math.round(base * (1 + this.random() * BACKOFF_JITTER));
  }
}
