/**
 * The credential failover policy (docs/kiro-protocol.md §9): which credential serves a request,
 * when its token is refreshed, how each upstream answer is classified, and which error the client
 * finally sees. Depends only on the CredentialStore interface and a token refresher.
 *
 * Hot path: with a valid token, picking a credential and getting its token is synchronous work on
 * the store's local copy; counters go through `store.updateStats` (fire-and-forget).
 */
import type { GatewayConfig, LoadBalancingMode } from '../config.js';
import {
  ApiError,
  GatewayError,
  InvalidRequestError,
  NotFoundError,
  OverloadedError,
  RateLimitError,
  RequestTooLargeError,
} from '../errors.js';
import { RefreshError, summarizeErrorBody, type RefreshErrorKind, type TokenRefresher } from './refresh.js';
import type { CredentialStore } from './store.js';
import type { Credential, CredentialRecord, DisabledReason } from './types.js';

/** A credential handed to one upstream attempt. Release it when the response is fully consumed. */
export interface Lease {
  /** The credential as stored, with the access token the attempt must use. */
  readonly credential: Credential;
  /** Bearer for the attempt (the API key for API-key credentials). */
  readonly accessToken: string;
  /** 1-based attempt number within the request. */
  readonly attempt: number;
  /** Frees the credential's concurrency slot. Idempotent. */
  release(): void;
}

/** What one upstream attempt produced, in the shape the pool classifies (§9.2). */
export type AttemptResult<T> =
  | { ok: true; value: T }
  | { ok: false; status: number; body: string }
  | { ok: false; networkError: unknown };

/** How an attempt ended, for metrics and logs. */
export type AttemptOutcome =
  | 'success'
  | 'bad_request'
  | 'context_too_long'
  | 'quota_exceeded'
  | 'suspended'
  | 'token_invalid'
  | 'auth_failure'
  | 'rate_limited'
  | 'transient'
  | 'network'
  | 'rejected';

/** Observations for metrics. Never carries secrets. */
export type PoolEvent =
  | { type: 'attempt'; credentialId: number; attempt: number; outcome: AttemptOutcome; status?: number; durationMs: number }
  | { type: 'failover'; fromId: number; reason: AttemptOutcome | 'refresh_failed' }
  /** A refresh under the lock; `skipped` = another holder had refreshed while we waited. */
  | {
      type: 'refresh';
      credentialId: number;
      outcome: 'success' | 'failure' | 'skipped';
      kind?: RefreshErrorKind;
      durationMs: number;
      lockWaitMs?: number;
    }
  /** Request-scoped (execute's `onEvent` only): this request waited for a token refresh. */
  | { type: 'refresh_wait'; credentialId: number; outcome: 'success' | 'failure'; durationMs: number }
  | { type: 'disable'; credentialId: number; reason: DisabledReason }
  | { type: 'enable'; credentialId: number; reason: 'self_heal' | 'quota_reset' };

