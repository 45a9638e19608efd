/**
 * Which models each credential may call, from Kiro's ListAvailableModels
 * (docs/kiro-protocol-newer.md §3), kept in the store's shared settings (`models:{id}`): with Redis
 * the replica that fetched a list shares it with every other one, which then reads it from its
 * local copy (no Redis round trip on a request); the memory store keeps it in process.
 *
 * A list is fetched after every token refresh of the credential, on a schedule
 * (`models.listRefreshIntervalMs`, only while the credential's token is valid, so the schedule
 * never causes a refresh), and lazily when a request reaches a credential that has none yet.
 * Failures are logged and never block traffic: a credential without a list is assumed to offer the
 * built-in table, less Opus on a free tier (kiro.rs's rule).
 */
import { randomUUID } from 'node:crypto';
import { request, type Dispatcher } from '../http/undici.js';
import { withRegion, type GatewayConfig } from '../config.js';
import { apiRegionFor } from '../kiro/client.js';
import { offeredModelsOf, type ListAvailableModelsResponse } from '../kiro/list-models.js';
import { BUILTIN_MODELS, kiroModelVersion, modelListBody, type OfferedModel } from '../kiro/models.js';
import { NotFoundError } from '../errors.js';
import { summarizeErrorBody, UpstreamDispatchers } from './refresh.js';
import type { CredentialStore } from '../store/store.js';
import type { Credential, CredentialRecord } from './types.js';

/** Setting key prefix of a credential's stored list. */
export const MODEL_LIST_SETTING_PREFIX = 'models:';
const SDK_VERSION = '1.0.0';
const FETCH_TIMEOUT_MS = 10_000;
const MAX_PAGES = 5;
/** How often the schedule looks for lists older than the interval. */
const SCHEDULE_TICK_MS = 60_000;
/** A replica treats a list as stale up to 10 % later than the interval, so replicas rarely fetch the same one. */
const STALE_JITTER = 0.1;

/** What the store holds per credential. */
interface StoredModelList {
  fetchedAt: number;
  models: OfferedModel[];
}

export interface CredentialModelsDeps {
  store: CredentialStore;
  config: GatewayConfig;
  /** A valid access token of the credential (the pool's accessTokenFor). */
  tokenFor: (id: number) => Promise<string>;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  now?: () => number;
  random?: () => number;
  dispatcher?: Dispatcher;
}

function isFreeTier(cred: Credential): boolean {
  return cred.subscriptionTitle?.toUpperCase().includes('FREE') ?? false;
}

function isOfferedModel(v: unknown): v is OfferedModel {
  const m = v as OfferedModel;
  return typeof m?.kiroModelId === 'string' && typeof m.windowSize === 'number' && typeof m.maxOutputTokens === 'number';
}

function fetchedAtOf(raw: string | undefined): number {
  const m = raw === undefined ? null : /"fetchedAt":(\d+)/.exec(raw);
  return m ? Number(m[1]) : -1;
}

/** Of the shared and the locally fetched list, the newer one. */
function newerList(shared: string | undefined, local: string | undefined): string | undefined {
  if (local === undefined) return shared;
  if (shared === undefined) return local;
  return fetchedAtOf(local) > fetchedAtOf(shared) ? local : shared;
}

/** What a request needs of a model beyond being offered. */
export interface ModelNeeds {
  /** The request carries images: the model's list entry must take IMAGE input. */
  images?: boolean;
}

function listServes(models: readonly OfferedModel[], kiroModelId: string, needs: ModelNeeds): boolean {
  return models.some((m) => m.kiroModelId === kiroModelId && (!needs.images || m.images));
}

/** Adds a model to the pool's union; a model takes images when any list (or the assumed table) says so. */
function addOffered(union: Map<string, OfferedModel>, m: OfferedModel): void {
  const known = union.get(m.kiroModelId);
  if (!known) union.set(m.kiroModelId, m);
  else if (m.images && !known.images) union.set(m.kiroModelId, { ...known, images: true });
}

/** Per-credential model lists: fetched, shared, and asked on the request path (no I/O there). */
export class CredentialModels {
  private readonly store: CredentialStore;
  private readonly config: GatewayConfig;
  private readonly deps: CredentialModelsDeps;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly dispatchers: UpstreamDispatchers;
  /** Parsed lists by credential id, keyed by the raw setting they came from. */
  private readonly parsed = new Map<number, { raw: string; list: StoredModelList; ids: ReadonlySet<string> }>();
  private readonly inflight = new Map<number, Promise<StoredModelList | undefined>>();
  /** Lists this replica fetched, in case the store could not take them. */
  private readonly localLists = new Map<number, string>();
  private unionCache: OfferedModel[] | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(deps: CredentialModelsDeps) {
    this.deps = deps;
    this.store = deps.store;
    this.config = deps.config;
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.dispatchers = new UpstreamDispatchers(deps.config, { dispatcher: deps.dispatcher });
    this.unsubscribe.push(
      this.store.onChange(() => (this.unionCache = undefined)),
      this.store.onSettingChange((key) => {
        if (key.startsWith(MODEL_LIST_SETTING_PREFIX)) this.unionCache = undefined;
      }),
    );
  }

