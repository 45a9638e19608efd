/**
 * Admin API, compatible with kiro.rs (docs/kiro-protocol.md §10), mounted under `/api/admin`.
 *
 * Every change goes through `deps.store`, which persists it and tells the other replicas; the
 * routes never touch pool state directly. Responses about credentials are built by `views.ts`,
 * which is the only place that knows which fields are safe to show.
 *
 * Beyond kiro.rs: live stats on each listed credential, `GET /cluster`, and `?refresh=1` on the
 * balance route to bypass the balance cache.
 *
 * @example
 *   const admin = createAdminRouter(deps);
 *   app.use(admin.routes());
 */
import type { Context, Middleware } from 'koa';
import type Router from '@koa/router';
import { createRouter } from '../http/router.js';
import type { Credential, CredentialRecord } from '../credentials/types.js';
import {
  ApiError,
  GatewayError,
  InvalidRequestError,
  NotFoundError,
  toAnthropicError,
} from '../errors.js';
import { adminAuth } from './auth.js';
import type { AdminDeps } from './types.js';
import type { Balance, ClusterResponse, LoadBalancingBody, SuccessResponse } from './wire-types.js';
import {
  parseAddCredentialRequest,
  parseDisabledBody,
  parseId,
  parseModeBody,
  parsePriorityBody,
  readJsonBody,
} from './validate.js';
import { defaultCurrentId, redactSecrets, secretsOf, sha256Hex, toStatusResponse } from './views.js';
import { registerKeyRoutes } from './keys-routes.js';

export const ADMIN_PREFIX = '/api/admin';
const CATCH_ALL = 'admin-catch-all';

/** Renders every failure under the prefix as Anthropic's error envelope; bugs stay unexposed 500s. */
const renderErrors: Middleware = async (ctx, next) => {
  ctx.set('Cache-Control', 'no-store');
  try {
    await next();
  } catch (err) {
    if (!(err instanceof GatewayError)) ctx.app.emit('error', err, ctx);
    const requestId = typeof ctx.state.requestId === 'string' ? ctx.state.requestId : undefined;
    const { status, body } = toAnthropicError(err, requestId);
    ctx.status = status;
    ctx.body = body;
    if (status === 401) ctx.set('WWW-Authenticate', 'Bearer');
  }
};

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Maps a failure of a dependency that talks to the upstream (refresh, balance). A 404 or 400 from
 * the dependency keeps its meaning; anything else is an upstream or network failure: 502.
 */
function upstreamFailure(action: string, err: unknown, secrets: readonly string[]): GatewayError {
  if (err instanceof NotFoundError) return err;
  const detail = redactSecrets(messageOf(err), secrets);
  if (err instanceof InvalidRequestError) return new InvalidRequestError(`${action}: ${detail}`, { cause: err });
  return new ApiError(`${action}: ${detail}`, { status: 502, cause: err });
}

/** Rejects a credential whose refresh token or API key is already in the store (compared by SHA-256). */
function assertNotDuplicate(candidate: Omit<Credential, 'id'>, records: readonly CredentialRecord[]): void {
  const hashes = new Set<string>();
  for (const { credential } of records) {
    if (credential.refreshToken) hashes.add(sha256Hex(credential.refreshToken));
    if (credential.kiroApiKey) hashes.add(sha256Hex(credential.kiroApiKey));
  }
  for (const secret of [candidate.refreshToken, candidate.kiroApiKey]) {
    if (secret && hashes.has(sha256Hex(secret))) {
      throw new InvalidRequestError('Duplicate credential: this refresh token or API key is already configured');
    }
  }
}

function pickBalance(b: Balance): Balance {
  return {
    id: b.id,
    subscriptionTitle: b.subscriptionTitle ?? null,
    currentUsage: b.currentUsage,
    usageLimit: b.usageLimit,
    remaining: b.remaining,
    usagePercentage: b.usagePercentage,
    nextResetAt: b.nextResetAt ?? null,
  };
}