/** Structured log sink (pino-compatible levels); fields never hold tokens. */
export type PoolLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** What the pool is built from. `random` and `sleep` exist for deterministic tests. */
export interface PoolDeps {
  store: CredentialStore;
  refresher: Pick<TokenRefresher, 'refresh'>;
  config: GatewayConfig;
  now?: () => number;
  log?: PoolLog;
  onEvent?: (e: PoolEvent) => void;
  /** Jitter source, 0 ≤ x < 1. */
  random?: () => number;
  /** Waits `ms`, rejecting with `signal.reason` when it aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const BEARER_INVALID = 'The bearer token included in the request is invalid';
const SUSPENDED = 'temporarily is suspended';
const MONTHLY_QUOTA = 'MONTHLY_REQUEST_COUNT';
const CONTEXT_TOO_LONG = ['CONTENT_LENGTH_EXCEEDS_THRESHOLD', 'Input is too long'];
/** kiro.rs disables a credential after this many consecutive refresh failures (§2.4). */
export const MAX_REFRESH_FAILURES = 3;
const BACKOFF_BASE_MS = 200;
const BACKOFF_MAX_MS = 2_000;
const BACKOFF_JITTER = 0.25;
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

interface Failure {
  outcome: AttemptOutcome | 'refresh_failed';
  status?: number;
  /** Secret-free summary of the upstream answer or error. */
  detail: string;
}

/** A classified failed attempt. */
interface AttemptFailure extends Failure {
  outcome: Exclude<AttemptOutcome, 'success'>;
}

/** Per-request bookkeeping of one `execute` call. */
interface RequestState {
  attempts: number;
  perCredential: Map<number, number>;
  /** Credentials this request will not try again (auth failure, refresh failure, disabled). */
  excluded: Set<number>;
  /** Credentials already force-refreshed during this request. */
  forced: Set<number>;
  backoffs: number;
  pendingBackoff: boolean;
  healed: boolean;
  refreshFailures: number;
  last?: Failure;
}

interface Selection {
  record: CredentialRecord;
  /** Only a credential cooling down after a 429 was left. */
  cooling: boolean;
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
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

function isFreeTier(cred: Credential): boolean {
  return cred.subscriptionTitle?.toUpperCase().includes('FREE') ?? false;
}

function firstOfNextMonthUtc(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

function describeError(err: unknown): string {
  if (err instanceof RefreshError) return err.message;
  const e = err as { code?: string; message?: string };
  return e?.code ?? e?.message ?? String(err);
}

/**
 * Picks credentials for requests and runs upstream attempts with failover.
 *
 * @example
 * const { value, lease } = await pool.execute({ kiroModelId, signal }, (l) =>
 *   client.generate(body, l.credential, l.accessToken, signal));
 * try { await stream(value); } finally { lease.release(); }
 */
export class CredentialPool {
  private readonly store: CredentialStore;
  private readonly refresher: Pick<TokenRefresher, 'refresh'>;
  private readonly config: GatewayConfig;
  private readonly now: () => number;
  private readonly log: PoolLog;
  private readonly emit: (e: PoolEvent) => void;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private currentMode: LoadBalancingMode;
  /** Sticky credential of `priority` mode (kiro.rs `current_id`). */
  private current: number | undefined;
  private readonly priorities = new Map<number, number>();
  private readonly slots = new Map<number, number>();
  /** One refresh per credential at a time in this process; everyone else awaits it. */
  private readonly refreshing = new Map<number, Promise<string>>();
  /** Ids whose lazy re-enable was already sent to the store. */
  private readonly reenabling = new Set<number>();
  private readonly expiryCache = new WeakMap<Credential, { raw: string; at: number }>();
  private quotaResetLookup: (id: number) => number | undefined = () => undefined;
  private readonly unsubscribe: () => void;

  constructor(deps: PoolDeps) {
    this.store = deps.store;
    this.refresher = deps.refresher;
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
    this.currentMode = deps.config.loadBalancingMode;
    for (const r of this.store.list()) this.priorities.set(r.credential.id, r.credential.priority);
    this.unsubscribe = this.store.onChange((id) => this.onStoreChange(id));
  }

  /** Current load-balancing mode. */
  get mode(): LoadBalancingMode {
    return this.currentMode;
  }

  /** Switches the load-balancing mode for this process (the admin API persists and propagates it). */
  setMode(mode: LoadBalancingMode): void {
    this.currentMode = mode;
  }

  /** Requests in flight on credential `id` in this process. */
  inFlight(id: number): number {
    return this.slots.get(id) ?? 0;
  }

  /** The credential `priority` mode would use next (kiro.rs `currentId`), or null when none is enabled. */
  currentId(): number | null {
    const now = this.now();
    if (this.current !== undefined) {
      const rec = this.store.get(this.current);
      if (rec && this.isEnabled(rec, now)) return this.current;
    }
    return this.store.list().find((r) => this.isEnabled(r, now))?.credential.id ?? null;
  }

  /**
   * Where a QuotaExceeded credential's reset date comes from (epoch ms), e.g. the balance cache.
   * Without one, or when it knows nothing, the 1st of next month (UTC) is used.
   */
  setQuotaResetLookup(lookup: (id: number) => number | undefined): void {
    this.quotaResetLookup = lookup;
  }

  /** Stops listening to the store. */
  dispose(): void {
    this.unsubscribe();
  }

  /** Runs `attempt` with credentials in policy order until one succeeds. */
  async execute<T>(
    request: { kiroModelId: string; signal: AbortSignal; onEvent?: (e: PoolEvent) => void },
    attempt: (lease: Lease) => Promise<AttemptResult<T>>,
  ): Promise<{ value: T; lease: Lease }> {
    const { signal } = request;
    const tokenFor = request.onEvent
      ? (id: number, rejected: string | null) => this.observedToken(id, rejected, signal, request.onEvent!)
      : (id: number, rejected: string | null) => this.obtainToken(id, rejected, signal);
    signal.throwIfAborted();
    const limits = this.config.pool;
    const opus = request.kiroModelId.toLowerCase().includes('opus');
    const state: RequestState = {
      attempts: 0,
      perCredential: new Map(),
      excluded: new Set(),
      forced: new Set(),
      backoffs: 0,
      pendingBackoff: false,
      healed: false,
      refreshFailures: 0,
    };
    let retrySame: number | undefined;

    while (state.attempts < limits.maxAttemptsPerRequest) {
      signal.throwIfAborted();
      let pick = this.pick(opus, state, retrySame);
      retrySame = undefined;
      // Back off after a transient failure, or when only a credential cooling down after a 429 is
      // left; then pick again, as the pool may have changed meanwhile.
      if (pick && (state.pendingBackoff || pick.cooling)) {
        state.pendingBackoff = false;
        await this.sleep(this.backoffDelay(state.backoffs++), signal);
        pick = this.pick(opus, state, undefined);
      }
      if (!pick) {
        if (!state.healed && (await this.selfHeal())) {
          state.healed = true;
          continue;
        }
        break;
      }

      const id = pick.record.credential.id;
      const lease = this.acquire(id);
      let token: string;
      try {
        token = await tokenFor(id, null);
      } catch (err) {
        lease.release();
        if (signal.aborted) throw signal.reason;
        state.refreshFailures++;
        state.excluded.add(id);
        state.last = { outcome: 'refresh_failed', detail: describeError(err) };
        this.emit({ type: 'failover', fromId: id, reason: 'refresh_failed' });
        continue;
      }

      state.attempts++;
      state.perCredential.set(id, (state.perCredential.get(id) ?? 0) + 1);
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
        this.recordSuccess(id);
        this.emit({ type: 'attempt', credentialId: id, attempt: state.attempts, outcome: 'success', durationMs });
        return { value: result.value, lease };
      }
      lease.release();
      // The client left: whatever the attempt reports is a consequence, not the credential's fault.
      signal.throwIfAborted();
      const failure = this.classify(result);
      this.emit({ type: 'attempt', credentialId: id, attempt: state.attempts, outcome: failure.outcome, status: failure.status, durationMs });
      this.log('debug', 'upstream attempt failed', { credentialId: id, attempt: state.attempts, outcome: failure.outcome, status: failure.status, detail: failure.detail });
      state.last = failure;

      switch (failure.outcome) {
        case 'context_too_long':
          throw new InvalidRequestError(
            `prompt is too long: the conversation exceeds the model's context window (upstream: ${failure.detail})`,
          );
        case 'bad_request':
          throw new InvalidRequestError(failure.detail || 'upstream rejected the request as malformed');
        case 'rejected':
          if (failure.status === 413) throw new RequestTooLargeError(`upstream rejected the request as too large: ${failure.detail}`);
          throw new ApiError(`upstream rejected the request with HTTP ${failure.status}: ${failure.detail}`, { status: 502 });
        case 'quota_exceeded': {
          const until = this.quotaResetAt(id);
          this.disable(id, 'QuotaExceeded', new Date(until).toISOString());
          state.excluded.add(id);
          break;
        }
        case 'suspended':
          this.disable(id, 'Suspended');
          state.excluded.add(id);
          break;
        case 'token_invalid':
          if (pick.record.credential.authMethod !== 'api_key' && !state.forced.has(id)) {
            state.forced.add(id);
            try {
              await tokenFor(id, lease.accessToken);
              retrySame = id;
              continue;
            } catch (err) {
              if (signal.aborted) throw signal.reason;
              state.refreshFailures++;
              state.last = { outcome: 'refresh_failed', detail: describeError(err) };
              state.excluded.add(id);
              break;
            }
          }
          this.recordAuthFailure(id, failure.detail);
          state.excluded.add(id);
          break;
        case 'auth_failure':
          this.recordAuthFailure(id, failure.detail);
          state.excluded.add(id);
          break;
        case 'rate_limited':
          this.store.updateStats(id, () => ({ cooldownUntil: this.now() + limits.rateLimitCooldownMs, lastError: failure.detail }));
          break;
        default:
          state.pendingBackoff = true;
          break;
      }
      if (state.excluded.has(id) || failure.outcome === 'rate_limited') {
        this.emit({ type: 'failover', fromId: id, reason: failure.outcome });
      }
    }
    throw this.finalError(state, opus);
  }

  /**
   * Token for a credential, refreshing (under store.withRefreshLock, re-reading first) when less
   * than `refreshBeforeExpiryMs` remain or when forced. API-key credentials answer their key.
   */
  async accessTokenFor(id: number, opts: { force?: boolean; signal?: AbortSignal } = {}): Promise<string> {
    const current = this.store.get(id)?.credential.accessToken;
    return this.obtainToken(id, opts.force ? current : null, opts.signal);
  }

  /**
   * `rejected` is null for a normal lookup, else the token the upstream refused (forced refresh):
   * a stored token that differs from it was refreshed by someone else meanwhile and is reused.
   */
  /** obtainToken, telling `onEvent` when the request had to wait for a refresh (for its trace). */
  private async observedToken(
    id: number,
    rejected: string | null,
    signal: AbortSignal,
    onEvent: (e: PoolEvent) => void,
  ): Promise<string> {
    const started = this.now();
    const pending = this.obtainToken(id, rejected, signal);
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

  private obtainToken(id: number, rejected: string | undefined | null, signal?: AbortSignal): Promise<string> {
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

  // --- selection -------------------------------------------------------------------------------

  /** Enabled, or QuotaExceeded past its reset date (then re-enabled in the store on the side). */
  private isEnabled(record: CredentialRecord, now: number): boolean {
    const c = record.credential;
    if (!c.disabled) return true;
    if (c.disabledReason !== 'QuotaExceeded' || !c.disabledUntil) return false;
    const until = Date.parse(c.disabledUntil);
    if (Number.isNaN(until) || until > now) return false;
    this.reenable(c.id, 'quota_reset');
    return true;
  }

  private pick(opus: boolean, state: RequestState, retrySame: number | undefined): Selection | undefined {
    const now = this.now();
    const limits = this.config.pool;
    const cap = limits.maxConcurrencyPerCredential;
    const eligible = (r: CredentialRecord): boolean => {
      const id = r.credential.id;
      return (
        !state.excluded.has(id) &&
        (state.perCredential.get(id) ?? 0) < limits.maxAttemptsPerCredential &&
        this.isEnabled(r, now) &&
        !(opus && isFreeTier(r.credential)) &&
        !(cap > 0 && this.inFlight(id) >= cap)
      );
    };
    const ready = (r: CredentialRecord): boolean => !(r.stats.cooldownUntil !== undefined && r.stats.cooldownUntil > now);

    if (retrySame !== undefined) {
      const r = this.store.get(retrySame);
      if (r && eligible(r)) return { record: r, cooling: false };
    }

    const records = this.store.list();
    let best: CredentialRecord | undefined;
    let coolest: CredentialRecord | undefined;
    if (this.currentMode === 'priority') {
      const current = this.current === undefined ? undefined : this.store.get(this.current);
      if (current && eligible(current) && ready(current)) return { record: current, cooling: false };
      for (const r of records) {
        if (!eligible(r)) continue;
        if (ready(r)) {
          best = r;
          break;
        }
        if (!coolest || r.stats.cooldownUntil! < coolest.stats.cooldownUntil!) coolest = r;
      }
      // Stick to the current credential while it is enabled; move on only when it is not.
      if (best && (!current || !this.isEnabled(current, now))) this.current = best.credential.id;
    } else {
      let bestLoad = Infinity;
      for (const r of records) {
        if (!eligible(r)) continue;
        if (!ready(r)) {
          if (!coolest || r.stats.cooldownUntil! < coolest.stats.cooldownUntil!) coolest = r;
          continue;
        }
        // Local in-flight requests count as use, so a burst spreads before any of it succeeds.
        const load = r.stats.successCount + this.inFlight(r.credential.id);
        if (load < bestLoad) {
          best = r;
          bestLoad = load;
        }
      }
    }
    if (best) return { record: best, cooling: false };
    return coolest ? { record: coolest, cooling: true } : undefined;
  }

  /** When nothing is enabled, credentials disabled for TooManyFailures come back (kiro.rs self-heal). */
  private async selfHeal(): Promise<boolean> {
    const now = this.now();
    const records = this.store.list();
    if (records.some((r) => this.isEnabled(r, now))) return false;
    const healable = records.filter((r) => r.credential.disabledReason === 'TooManyFailures');
    if (healable.length === 0) return false;
    this.log('info', 'no enabled credential left: re-enabling credentials disabled for too many failures', {
      credentialIds: healable.map((r) => r.credential.id),
    });
    await Promise.all(
      healable.map(async (r) => {
        const id = r.credential.id;
        this.store.updateStats(id, () => ({ failureCount: 0, refreshFailureCount: 0 }));
        try {
          await this.store.update(id, { disabled: false, disabledReason: undefined, disabledUntil: undefined });
          this.emit({ type: 'enable', credentialId: id, reason: 'self_heal' });
        } catch (err) {
          this.log('error', 'could not re-enable credential', { credentialId: id, error: describeError(err) });
        }
      }),
    );
    return true;
  }

  private onStoreChange(id: number | null): void {
    // kiro.rs re-selects the current credential when priorities change (admin API).
    const records = id === null ? this.store.list() : [this.store.get(id)].filter((r): r is CredentialRecord => r !== undefined);
    if (id !== null && records.length === 0) this.priorities.delete(id);
    let changed = id === null;
    for (const r of records) {
      if (this.priorities.get(r.credential.id) !== r.credential.priority) changed = true;
      this.priorities.set(r.credential.id, r.credential.priority);
      if (!r.credential.disabled) this.reenabling.delete(r.credential.id);
    }
    if (changed || (id !== null && id === this.current && records.length === 0)) this.current = undefined;
  }

  // --- leases ----------------------------------------------------------------------------------

  private acquire(id: number): PoolLease {
    this.slots.set(id, this.inFlight(id) + 1);
    return new PoolLease(() => {
      const n = this.inFlight(id) - 1;
      if (n > 0) this.slots.set(id, n);
      else this.slots.delete(id);
    });
  }

  /** The stored credential, carrying the token the attempt uses even if storing it failed. */
  private leaseCredential(id: number, token: string): Credential {
    const cred = this.store.get(id)?.credential;
    if (!cred) throw new NotFoundError(`credential ${id} not found`);
    if (cred.authMethod === 'api_key' || cred.accessToken === token) return cred;
    return { ...cred, accessToken: token };
  }

  // --- tokens ----------------------------------------------------------------------------------

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
        this.emit({ type: 'refresh', credentialId: id, outcome: 'skipped', durationMs: 0, lockWaitMs });
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
        this.log('error', 'refreshed token could not be stored', { credentialId: id, error: describeError(err) });
      }
      if (TEST_REFRESH_PAUSE) await testRefreshPause('after-write', id);
      this.store.updateStats(id, () => ({ refreshFailureCount: 0 }));
      this.emit({ type: 'refresh', credentialId: id, outcome: 'success', durationMs: this.now() - started, lockWaitMs });
      this.log('debug', 'access token refreshed', { credentialId: id, expiresAt });
      return result.accessToken;
    });
  }

