import Koa, { type Context, type Middleware, type Next } from 'koa';
import type Router from '@koa/router';
import type { GatewayConfig } from './config.js';
import type { CredentialStore } from './credentials/store.js';
import type { CredentialPool } from './credentials/pool.js';
import type { KiroClient } from './kiro/client.js';
import type { CredentialModels } from './credentials/model-lists.js';
import { createAnthropicRouter } from './anthropic/routes.js';
import type { RequestObserver } from './anthropic/observer.js';
import { createRequestObserver } from './observability/request-observer.js';
import {
  ApiError,
  AuthenticationError,
  GatewayError,
  InvalidRequestError,
  NotFoundError,
  PermissionError,
  RateLimitError,
  RequestTooLargeError,
  toAnthropicError,
} from './errors.js';
import type { Lifecycle } from './lifecycle.js';

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
  const e = err as { status?: number; statusCode?: number; expose?: boolean; message?: string; type?: string };
  const status = e?.status ?? e?.statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500) return err;
  const message = e.expose && e.message ? e.message : 'Invalid request';
  switch (status) {
    case 401:
      return new AuthenticationError(message, { cause: err });
    case 403:
      return new PermissionError(message, { cause: err });
    case 404:
      return new NotFoundError(message, { cause: err });
    case 413:
      return new RequestTooLargeError(message, { cause: err });
    case 429:
      return new RateLimitError(message, undefined, { cause: err });
    default:
      return new InvalidRequestError(message, { cause: err });
  }
}

function errorMiddleware(onServerError?: AppDeps['onServerError']): Middleware {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (thrown) {
      const err = normaliseError(thrown);
      const { status, body } = toAnthropicError(err, ctx.state.requestId as string | undefined);
      if (status >= 500) onServerError?.(thrown, ctx);
      if (ctx.headerSent || !ctx.writable) return;
      ctx.status = status;
      if (err instanceof RateLimitError && err.retryAfterSeconds) ctx.set('retry-after', String(err.retryAfterSeconds));
      ctx.set('x-should-retry', String(status === 429 || status >= 500));
      ctx.body = body;
      ctx.state.logFields = { ...(ctx.state.logFields as object), errorType: body.error.type };
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

/** Builds the Koa app; does not bind a port. */
export function createApp(deps: AppDeps): Koa {
  const app = new Koa({ proxy: true });
  app.silent = true;
  for (const m of deps.middleware ?? []) app.use(m);
  app.use(errorMiddleware(deps.onServerError));
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
      const ready = !deps.lifecycle.draining && store.ok;
      ctx.status = ready ? 200 : 503;
      ctx.body = {
        status: ready ? (store.degraded ? 'degraded' : 'ready') : 'not_ready',
        draining: deps.lifecycle.draining,
        store: { kind: deps.store.kind, ...store },
      };
      return;
    }
    await next();
  });

  const router = createAnthropicRouter(deps.config, {
    config: deps.config,
    pool: deps.pool,
    client: deps.client,
    lifecycle: deps.lifecycle,
    models: deps.models,
    observer: deps.observer ?? createRequestObserver(undefined),
  });
  app.use(router.routes());
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