  /** Whether ListAvailableModels is used at all (`models.listRefreshIntervalMs` > 0). */
  get enabled(): boolean {
    return this.config.models.listRefreshIntervalMs > 0;
  }

  /** The credential's fetched list, or undefined when none is known. No I/O. */
  listOf(id: number): readonly OfferedModel[] | undefined {
    return this.entry(id)?.list.models;
  }

  /** When the credential's list was fetched (epoch ms). */
  fetchedAt(id: number): number | undefined {
    return this.entry(id)?.list.fetchedAt;
  }

  /**
   * Every model the enabled credentials offer: their lists, plus the built-in table when some
   * enabled credential has none yet (or none is configured). No I/O.
   */
  offered(): readonly OfferedModel[] {
    if (this.unionCache) return this.unionCache;
    const union = new Map<string, OfferedModel>();
    let anyUnknown = false;
    for (const r of this.store.list()) {
      if (r.credential.disabled) continue;
      const list = this.listOf(r.credential.id);
      if (!list) {
        anyUnknown = true;
        continue;
      }
      for (const m of list) addOffered(union, m);
    }
    if (anyUnknown || union.size === 0) {
      for (const m of BUILTIN_MODELS) addOffered(union, m);
    }
    this.unionCache = [...union.values()];
    return this.unionCache;
  }

  /**
   * Whether this credential can serve `kiroModelId` (with image input when `needs.images`): its
   * list says so, or, without a list, the built-in table does and it is not Opus on a free tier.
   * No I/O.
   */
  offers(record: CredentialRecord, kiroModelId: string, needs: ModelNeeds = {}): boolean {
    const entry = this.entry(record.credential.id);
    if (entry) return needs.images ? listServes(entry.list.models, kiroModelId, needs) : entry.ids.has(kiroModelId);
    if (kiroModelVersion(kiroModelId)?.family === 'opus' && isFreeTier(record.credential)) return false;
    return true;
  }

  /** Some enabled credential has no list yet. No I/O. */
  hasUnknown(): boolean {
    return this.enabled && this.store.list().some((r) => !r.credential.disabled && !this.entry(r.credential.id));
  }