  private recordRefreshFailure(id: number, err: unknown, durationMs: number): void {
    if (!(err instanceof RefreshError)) return; // aborted or lock lost: says nothing about the credential
    const detail = err.message;
    this.emit({ type: 'refresh', credentialId: id, outcome: 'failure', kind: err.kind, durationMs });
    this.log('warn', 'token refresh failed', { credentialId: id, kind: err.kind, status: err.status, error: detail });
    if (err.permanent) {
      this.store.updateStats(id, (s) => ({ failureTotal: s.failureTotal + 1, lastError: detail }));
      this.disable(id, 'InvalidRefreshToken');
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
    if (count >= MAX_REFRESH_FAILURES) this.disable(id, 'TooManyRefreshFailures');
  }

  // --- outcomes --------------------------------------------------------------------------------

  private classify(result: Exclude<AttemptResult<unknown>, { ok: true }>): AttemptFailure {
    if ('networkError' in result) return { outcome: 'network', detail: describeError(result.networkError) };
    const { status, body } = result;
    const marker = CONTEXT_TOO_LONG.find((m) => body.includes(m));
    if (marker) return { outcome: 'context_too_long', status, detail: marker };
    const detail = summarizeErrorBody(body);
    if (status === 400) return { outcome: 'bad_request', status, detail };
    if (status === 402 && body.includes(MONTHLY_QUOTA)) return { outcome: 'quota_exceeded', status, detail };
    if (status === 401 || status === 403) {
      if (body.toLowerCase().includes(SUSPENDED)) return { outcome: 'suspended', status, detail };
      if (body.includes(BEARER_INVALID)) return { outcome: 'token_invalid', status, detail };
      return { outcome: 'auth_failure', status, detail };
    }
    if (status === 429) return { outcome: 'rate_limited', status, detail };
    if (status === 408 || status >= 500 || status < 400) return { outcome: 'transient', status, detail };
    return { outcome: 'rejected', status, detail };
  }

  private recordSuccess(id: number): void {
    const lastUsedAt = new Date(this.now()).toISOString();
    this.store.updateStats(id, (s) => ({
      failureCount: 0,
      refreshFailureCount: 0,
      successCount: s.successCount + 1,
      lastUsedAt,
      ...(s.cooldownUntil !== undefined ? { cooldownUntil: undefined } : {}),
    }));
  }

  private recordAuthFailure(id: number, detail: string): void {
    this.store.updateStats(id, (s) => ({ failureCount: s.failureCount + 1, failureTotal: s.failureTotal + 1, lastError: detail }));
    const count = this.store.get(id)?.stats.failureCount ?? 0;
    if (count >= this.config.pool.maxFailures) this.disable(id, 'TooManyFailures');
  }

  private quotaResetAt(id: number): number {
    const now = this.now();
    const known = this.quotaResetLookup(id);
    return known !== undefined && known > now ? known : firstOfNextMonthUtc(now);
  }

  /** Disables in the store without waiting: this request has already moved on. */
  private disable(id: number, reason: DisabledReason, disabledUntil?: string): void {
    this.reenabling.delete(id);
    this.emit({ type: 'disable', credentialId: id, reason });
    this.log('warn', 'credential disabled', { credentialId: id, reason, disabledUntil });
    if (reason === 'QuotaExceeded') this.store.updateStats(id, () => ({ failureCount: this.config.pool.maxFailures }));
    this.store.update(id, { disabled: true, disabledReason: reason, disabledUntil }).catch((err: unknown) => {
      this.log('error', 'could not store disabled credential', { credentialId: id, reason, error: describeError(err) });
    });
  }

  private reenable(id: number, reason: 'quota_reset'): void {
    if (this.reenabling.has(id)) return;
    this.reenabling.add(id);
    this.emit({ type: 'enable', credentialId: id, reason });
    this.log('info', 'quota reset date passed: credential re-enabled', { credentialId: id });
    this.store.updateStats(id, () => ({ failureCount: 0, refreshFailureCount: 0 }));
    this.store.update(id, { disabled: false, disabledReason: undefined, disabledUntil: undefined }).catch((err: unknown) => {
      this.reenabling.delete(id);
      this.log('error', 'could not re-enable credential', { credentialId: id, error: describeError(err) });
    });
  }

  private backoffDelay(n: number): number {
    const base = Math.min(BACKOFF_BASE_MS * 2 ** n, BACKOFF_MAX_MS);
    return Math.round(base * (1 + this.random() * BACKOFF_JITTER));
  }

  private finalError(state: RequestState, opus: boolean): GatewayError {
    const last = state.last;
    if (!last) return new OverloadedError(`no usable credential: ${this.unusableSummary(opus)}`);
    const tried = `after ${state.attempts} attempt${state.attempts === 1 ? '' : 's'}`;
    switch (last.outcome) {
      case 'rate_limited':
        return new RateLimitError(
          `upstream rate limit: every usable credential answered 429 (${tried})`,
          Math.max(1, Math.ceil(this.config.pool.rateLimitCooldownMs / 1000)),
        );
      case 'transient':
      case 'network':
        return new ApiError(`upstream unavailable ${tried}: ${last.status ? `HTTP ${last.status}` : 'network error'}${last.detail ? ` (${last.detail})` : ''}`, {
          status: 502,
        });
      case 'refresh_failed':
        return new ApiError(`no credential could be used: token refresh failed (${last.detail})`, { status: 502 });
      default:
        return new ApiError(`no credential could serve the request ${tried}: last failure ${last.outcome}${last.status ? ` (HTTP ${last.status})` : ''}`, {
          status: 502,
        });
    }
  }

  /** Why nothing could be picked, as counts; never names secrets. */
  private unusableSummary(opus: boolean): string {
    const records = this.store.list();
    if (records.length === 0) return 'no credentials configured';
    const now = this.now();
    const disabled = new Map<string, number>();
    let freeTier = 0;
    let atCap = 0;
    const cap = this.config.pool.maxConcurrencyPerCredential;
    for (const r of records) {
      if (!this.isEnabled(r, now)) {
        const reason = r.credential.disabledReason ?? 'Manual';
        disabled.set(reason, (disabled.get(reason) ?? 0) + 1);
      } else if (opus && isFreeTier(r.credential)) freeTier++;
      else if (cap > 0 && this.inFlight(r.credential.id) >= cap) atCap++;
    }
    const parts = [`${records.length} configured`];
    if (disabled.size > 0) {
      const total = [...disabled.values()].reduce((a, b) => a + b, 0);
      parts.push(`${total} disabled (${[...disabled].map(([k, v]) => `${k}: ${v}`).join(', ')})`);
    }
    if (freeTier > 0) parts.push(`${freeTier} free-tier (no Opus models)`);
    if (atCap > 0) parts.push(`${atCap} at the concurrency limit of ${cap}`);
    return parts.join('; ');
  }
}

/** A lease whose credential and token are bound once the token is known. */
class PoolLease implements Lease {
  credential!: Credential;
  accessToken = '';
  attempt = 0;
  private released = false;

  constructor(private readonly onRelease: () => void) {}

  bind(credential: Credential, accessToken: string, attempt: number): void {
    this.credential = credential;
    this.accessToken = accessToken;
    this.attempt = attempt;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease();
  }
}
