import type { IncomingMessage, ServerResponse } from 'node:http';
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
import type { ObservabilityState } from './observability/logger.js';
import { NotFoundError } from './errors.js';
import { errorAnswer } from './http/error-answer.js';
import type { ErrorRenderer } from './errors.js';
import { createOpenAiRouter, markOpenAiRequests } from './openai/routes.js';
import type { Lifecycle } from './lifecycle.js';
import { requireCanonicalPath } from './http/canonical-path.js';
import { Admission, type AdmissionLimits } from './anthropic/admission.js';
import { setCorsHeaders } from './http/cors.js';
import type { MessagesDeps } from './anthropic/messages.js';
import { createMessagesRoute, koaMessagesHandler, MESSAGES_ROUTES, type MessagesRouteDeps } from './anthropic/messages-route.js';
import { createRequestScopes, type RequestScopes } from './observability/request-scope.js';
import type { Exchange } from './http/exchange.js';
import type { ClientKeys } from './keys/setup.js';

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
  /** Client keys: authentication, permissions, limits and usage. */
  keys: ClientKeys;
  /** Admission control of upstream-backed requests; built from `config.admission` when omitted. */
  admission?: Admission;
  /** Middleware run first (request id + log line, tracing, metrics). */
  middleware?: Middleware[];
  /** The same observability for the messages routes, which are served outside Koa; none when omitted. */
  scopes?: RequestScopes;
  /** Extra routers (admin API, metrics). */
  routers?: Router[];
  /** Extra plain middleware mounted before the 404 fallback (admin UI static files). */
  extraRoutes?: Middleware[];
  /** Called on errors answered with a 5xx, for the log. */
  onServerError?: (err: unknown, request: { log?: Exchange['log']; path: string }) => void;
}

/** The gateway's HTTP side: Koa, and the listener that serves the messages routes before it. */
export interface GatewayApp {
  app: Koa;
  /** The node:http request listener: messages-route.ts for POST /v1/messages and /cc/v1/messages, Koa for the rest. */
  listener: (req: IncomingMessage, res: ServerResponse) => void;
}

function errorMiddleware(onServerError?: AppDeps['onServerError']): Middleware {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (thrown) {
      // Anthropic's envelope unless the request's API has its own (the OpenAI routes set theirs).
      const render = ctx.state.renderError as ErrorRenderer | undefined;
      const { status, headers, body, errorType } = errorAnswer(thrown, ctx.state.requestId as string | undefined, render);
      if (status >= 500) onServerError?.(thrown, { log: (ctx.state as ObservabilityState).log, path: ctx.path });
      if (ctx.headerSent || !ctx.writable) return;
      ctx.status = status;
      ctx.set(headers);
      ctx.body = body;
      ctx.state.logFields = { ...(ctx.state.logFields as object), errorType };
    }
  };
}

/** Any origin, method and header, as kiro.rs allows (browser clients such as the admin UI or web apps). */
const cors: Middleware = async (ctx, next) => {
  setCorsHeaders(ctx.req, ctx.res);
  if (ctx.method === 'OPTIONS') {
    ctx.set('access-control-allow-methods', 'GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS');
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

/** Builds the Koa app and the request listener in front of it; does not bind a port. */
export function createApp(deps: AppDeps): GatewayApp {
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
        clientKeyLimits: deps.keys.health(),
      };
      return;
    }
    await next();
  });

  const messages: MessagesDeps = {
    config: deps.config,
    pool: deps.pool,
    client: deps.client,
    lifecycle: deps.lifecycle,
    models: deps.models,
    observer: deps.observer ?? createRequestObserver(undefined),
    admission,
    keys: deps.keys.gate,
  };
  // The gate's `authenticate` is the one client key check, for the messages routes and the Koa client routes alike.
  const messagesRoute: MessagesRouteDeps = {
    messages,
    onServerError: deps.onServerError && ((err, exchange) => deps.onServerError!(err, { log: exchange.log, path: exchange.req.url?.split('?', 1)[0] ?? '' })),
  };
  // The OpenAI routes first: they share GET /v1/models, answered the OpenAI way only when asked so.
  app.use(markOpenAiRequests);
  app.use(createOpenAiRouter(deps.config, messages).routes());
  const router = createAnthropicRouter(deps.config, { models: deps.models, keys: deps.keys.gate });
  // Served by the listener's front; Koa sees these paths only in other spellings (absolute-form targets).
  for (const [path, mode] of Object.entries(MESSAGES_ROUTES)) router.post(path, koaMessagesHandler(mode, messagesRoute));
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
  const koa = app.callback();
  const front = createMessagesRoute(messagesRoute, deps.scopes ?? createRequestScopes({}));
  return {
    app,
    listener: (req, res) => {
      if (!front(req, res)) void koa(req, res);
    },
  };
}

