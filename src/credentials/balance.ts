/**
 * Credential balances from getUsageLimits (docs/kiro-protocol.md §1.3, §10 BalanceResponse),
 * cached per credential. Also the source of two things the pool needs: the subscription title
 * (free tiers cannot use Opus) and the quota reset date of a QuotaExceeded credential.
 */
import { randomUUID } from 'node:crypto';
import { apiRegionFor } from '../kiro/client.js';
import { request, type Dispatcher } from '../http/undici.js';
import { withRegion, type GatewayConfig } from '../config.js';
import { ApiError, GatewayError, NotFoundError } from '../errors.js';
import type { CredentialPool } from './pool.js';
import { refreshErrorToGatewayError, summarizeErrorBody, UpstreamDispatchers } from './refresh.js';
import type { CredentialStore } from '../store/store.js';
import { ForcedRefreshPacedError } from './token-refresh.js';
import type { Credential } from './types.js';
import type { Balance } from '../admin/wire-types.js';

/** The part of the getUsageLimits answer that is read (all optional). */
export interface UsageLimitsResponse {
  nextDateReset?: number;
  subscriptionInfo?: { subscriptionTitle?: string };
  usageBreakdownList?: Array<{
    currentUsage?: number;
    currentUsageWithPrecision?: number;
    usageLimit?: number;
    usageLimitWithPrecision?: number;
    nextDateReset?: number;
    freeTrialInfo?: {
      currentUsage?: number;
      currentUsageWithPrecision?: number;
      usageLimit?: number;
      usageLimitWithPrecision?: number;
      freeTrialStatus?: string;
    };
    bonuses?: Array<{ currentUsage?: number; usageLimit?: number; status?: string }>;
  }>;
}

const USAGE_SDK_VERSION = '1.0.0';
const BALANCE_TIMEOUT_MS = 30_000;
const BEARER_INVALID = 'The bearer token included in the request is invalid';

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function precise(withPrecision: unknown, plain: unknown): number {
  return typeof withPrecision === 'number' && Number.isFinite(withPrecision) ? withPrecision : num(plain);
}

/**
 * Digests a getUsageLimits answer as kiro.rs does: the first usage breakdown, plus an ACTIVE free
 * trial, plus ACTIVE bonuses.
 */
export function computeBalance(id: number, res: UsageLimitsResponse): Balance {
  const first = res.usageBreakdownList?.[0];
  let usageLimit = precise(first?.usageLimitWithPrecision, first?.usageLimit);
  let currentUsage = precise(first?.currentUsageWithPrecision, first?.currentUsage);
  const trial = first?.freeTrialInfo;
  if (trial?.freeTrialStatus === 'ACTIVE') {
    usageLimit += precise(trial.usageLimitWithPrecision, trial.usageLimit);
    currentUsage += precise(trial.currentUsageWithPrecision, trial.currentUsage);
  }
  for (const bonus of first?.bonuses ?? []) {
    if (bonus.status !== 'ACTIVE') continue;
    usageLimit += num(bonus.usageLimit);
    currentUsage += num(bonus.currentUsage);
  }
  const reset = res.nextDateReset ?? first?.nextDateReset;
  return {
    id,
    subscriptionTitle: res.subscriptionInfo?.subscriptionTitle || null,
    currentUsage,
    usageLimit,
    remaining: Math.max(usageLimit - currentUsage, 0),
    usagePercentage: usageLimit > 0 ? Math.min((currentUsage / usageLimit) * 100, 100) : 0,
    nextResetAt: typeof reset === 'number' && Number.isFinite(reset) ? reset : null,
  };
}

/** Dependencies of {@link BalanceService}. */
export interface BalanceDeps {
  store: CredentialStore;
  pool: Pick<CredentialPool, 'accessTokenFor'> & Partial<Pick<CredentialPool, 'setQuotaResetLookup'>>;
  config: GatewayConfig;
  dispatcher?: Dispatcher;
  now?: () => number;
}

/**
 * Queries and caches credential balances. Registers itself with the pool as the source of quota
 * reset dates.
 */
export class BalanceService {
  private readonly store: CredentialStore;
  private readonly pool: BalanceDeps['pool'];
  private readonly config: GatewayConfig;
  private readonly dispatchers: UpstreamDispatchers;
  private readonly now: () => number;
  private readonly cache = new Map<number, { balance: Balance; at: number }>();
  private readonly inflight = new Map<number, Promise<Balance>>();

  constructor(deps: BalanceDeps) {
    this.store = deps.store;
    this.pool = deps.pool;
    this.config = deps.config;
    this.dispatchers = new UpstreamDispatchers(deps.config, { dispatcher: deps.dispatcher });
    this.now = deps.now ?? Date.now;
    deps.pool.setQuotaResetLookup?.((id) => this.nextResetMs(id));
  }