function ok(ctx: Context, message: string, extra: Partial<SuccessResponse> = {}): void {
  const body: SuccessResponse = { success: true, message, ...extra };
  ctx.body = body;
}

/** Builds the admin router. Mount `router.routes()` before the client routes. */
export function createAdminRouter(deps: AdminDeps): Router {
  const { store } = deps;
  const router = createRouter({ prefix: ADMIN_PREFIX });

  function recordOf(rawId: string | undefined): CredentialRecord {
    const id = parseId(rawId);
    const record = store.get(id);
    if (!record) throw new NotFoundError(`Credential ${id} not found`);
    return record;
  }

  /** Stores a learned subscription title (it drives the Opus filter, §9.4) when it changed. */
  async function rememberTitle(id: number, title: string | null): Promise<void> {
    const current = store.get(id);
    if (title && current && current.credential.subscriptionTitle !== title) {
      await store.update(id, { subscriptionTitle: title });
    }
  }

  async function balanceOf(record: CredentialRecord, fresh: boolean): Promise<Balance> {
    const id = record.credential.id;
    let balance: Balance;
    try {
      balance = pickBalance(await deps.getBalance(id, { fresh }));
    } catch (err) {
      throw upstreamFailure(`Could not get the balance of credential ${id}`, err, secretsOf(record.credential));
    }
    await rememberTitle(id, balance.subscriptionTitle);
    return balance;
  }

  /** Enables a credential and clears its failure counters (admin enable and reset, §9.3). */
  async function enable(record: CredentialRecord, clearHistory: boolean): Promise<void> {
    const { id, disabledReason } = record.credential;
    if (disabledReason === 'InvalidConfig') {
      throw new InvalidRequestError(
        `Credential ${id} is disabled because its configuration is invalid; fix credentials.json and restart`,
      );
    }
    await store.update(id, { disabled: false, disabledReason: undefined, disabledUntil: undefined });
    store.updateStats(id, () =>
      clearHistory
        ? { failureCount: 0, refreshFailureCount: 0, cooldownUntil: undefined, lastError: undefined }
        : { failureCount: 0, refreshFailureCount: 0 },
    );
  }

  // The key check is part of every route's own chain, not a separately matched `use` layer: whatever
  // path reaches a handler has passed it.
  const guarded: Middleware[] = [renderErrors, adminAuth(deps.adminApiKey)];

  router.get('/credentials', ...guarded, (ctx) => {
    const records = store.list();
    const currentId = deps.currentId ? deps.currentId() : defaultCurrentId(records);
    ctx.body = toStatusResponse(records, currentId, (id) => deps.inFlight(id), deps.defaultEndpoint);
  });

  router.post('/credentials', ...guarded, async (ctx) => {
    const candidate = parseAddCredentialRequest(await readJsonBody(ctx), deps.configMachineId);
    assertNotDuplicate(candidate, store.list());
    let tokens: Partial<Credential>;
    try {
      tokens = await deps.validateNewCredential(candidate);
    } catch (err) {
      const detail = redactSecrets(messageOf(err), secretsOf({ ...candidate, id: 0 }));
      if (err instanceof GatewayError && err.status < 500) {
        throw new InvalidRequestError(`Credential rejected by the upstream: ${detail}`, { cause: err });
      }
      throw new ApiError(`Could not validate the credential: ${detail}`, { status: 502, cause: err });
    }
    // Another admin may have added the same credential while the refresh was running.
    assertNotDuplicate(candidate, store.list());
    const { id: _id, disabled: _disabled, disabledReason: _reason, ...learned } = tokens;
    const record = await store.add({ ...candidate, ...learned, disabled: false });
    const id = record.credential.id;

    let note = '';
    try {
      await balanceOf(record, true);
    } catch (err) {
      note = `; subscription not known yet (${messageOf(err)})`;
    }
    const extra: Partial<SuccessResponse> = { credentialId: id };
    if (record.credential.email) extra.email = record.credential.email;
    ok(ctx, `Credential ${id} added${note}`, extra);
  });

  router.delete('/credentials/:id', ...guarded, async (ctx) => {
    const { id, disabled } = recordOf(ctx.params.id).credential;
    if (!disabled) throw new InvalidRequestError(`Credential ${id} is enabled; disable it before deleting it`);
    await store.remove(id);
    ok(ctx, `Credential ${id} deleted`);
  });

  router.post('/credentials/:id/disabled', ...guarded, async (ctx) => {
    const record = recordOf(ctx.params.id);
    const disabled = parseDisabledBody(await readJsonBody(ctx));
    const { id } = record.credential;
    if (disabled) {
      await store.update(id, { disabled: true, disabledReason: 'Manual', disabledUntil: undefined });
      ok(ctx, `Credential ${id} disabled`);
    } else {
      await enable(record, false);
      ok(ctx, `Credential ${id} enabled`);
    }
  });

  router.post('/credentials/:id/priority', ...guarded, async (ctx) => {
    const { id } = recordOf(ctx.params.id).credential;
    const priority = parsePriorityBody(await readJsonBody(ctx));
    await store.update(id, { priority });
    ok(ctx, `Priority of credential ${id} set to ${priority}`);
  });

  router.post('/credentials/:id/reset', ...guarded, async (ctx) => {
    const record = recordOf(ctx.params.id);
    await enable(record, true);
    ok(ctx, `Credential ${record.credential.id} reset and enabled`);
  });

  router.post('/credentials/:id/refresh', ...guarded, async (ctx) => {
    const record = recordOf(ctx.params.id);
    const { id, authMethod } = record.credential;
    if (authMethod === 'api_key') {
      throw new InvalidRequestError(`Credential ${id} uses an API key, which has no token to refresh`);
    }
    try {
      await deps.refreshToken(id);
    } catch (err) {
      throw upstreamFailure(`Token refresh of credential ${id} failed`, err, secretsOf(record.credential));
    }
    ok(ctx, `Token of credential ${id} refreshed`);
  });

  router.get('/credentials/:id/balance', ...guarded, async (ctx) => {
    const record = recordOf(ctx.params.id);
    const fresh = ['1', 'true'].includes(String(ctx.query.refresh ?? ctx.query.fresh ?? ''));
    ctx.body = await balanceOf(record, fresh);
  });

  router.get('/config/load-balancing', ...guarded, (ctx) => {
    ctx.body = { mode: deps.getMode() } satisfies LoadBalancingBody;
  });

  router.put('/config/load-balancing', ...guarded, async (ctx) => {
    const mode = parseModeBody(await readJsonBody(ctx));
    await deps.setMode(mode);
    ctx.body = { mode } satisfies LoadBalancingBody;
  });

  router.get('/cluster', ...guarded, async (ctx) => {
    let replicas;
    try {
      replicas = await deps.listReplicas();
    } catch (err) {
      throw new ApiError(`Could not list replicas: ${messageOf(err)}`, { status: 502, cause: err });
    }
    const body: ClusterResponse = {
      answeredBy: deps.replicaId,
      replicas: replicas
        .map((r) => ({ id: r.id, lastSeen: r.lastSeen, inFlight: r.inFlight, self: r.id === deps.replicaId }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    };
    ctx.body = body;
  });

  if (deps.keys) registerKeyRoutes(router, guarded, deps.keys, store);

  /** Anything else under the prefix: a JSON 404 naming the allowed methods when the path exists. */
  const notFound: Middleware = (ctx) => {
    const allowed = new Set<string>();
    for (const layer of router.match(ctx.path, ctx.method).path) {
      if (layer.name !== CATCH_ALL) for (const m of layer.methods) allowed.add(m);
    }
    if (allowed.size > 0) {
      ctx.set('Allow', [...allowed].join(', '));
      throw new NotFoundError(`${ctx.method} is not supported on ${ctx.path}; use ${[...allowed].join(' or ')}`);
    }
    throw new NotFoundError(`No admin API route ${ctx.method} ${ctx.path}`);
  };
  router.all(CATCH_ALL, '/', ...guarded, notFound);
  router.all(CATCH_ALL, '/{*rest}', ...guarded, notFound);

  return router;
}
