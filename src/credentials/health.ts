/**
 * Whether a credential may be used, and the changes in that: disabling (quota, suspension, too
 * many failures), lazy re-enabling once a QuotaExceeded credential's reset date passed, and the
 * kiro.rs self-heal when nothing is enabled any more (docs/kiro-protocol.md §9).
 */
import { describeError } from './outcomes.js';
import type { PoolContext } from './pool-types.js';
import type { CredentialRecord, DisabledReason } from './types.js';
import { TokensReplacedError, type TokenFence } from '../store/store.js';

/** Disabled reasons lifted by themselves once `disabledUntil` has passed, with the event's reason. */
const TIMED_REENABLE: Partial<Record<DisabledReason, 'quota_reset' | 'refresh_retry'>> = {
  QuotaExceeded: 'quota_reset',
  TooManyRefreshFailures: 'refresh_retry',
};

function firstOfNextMonthUtc(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** Enables, disables and counts successes and failures of credentials in the store. */
export class CredentialHealth {
  /** Ids whose lazy re-enable was already sent to the store. */
  private readonly reenabling = new Set<number>();
  private quotaResetLookup: (id: number) => number | undefined = () => undefined;

  constructor(private readonly ctx: PoolContext) {}

  /**
   * Where a QuotaExceeded credential's reset date comes from (epoch ms), e.g. the balance cache.
   * Without one, or when it knows nothing, the 1st of next month (UTC) is used.
   */
  setQuotaResetLookup(lookup: (id: number) => number | undefined): void {
    this.quotaResetLookup = lookup;
  }

  /** The store reports credential `id` enabled: a later disable may be lazily re-enabled again. */
  noteEnabled(id: number): void {
    this.reenabling.delete(id);
  }

  /**
   * Enabled, or disabled until a time that has passed (QuotaExceeded past its reset date,
   * TooManyRefreshFailures past its retry time): then re-enabled in the store on the side.
   */
  isEnabled(record: CredentialRecord, now: number): boolean {
    const c = record.credential;
    if (!c.disabled) return true;
    const reason = c.disabledReason && TIMED_REENABLE[c.disabledReason];
    if (!reason || !c.disabledUntil) return false;
    const until = Date.parse(c.disabledUntil);
    if (Number.isNaN(until) || until > now) return false;
    this.reenable(c.id, reason);
    return true;
  }

  /**
   * Disables `id` for failed refreshes until `pool.refreshFailureRetryMs` from now. Those failures
   * are the auth service's 5xx, 429 and refusals short of invalid_grant (which disables for good):
   * an auth outage of a few minutes must not leave every credential disabled until an admin steps
   * in, as kiro.rs does, nor turn client traffic into a refresh call per request while it lasts.
   */
  disableForRefreshFailures(id: number, fence: TokenFence): void {
    this.disable(id, 'TooManyRefreshFailures', new Date(this.ctx.now() + this.ctx.config.pool.refreshFailureRetryMs).toISOString(), fence);
  }

  /** When nothing is enabled, credentials disabled for TooManyFailures come back (kiro.rs self-heal). */
  async selfHeal(): Promise<boolean> {
    const { store, log, emit } = this.ctx;
    const now = this.ctx.now();
    const records = store.list();
    if (records.some((r) => this.isEnabled(r, now))) return false;
    const healable = records.filter((r) => r.credential.disabledReason === 'TooManyFailures');
    if (healable.length === 0) return false;
    log('info', 'no enabled credential left: re-enabling credentials disabled for too many failures', {
      credentialIds: healable.map((r) => r.credential.id),
    });
    await Promise.all(
      healable.map(async (r) => {
        const id = r.credential.id;
        store.updateStats(id, () => ({ failureCount: 0, refreshFailureCount: 0 }));
        try {
          await store.update(id, { disabled: false, disabledReason: undefined, disabledUntil: undefined });
          emit({ type: 'enable', credentialId: id, reason: 'self_heal' });
        } catch (err) {
          log('error', 'could not re-enable credential', { credentialId: id, error: describeError(err) });
        }
      }),
    );
    return true;
  }

  /** Counts a success: failure streaks and any 429 cooldown end. */
  recordSuccess(id: number): void {
    const lastUsedAt = new Date(this.ctx.now()).toISOString();
    this.ctx.store.updateStats(id, (s) => ({
      failureCount: 0,
      refreshFailureCount: 0,
      successCount: s.successCount + 1,
      lastUsedAt,
      ...(s.cooldownUntil !== undefined ? { cooldownUntil: undefined } : {}),
    }));
  }

  /** Adds the Kiro credits one request used (its meteringEvent sum) to the credential's stats. */
  recordCredits(id: number, credits: number): void {
    if (!(credits > 0) || !Number.isFinite(credits)) return;
    this.ctx.store.updateStats(id, (s) => ({ creditsUsed: s.creditsUsed + credits }));
  }

  /** Other credentials are preferred for `ms` (a 429, a refresh that got no answer); nothing is counted. */
  coolDown(id: number, ms: number, detail: string): void {
    const cooldownUntil = this.ctx.now() + ms;
    this.ctx.store.updateStats(id, () => ({ cooldownUntil, lastError: detail }));
  }

  /**
   * Counts an auth failure; `pool.maxFailures` in a row disable the credential (TooManyFailures).
   * With `cooldownMs`, other credentials are preferred for that long meanwhile.
   */
  recordAuthFailure(id: number, detail: string, cooldownMs?: number): void {
    const { store } = this.ctx;
    const cooldown = cooldownMs ? { cooldownUntil: this.ctx.now() + cooldownMs } : {};
    store.updateStats(id, (s) => ({ failureCount: s.failureCount + 1, failureTotal: s.failureTotal + 1, lastError: detail, ...cooldown }));
    const count = store.get(id)?.stats.failureCount ?? 0;
    if (count >= this.ctx.config.pool.maxFailures) this.disable(id, 'TooManyFailures');
  }

  /** When a credential that ran out of monthly quota comes back (epoch ms). */
  quotaResetAt(id: number): number {
    const now = this.ctx.now();
    const known = this.quotaResetLookup(id);
    return known !== undefined && known > now ? known : firstOfNextMonthUtc(now);
  }

  /**
   * Disables in the store without waiting: this request has already moved on. With `fence` (a
   * refresh's verdict) only while the credential still holds the tokens that refresh was made with.
   */
  disable(id: number, reason: DisabledReason, disabledUntil?: string, fence?: TokenFence): void {
    const { store, log } = this.ctx;
    this.reenabling.delete(id);
    this.ctx.emit({ type: 'disable', credentialId: id, reason });
    log('warn', 'credential disabled', { credentialId: id, reason, disabledUntil });
    if (reason === 'QuotaExceeded') store.updateStats(id, () => ({ failureCount: this.ctx.config.pool.maxFailures }));
    store.update(id, { disabled: true, disabledReason: reason, disabledUntil }, fence).catch((err: unknown) => {
      if (err instanceof TokensReplacedError) {
        log('warn', 'credential not disabled: its tokens were replaced by another replica meanwhile', { credentialId: id, reason });
        return;
      }
      log('error', 'could not store disabled credential', { credentialId: id, reason, error: describeError(err) });
    });
  }

  private reenable(id: number, reason: 'quota_reset' | 'refresh_retry'): void {
    if (this.reenabling.has(id)) return;
    this.reenabling.add(id);
    const { store, log } = this.ctx;
    this.ctx.emit({ type: 'enable', credentialId: id, reason });
    log('info', reason === 'quota_reset' ? 'quota reset date passed: credential re-enabled' : 'retry time after failed refreshes passed: credential re-enabled', { credentialId: id });
    store.updateStats(id, () => ({ failureCount: 0, refreshFailureCount: 0 }));
    store.update(id, { disabled: false, disabledReason: undefined, disabledUntil: undefined }).catch((err: unknown) => {
      this.reenabling.delete(id);
      log('error', 'could not re-enable credential', { credentialId: id, error: describeError(err) });
    });
  }
}
