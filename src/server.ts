import Koa, { type Context, type Middleware, type Next } from 'koa';
import type Router from '@koa/router';
import type { GatewayConfig } from './config.js';
import type { CredentialStore } from './store/store.js';
import type { CredentialPool } from './credentials/pool.js';
import type { KiroClient } from './kiro/client.js';
import type { CredentialModels } from './credentials/model-lists.js';
import { createAnthropicRouter } from './anthropic/routes.js';
import type { RequestObserver } from './anthropic/observer.js';
import { createRequestObserver } from './observability/request-observer.js';
import { errorOfStatus, GatewayError, NotFoundError, OverloadedError, RateLimitError, toAnthropicError, toGatewayError, type ErrorRenderer } from './errors.js';
import type { Lifecycle } from './lifecycle.js';
import { requireCanonicalPath } from './http/canonical-path.js';
import { Admission, type AdmissionLimits } from './anthropic/admission.js';
import { createOpenAiRouter, markOpenAiRequests } from './openai/routes.js';

/** Everything the app needs; tests build these with fakes of their choosing (never a fake upstream: the simulator). */
export interface AppDeps {
  config: GatewayConfig;
  store: CredentialStore;
  pool: CredentialPool;
  client: KiroClient;
  lifecycle: Lifecycle;
  /** Per-credential model lists (routing by model, /v1/models); the built-in table without it. */
  models?: CredentialModels;
  observer?: RequestObserver;
  /** Admission control of upstream-backed requests; built from `config.admission` when omitted. */
  admission?: Admission;
  /** Middleware run first (request id + log line, tracing, metrics). */
  middleware?: Middleware[];
  /** Extra routers (admin API, metrics). */
  routers?: Router[];
  /** Extra plain middleware mounted before the 404 fallback (admin UI static files). */
  extraRoutes?: Middleware[];
  /** Called on errors answered with a 5xx, for the log. */
  onServerError?: (err: unknown, ctx: Context) => void;
}

/** Maps errors thrown by Koa itself or by libraries (http-errors style) into the gateway hierarchy. */
function normaliseError(err: unknown): unknown {
  if (err instanceof GatewayError) return err;
  const e = err as { status?: number; statusCode?: number; expose?: boolean; message?: string };
  const status = e?.status ?? e?.statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500) return err;
  return errorOfStatus(status, e.expose && e.message ? e.message : 'Invalid request', { cause: err });
}

function errorMiddleware(onServerError?: AppDeps['onServerError']): Middleware {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (thrown) {
      const err = normaliseError(thrown);
      // Anthropic's envelope unless the request's API has its own (the OpenAI routes set theirs).
      const render = (ctx.state.renderError as ErrorRenderer | undefined) ?? toAnthropicError;
      const { status, body } = render(err, ctx.state.requestId as string | undefined);
      if (status >= 500) onServerError?.(thrown, ctx);
      if (ctx.headerSent || !ctx.writable) return;
      ctx.status = status;
      const retryAfter = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
      if (typeof retryAfter === 'number' && retryAfter > 0) ctx.set('retry-after', String(retryAfter));
      ctx.set('x-should-retry', String(status === 429 || status >= 500));
      ctx.body = body;
      ctx.state.logFields = { ...(ctx.state.logFields as object), errorType: toGatewayError(err).type };
    }
  };
}

/** Any origin, method and header, as kiro.rs allows (browser clients such as the admin UI or web apps). */
const cors: Middleware = async (ctx, next) => {
  ctx.set('access-control-allow-origin', ctx.get('origin') || '*');
  ctx.set('vary', 'origin');
  if (ctx.method === 'OPTIONS') {
    ctx.set('access-control-allow-methods', 'GET,POST,PUT,DELETE,HEAD,OPTIONS');
    ctx.set('access-control-allow-headers', ctx.get('access-control-request-headers') || '*');
    ctx.set('access-control-max-age', '86400');
    ctx.status = 204;
    return;
  }
  await next();
};

/** The admission settings of a configuration, in the shape {@link Admission} takes. */
export function admissionLimits(config: GatewayConfig): AdmissionLimits {
  const a = config.admission;
  return { maxConcurrent: a.maxConcurrentUpstream, queueSize: a.queueSize, queueTimeoutMs: a.queueTimeoutMs };
}

/** Builds the Koa app; does not bind a port. */
export function createApp(deps: AppDeps): Koa {
  const admission = deps.admission ?? new Admission(admissionLimits(deps.config));
  const app = new Koa({ proxy: true });
  app.silent = true;
  for (const m of deps.middleware ?? []) app.use(m);
  app.use(errorMiddleware(deps.onServerError));
  // Before CORS, health routes, routers and the admin UI: all of them see one canonical path.
  app.use(requireCanonicalPath);
  app.use(cors);

  app.use(async (ctx, next) => {
    if (ctx.path === '/' && (ctx.method === 'HEAD' || ctx.method === 'GET')) {
      // Claude Code sends HEAD / as a reachability check before its first request.
      ctx.body = { name: 'kiro-gateway', status: 'ok' };
      return;
    }
    if (ctx.path === '/healthz' && ctx.method === 'GET') {
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.path === '/readyz' && ctx.method === 'GET') {
      const store = deps.store.health();
      // Saturation is reported but does not make the replica unready: shedding with 529 +
      // retry-after is per request and immediate, while readiness acts per probe period and would,
      // with every replica busy, leave the load balancer with no endpoint at all (see README).
      const ready = !deps.lifecycle.draining && store.ok;
      ctx.status = ready ? 200 : 503;
      ctx.body = {
        status: ready ? (store.degraded ? 'degraded' : 'ready') : 'not_ready',
        draining: deps.lifecycle.draining,
        store: { kind: deps.store.kind, ...store },
        admission: admission.snapshot(),
      };
      return;
    }
    await next();
  });

  const messagesDeps = {
    config: deps.config,
    pool: deps.pool,
    client: deps.client,
    lifecycle: deps.lifecycle,
    models: deps.models,
    observer: deps.observer ?? createRequestObserver(undefined),
    admission,
  };
  // The OpenAI routes first: they share GET /v1/models, answered the OpenAI way only when asked so.
  app.use(markOpenAiRequests);
  app.use(createOpenAiRouter(deps.config, messagesDeps).routes());
  app.use(createAnthropicRouter(deps.config, messagesDeps).routes());
  for (const r of deps.routers ?? []) app.use(r.routes());
  for (const m of deps.extraRoutes ?? []) app.use(m);

  app.use((ctx) => {
    if (ctx.status === 404 && ctx.body === undefined) {
      throw new NotFoundError(`Not found: ${ctx.method} ${ctx.path}`);
    }
  });
  app.on('error', () => {
    // Errors are answered and logged by errorMiddleware; socket errors after the response are not actionable.
  });
  return app;
}