  /**
   * Fetches the lists of every enabled credential that has none (refreshing tokens as needed),
   * waiting at most `timeoutMs`: for a request whose model the known lists cannot place.
   */
  async learnMissing(timeoutMs = FETCH_TIMEOUT_MS): Promise<void> {
    const pending = this.store
      .list()
      .filter((r) => !r.credential.disabled && !this.entry(r.credential.id))
      .map((r) => this.refresh(r.credential.id));
    if (pending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.allSettled(pending), timeout]);
    clearTimeout(timer);
  }

  /** Whether some enabled credential offers `kiroModelId` (see `offers`). No I/O. */
  servable(kiroModelId: string): boolean {
    // Disabled credentials count: being disabled is a state of the pool (answered 529, retryable), not
    // a fact about the model, and a client told 404 would not retry once the credential is back.
    return this.store.list().some((r) => this.offers(r, kiroModelId));
  }

  /** The 404 for a model no credential offers, naming those that are offered. */
  notServable(requested: string, kiroModelId: string): NotFoundError {
    const names = modelListBody(this.offered()).data.filter((m) => !m.id.endsWith('-thinking')).map((m) => m.id);
    return new NotFoundError(
      `model: ${requested} (Kiro ${kiroModelId}) is not offered by any credential; available models: ${names.join(', ') || 'none'}`,
    );
  }

  /**
   * The pool's last check before an attempt: a credential without a list gets it fetched now with
   * the token the attempt will use. A failed fetch lets the attempt go ahead.
   */
  async admit(credential: Credential, token: string, kiroModelId: string, needs: ModelNeeds = {}): Promise<boolean> {
    const record = this.store.get(credential.id);
    if (!record) return true;
    if (!this.enabled || this.entry(credential.id)) return this.offers(record, kiroModelId, needs);
    const list = await this.refresh(credential.id, token);
    if (!list) return true;
    return listServes(list.models, kiroModelId, needs);
  }

  /**
   * Fetches and stores the credential's list (one call at a time per credential). Resolves
   * undefined when it failed; never rejects.
   */
  refresh(id: number, token?: string): Promise<StoredModelList | undefined> {
    let pending = this.inflight.get(id);
    if (!pending) {
      pending = this.fetchAndStore(id, token).finally(() => this.inflight.delete(id));
      this.inflight.set(id, pending);
    }
    return pending;
  }

  /** Starts the schedule (and a first pass for credentials whose token is valid). */
  start(): void {
    if (!this.enabled || this.timer) return;
    const tick = Math.min(SCHEDULE_TICK_MS, this.config.models.listRefreshIntervalMs);
    this.timer = setInterval(() => this.renewStale(), tick);
    this.timer.unref();
    setImmediate(() => this.renewStale());
  }

  /** Stops the schedule and closes connections. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const u of this.unsubscribe) u();
    await Promise.allSettled([...this.inflight.values()]);
    await this.dispatchers.close();
  }

  /** Renews missing or stale lists of enabled credentials whose token is valid (never refreshes one). */
  renewStale(): void {
    const now = this.now();
    const interval = this.config.models.listRefreshIntervalMs;
    for (const r of this.store.list()) {
      const cred = r.credential;
      if (cred.disabled || this.inflight.has(cred.id)) continue;
      const fetchedAt = this.fetchedAt(cred.id);
      if (fetchedAt !== undefined && now - fetchedAt < interval * (1 + this.random() * STALE_JITTER)) continue;
      if (!this.tokenUsable(cred, now)) continue;
      void this.refresh(cred.id);
    }
  }

  private tokenUsable(cred: Credential, now: number): boolean {
    if (cred.authMethod === 'api_key') return Boolean(cred.kiroApiKey);
    if (!cred.accessToken || !cred.expiresAt) return false;
    return Date.parse(cred.expiresAt) - now > this.config.pool.refreshBeforeExpiryMs;
  }

  private entry(id: number): { list: StoredModelList; ids: ReadonlySet<string> } | undefined {
    const raw = newerList(this.store.getSetting(MODEL_LIST_SETTING_PREFIX + id), this.localLists.get(id));
    if (raw === undefined || raw === '') return undefined;
    const hit = this.parsed.get(id);
    if (hit && hit.raw === raw) return hit;
    try {
      const value = JSON.parse(raw) as StoredModelList;
      if (typeof value?.fetchedAt !== 'number' || !Array.isArray(value.models) || !value.models.every(isOfferedModel)) return undefined;
      const entry = { raw, list: value, ids: new Set(value.models.map((m) => m.kiroModelId)) };
      this.parsed.set(id, entry);
      return entry;
    } catch {
      return undefined;
    }
  }

  private async fetchAndStore(id: number, token: string | undefined): Promise<StoredModelList | undefined> {
    try {
      const cred = this.store.get(id)?.credential;
      if (!cred) return undefined;
      const bearer = token ?? (await this.deps.tokenFor(id));
      const models = await this.fetchModels(cred, bearer);
      const list: StoredModelList = { fetchedAt: this.now(), models };
      const raw = JSON.stringify(list);
      // Kept locally too: while the store cannot be written (Redis down) this replica still knows it.
      this.localLists.set(id, raw);
      this.unionCache = undefined;
      await this.store.setSetting(MODEL_LIST_SETTING_PREFIX + id, raw).catch((err: unknown) => {
        this.deps.log?.('warn', 'model list could not be shared through the store', { credentialId: id, error: String(err) });
      });
      this.deps.log?.('info', 'model list fetched', { credentialId: id, models: models.map((m) => m.kiroModelId) });
      return list;
    } catch (err) {
      this.deps.log?.('warn', 'ListAvailableModels failed; the credential keeps its previous list', {
        credentialId: id,
        error: err instanceof Error ? err.message : String(err),
      });
      return undefined;
    }
  }

  private async fetchModels(cred: Credential, token: string): Promise<OfferedModel[]> {
    const base = `${withRegion(this.config.upstream.apiBaseUrl, apiRegionFor(cred, this.config))}/ListAvailableModels?origin=AI_EDITOR&maxResults=50`;
    const all: ListAvailableModelsResponse['models'] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      let url = base;
      if (cred.profileArn) url += `&profileArn=${encodeURIComponent(cred.profileArn)}`;
      if (nextToken) url += `&nextToken=${encodeURIComponent(nextToken)}`;
      const res = await request(url, {
        method: 'GET',
        headers: this.headers(cred, token),
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
        dispatcher: this.dispatchers.for(cred),
      });
      const body = await res.body.text();
      if (res.statusCode < 200 || res.statusCode >= 300) {
        throw new Error(`ListAvailableModels answered HTTP ${res.statusCode}: ${summarizeErrorBody(body)}`);
      }
      const json = JSON.parse(body) as ListAvailableModelsResponse;
      all.push(...(json.models ?? []));
      nextToken = typeof json.nextToken === 'string' && json.nextToken !== '' ? json.nextToken : undefined;
      if (!nextToken) break;
    }
    const models = offeredModelsOf({ models: all });
    if (models.length === 0) throw new Error('ListAvailableModels listed no model');
    return models;
  }

  /** The getUsageLimits header set (§1.3), as other clients send it for this call. */
  private headers(cred: Credential, token: string): Record<string, string> {
    const suffix = `KiroIDE-${this.config.kiroVersion}-${cred.machineId}`;
    const headers: Record<string, string> = {
      'x-amz-user-agent': `aws-sdk-js/${SDK_VERSION} ${suffix}`,
      'user-agent': `aws-sdk-js/${SDK_VERSION} ua/2.1 os/${this.config.systemVersion} lang/js md/nodejs#${this.config.nodeVersion} api/codewhispererruntime#${SDK_VERSION} m/N,E ${suffix}`,
      'amz-sdk-invocation-id': randomUUID(),
      'amz-sdk-request': 'attempt=1; max=1',
      authorization: `Bearer ${token}`,
    };
    if (cred.authMethod === 'api_key') headers.tokentype = 'API_KEY';
    return headers;
  }
}