  /**
   * Balance of credential `id`, from the cache unless older than `pool.balanceCacheTtlMs` or
   * `fresh`. Throws NotFoundError for an unknown id and a 502 ApiError (or the refresh failure's
   * mapping) when the upstream cannot answer.
   */
  async getBalance(id: number, opts: { fresh?: boolean } = {}): Promise<Balance> {
    if (!this.store.get(id)) throw new NotFoundError(`credential ${id} not found`);
    const hit = this.cache.get(id);
    if (!opts.fresh && hit && this.now() - hit.at < this.config.pool.balanceCacheTtlMs) return hit.balance;
    let pending = this.inflight.get(id);
    if (!pending) {
      pending = this.fetchBalance(id).finally(() => this.inflight.delete(id));
      this.inflight.set(id, pending);
    }
    return pending;
  }

  /** The cached balance, whatever its age. */
  cached(id: number): Balance | undefined {
    return this.cache.get(id)?.balance;
  }

  /** Next quota reset of a credential in epoch ms, when a balance answer told it. */
  nextResetMs(id: number): number | undefined {
    const reset = this.cache.get(id)?.balance.nextResetAt;
    return reset === null || reset === undefined ? undefined : Math.round(reset * 1000);
  }

  /** Closes pooled connections. */
  async close(): Promise<void> {
    await this.dispatchers.close();
  }

  private async fetchBalance(id: number): Promise<Balance> {
    let token = await this.token(id);
    let answer = await this.call(id, token);
    if (!answer.ok && (answer.status === 401 || answer.status === 403) && answer.body.includes(BEARER_INVALID)) {
      // Refreshed like the pool does: reused if refreshed meanwhile, paced per credential.
      token = await this.token(id, token);
      answer = await this.call(id, token);
    }
    if (!answer.ok) {
      throw new ApiError(`getUsageLimits failed with HTTP ${answer.status}: ${summarizeErrorBody(answer.body)}`, { status: 502 });
    }
    let json: UsageLimitsResponse;
    try {
      json = JSON.parse(answer.body) as UsageLimitsResponse;
    } catch {
      throw new ApiError('getUsageLimits answered something that is not JSON', { status: 502 });
    }
    const balance = computeBalance(id, json ?? {});
    this.cache.set(id, { balance, at: this.now() });
    const current = this.store.get(id)?.credential;
    if (current && balance.subscriptionTitle && balance.subscriptionTitle !== current.subscriptionTitle) {
      // The title only steers the Opus filter; a failed write is retried on the next balance query.
      await this.store.update(id, { subscriptionTitle: balance.subscriptionTitle }).catch(() => {});
    }
    return balance;
  }

  private async token(id: number, rejected?: string): Promise<string> {
    try {
      return await this.pool.accessTokenFor(id, rejected === undefined ? {} : { rejected });
    } catch (err) {
      if (err instanceof ForcedRefreshPacedError) throw new ApiError(`getUsageLimits refused the token: ${err.message}`, { status: 502, cause: err });
      throw err instanceof GatewayError ? err : refreshErrorToGatewayError(err);
    }
  }

  private async call(id: number, token: string): Promise<{ ok: boolean; status: number; body: string }> {
    const cred = this.store.get(id)?.credential;
    if (!cred) throw new NotFoundError(`credential ${id} not found`);
    const region = apiRegionFor(cred, this.config);
    let url = `${withRegion(this.config.upstream.apiBaseUrl, region)}/getUsageLimits?origin=AI_EDITOR&resourceType=AGENTIC_REQUEST`;
    if (cred.profileArn) url += `&profileArn=${encodeURIComponent(cred.profileArn)}`;
    const timeout = AbortSignal.timeout(BALANCE_TIMEOUT_MS);
    try {
      const res = await request(url, {
        method: 'GET',
        headers: this.headers(cred, token),
        signal: timeout,
        dispatcher: this.dispatchers.for(cred),
      });
      const body = await res.body.text();
      return { ok: res.statusCode >= 200 && res.statusCode < 300, status: res.statusCode, body };
    } catch (err) {
      const reason = timeout.aborted ? `timed out after ${BALANCE_TIMEOUT_MS} ms` : ((err as { code?: string }).code ?? 'network error');
      throw new ApiError(`getUsageLimits request failed: ${reason}`, { status: 502, cause: err });
    }
  }

  private headers(cred: Credential, token: string): Record<string, string> {
    const suffix = `KiroIDE-${this.config.kiroVersion}-${cred.machineId}`;
    const headers: Record<string, string> = {
      'x-amz-user-agent': `aws-sdk-js/${USAGE_SDK_VERSION} ${suffix}`,
      'user-agent': `aws-sdk-js/${USAGE_SDK_VERSION} ua/2.1 os/${this.config.systemVersion} lang/js md/nodejs#${this.config.nodeVersion} api/codewhispererruntime#${USAGE_SDK_VERSION} m/N,E ${suffix}`,
      'amz-sdk-invocation-id': randomUUID(),
      'amz-sdk-request': 'attempt=1; max=1',
      authorization: `Bearer ${token}`,
    };
    if (cred.authMethod === 'api_key') headers.tokentype = 'API_KEY';
    return headers;
  }
}
