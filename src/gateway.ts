import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type Koa from 'koa';
import type Router from '@koa/router';
import { createRouter } from './http/router.js';
import { answerClientErrorsAsAnthropic } from './http/client-errors.js';
import { NotFoundError, toAnthropicError } from './errors.js';
import type { Logger } from 'pino';
import { createRequestLogger } from './observability/logger.js';
import { GatewayMetrics } from './observability/metrics.js';
import { createMetricsMiddleware } from './observability/metrics-middleware.js';
import { createTracingMiddleware } from './observability/tracing-middleware.js';
import type { TracingHandle } from './observability/tracing-env.js';
import { createRequestScopes } from './observability/request-scope.js';
import { createRequestObserver, recordPoolEvent } from './observability/request-observer.js';
import { parseLockNodes, type GatewayConfig } from './config.js';
import { admissionLimits, createApp } from './server.js';
import { Admission } from './anthropic/admission.js';
import { Lifecycle } from './lifecycle.js';
import { KiroClient } from './kiro/client.js';
import type { CredentialStore } from './store/store.js';
import { envApiKeyCredential, loadCredentialsFile } from './store/credentials-file.js';
import { writeFileAtomic } from './store/atomic-file.js';
import { MemoryCredentialStore } from './store/memory/memory-store.js';
import { redisConnection, usesRedis } from './store/redis/config-connection.js';
import type { RedisCredentialStore } from './store/redis/redis-store.js';
import { TokenRefresher } from './credentials/refresh.js';
import { CredentialPool } from './credentials/pool.js';
import { CredentialModels } from './credentials/model-lists.js';
import { BalanceService } from './credentials/balance.js';
import { createAdminRouter } from './admin/routes.js';
import { serveAdminUi } from './admin/static.js';
import { secretsOf } from './admin/views.js';
import type { AdminDeps } from './admin/types.js';
import type { ReplicaInfo } from './admin/wire-types.js';
import { createClientKeys, type ClientKeys } from './keys/setup.js';

/** A gateway assembled from configuration; `listen` binds it, `close` drains and releases everything. */
export interface Gateway {
  readonly app: Koa;
  readonly config: GatewayConfig;
  readonly store: CredentialStore;
  readonly pool: CredentialPool;
  readonly client: KiroClient;
  readonly balance: BalanceService;
  readonly models: CredentialModels;
  readonly lifecycle: Lifecycle;
  readonly replicaId: string;
  /** Managed client keys, their limits and usage. */
  readonly keys: ClientKeys;
  listen(): Promise<{ url: string; server: Server }>;
  /**
   * Flips readiness to 503 at once, keeps accepting for `readinessDelayMs` (so load balancers see
   * the pod unready before connections are refused), then stops accepting, drains open streams
   * until `graceMs` after the call, ends the rest with an SSE error event and releases connections.
   */
  close(graceMs?: number, opts?: CloseOptions): Promise<void>;
}

/** Options of {@link Gateway.close}. */
export interface CloseOptions {
  /** How long to keep the listener open after readiness flips (ms, within `graceMs`); default 0. */
  readinessDelayMs?: number;
}

export interface BuildOptions {
  replicaId?: string;
  /** Request log lines and component logs; none when omitted. */
  logger?: Logger;
  /** Prometheus metrics; a fresh registry (without default process metrics) when omitted. Unused when `metrics.enabled` is false. */
  metrics?: GatewayMetrics;
  /** OpenTelemetry; spans are recorded only when this handle is enabled. */
  tracing?: TracingHandle;
  /** Logs a message from components that do not take a pino logger. */
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

async function createStore(
  config: GatewayConfig,
  replicaId: string,
  log: BuildOptions['log'],
  heartbeat: () => Record<string, unknown>,
  metrics: GatewayMetrics | undefined,
): Promise<CredentialStore> {
  if (!usesRedis(config)) {
    return MemoryCredentialStore.fromFile(config.credentialsPath, config, {
      onPersistError: (err) => log?.('error', 'could not write credentials.json', { error: String(err) }),
    });
  }
  const loaded = await loadCredentialsFile(config.credentialsPath, { machineId: config.machineId });
  const env = envApiKeyCredential(config);
  const { RedisCredentialStore } = await import('./store/redis/redis-store.js');
  return new RedisCredentialStore({
    ...redisConnection(config.redis),
    resyncIntervalMs: config.redis.resyncIntervalMs,
    lockTtlMs: config.redis.lockTtlMs,
    lockNodes: parseLockNodes(config.redis.lockNodes),
    seed: env ? [env, ...loaded.credentials] : loaded.credentials,
    replicaId,
    log,
    heartbeat,
    onRedisCommand: metrics ? (name, ms, ok) => metrics.observeRedisCommand(name, ms / 1000, !ok) : undefined,
  });
}

/** Builds store, pool, client and app from configuration. */
export async function buildGateway(config: GatewayConfig, opts: BuildOptions = {}): Promise<Gateway> {
  const replicaId = opts.replicaId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const logger = opts.logger;
  const log: BuildOptions['log'] = opts.log ?? (logger ? (level, msg, fields) => logger[level](fields ?? {}, msg) : undefined);
  // Off means off: no recording at all (the bench compares the two).
  const metrics = config.metrics.enabled ? (opts.metrics ?? new GatewayMetrics({ collectDefault: false })) : undefined;
  const lifecycle = new Lifecycle();
  const store = await createStore(config, replicaId, log, () => ({ inFlight: lifecycle.inFlight }), metrics);
  await store.init();
  metrics?.setCredentialSource(() => store.list());
  metrics?.setHealthSource(() => {
    const health = store.health();
    return { ready: health.ok && !lifecycle.draining, degraded: health.degraded };
  });
  const refresher = new TokenRefresher(config);
  let models: CredentialModels | undefined;
  const pool = new CredentialPool({
    store,
    refresher,
    config,
    log,
    onEvent: (e) => {
      if (metrics) recordPoolEvent(metrics, e);
      // A fresh token is the moment to learn what the account may call (newer notes §3).
      if (e.type === 'refresh' && e.outcome === 'success' && models?.enabled) setImmediate(() => void models?.refresh(e.credentialId));
    },
  });
  models = new CredentialModels({ store, config, tokenFor: (id) => pool.accessTokenFor(id), log });
  models.start();
  const client = new KiroClient(config);
  const admission = new Admission(admissionLimits(config), metrics ? (e) => metrics.recordAdmission(e) : undefined);
  metrics?.setAdmissionSource(() => admission.snapshot());
  followSharedMode(store, pool);
  const keys = await createClientKeys(config, {
    replicaId,
    log,
    credentialExists: (id) => store.get(id) !== undefined,
    observer: metrics,
    onRedisCommand: metrics ? (name, ms, ok) => metrics.observeRedisCommand(name, ms / 1000, !ok) : undefined,
  });
  metrics?.setKeyLimitsLocalSource(() => keys.gate.limiterMode === 'local');
  const balance = new BalanceService({ store, pool, config });
  const admin = createAdminRouter({ ...adminDeps(config, store, pool, balance, refresher, lifecycle, replicaId), keys });
  const middleware: Koa.Middleware[] = [];
  if (opts.tracing?.enabled) middleware.push(createTracingMiddleware(opts.tracing.tracer));
  if (logger) middleware.push(createRequestLogger(logger, { quietPaths: QUIET_PATHS }));
  if (metrics) middleware.push(createMetricsMiddleware(metrics));
  const routers: Router[] = [admin];
  if (metrics && !config.metrics.port) routers.push(metricsRouter(metrics));
  const { app, listener } = createApp({
    config,
    store,
    pool,
    client,
    lifecycle,
    admission,
    keys,
    models,
    middleware,
    scopes: createRequestScopes({
      logger,
      loggerOptions: { quietPaths: QUIET_PATHS },
      metrics,
      tracer: opts.tracing?.enabled ? opts.tracing.tracer : undefined,
    }),
    routers,
    extraRoutes: [serveAdminUi()],
    observer: createRequestObserver(metrics),
    onServerError: (err, request) =>
      (request.log ?? logger)?.error({ err: describe(err), path: request.path }, 'request failed with a server error'),
  });

  let server: Server | undefined;
  let metricsServer: Server | undefined;
  return {
    app,
    config,
    store,
    pool,
    client,
    balance,
    models,
    lifecycle,
    replicaId,
    keys,
    async listen() {
      const maxHeaderSize = config.limits.maxHeaderBytes;
      server = createServer({ keepAliveTimeout: 65_000, maxHeaderSize }, listener);
      server.requestTimeout = 0;
      answerClientErrorsAsAnthropic(server, maxHeaderSize);
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(config.port, config.host, () => resolve());
      });
      if (metrics && config.metrics.port) {
        const metricsApp = new (await import('koa')).default();
        metricsApp.use(metricsRouter(metrics).routes());
        metricsApp.use(notFoundAsAnthropic);
        metricsServer = createServer({ maxHeaderSize }, metricsApp.callback());
        answerClientErrorsAsAnthropic(metricsServer, maxHeaderSize);
        await new Promise<void>((resolve) => metricsServer!.listen(config.metrics.port, config.host, () => resolve()));
      }
      return { url: urlOf(server), server };
    },
    async close(graceMs = config.shutdown.graceMs, closeOpts: CloseOptions = {}) {
      const deadline = Date.now() + graceMs;
      lifecycle.markDraining();
      const delay = Math.min(Math.max(0, closeOpts.readinessDelayMs ?? 0), graceMs);
      if (delay > 0 && server?.listening) await new Promise((resolve) => setTimeout(resolve, delay));
      const closed = server ? new Promise<void>((resolve) => server!.close(() => resolve())) : Promise.resolve();
      server?.closeIdleConnections();
      await lifecycle.drain(Math.max(0, deadline - Date.now()));
      server?.closeAllConnections();
      await closed;
      pool.dispose();
      await Promise.allSettled([keys.close(), models.close(), store.close(), client.close(), refresher.close(), balance.close()]);
      if (metricsServer) await new Promise<void>((resolve) => metricsServer!.close(() => resolve()));
    },
  };
}

function adminDeps(
  config: GatewayConfig,
  store: CredentialStore,
  pool: CredentialPool,
  balance: BalanceService,
  refresher: TokenRefresher,
  lifecycle: Lifecycle,
  replicaId: string,
): AdminDeps {
  return {
    adminApiKey: config.adminApiKey,
    store,
    replicaId,
    configMachineId: config.machineId,
    defaultEndpoint: config.defaultEndpoint,
    inFlight: (id) => pool.inFlight(id),
    currentId: () => pool.currentId(),
    getMode: () => pool.mode,
    setMode: async (mode) => {
      await store.setSetting(LOAD_BALANCING_MODE, mode);
      if (store.kind === 'memory' && config.configPath) await persistModeToConfig(config.configPath, mode);
    },
    refreshToken: async (id) => {
      await pool.accessTokenFor(id, { force: true });
    },
    validateNewCredential: async (candidate) => {
      if (candidate.authMethod === 'api_key') return {};
      const refreshed = await refresher.refresh({ ...candidate, id: -1 });
      return {
        accessToken: refreshed.accessToken,
        ...(refreshed.refreshToken ? { refreshToken: refreshed.refreshToken } : {}),
        ...(refreshed.profileArn ? { profileArn: refreshed.profileArn } : {}),
        ...(refreshed.expiresAt ? { expiresAt: refreshed.expiresAt } : {}),
      };
    },
    getBalance: (id, options) => balance.getBalance(id, options),
    listReplicas: async (): Promise<ReplicaInfo[]> => {
      if (store.kind !== 'redis') {
        return [{ id: replicaId, lastSeen: new Date().toISOString(), inFlight: lifecycle.inFlight }];
      }
      const replicas = await (store as RedisCredentialStore).listReplicas();
      return replicas.map((r) => ({
        id: r.id,
        lastSeen: new Date(r.lastSeen).toISOString(),
        inFlight: Number(r.info.inFlight ?? 0),
      }));
    },
  };
}

function urlOf(server: Server): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

function describe(err: unknown): { name: string; message: string } {
  return err instanceof Error ? { name: err.name, message: err.message } : { name: 'Error', message: String(err) };
}

/** The metrics listener's answer to anything but `GET /metrics`, in Anthropic's shape like every other. */
const notFoundAsAnthropic: Koa.Middleware = (ctx) => {
  const { status, body } = toAnthropicError(new NotFoundError(`Not found: ${ctx.method} ${ctx.path} (this listener serves GET /metrics)`));
  ctx.status = status;
  ctx.body = body;
};

/** `GET /metrics` in the Prometheus text format. */
function metricsRouter(metrics: GatewayMetrics): Router {
  const router = createRouter();
  router.get('/metrics', async (ctx) => {
    ctx.set('content-type', metrics.contentType);
    ctx.body = await metrics.metricsText();
  });
  return router;
}

/**
 * Every secret value the process knows (keys from config, tokens of every credential), for the
 * logger's last-line-of-defence scrubber. Recomputed only when credentials change.
 */
export function secretSource(config: GatewayConfig, store: Pick<CredentialStore, 'list' | 'onChange'>): () => readonly string[] {
  let cached: string[] | undefined;
  store.onChange(() => {
    cached = undefined;
  });
  return () => {
    if (cached) return cached;
    const values = [config.apiKey, config.adminApiKey, config.proxyPassword, config.countTokensApiKey, config.kiroApiKeyCredential, config.redis.password];
    for (const url of [config.redis.url, ...parseLockNodes(config.redis.lockNodes)]) values.push(urlPassword(url));
    for (const { credential } of store.list()) values.push(...secretsOf(credential));
    cached = values.filter((v) => v.length >= 8);
    return cached;
  };
}

/** The password in a `redis://user:password@host` URL; '' when there is none. */
function urlPassword(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}

const LOAD_BALANCING_MODE = 'loadBalancingMode';
/** Probes and scrapes, logged at debug when they succeed. */
const QUIET_PATHS = ['/healthz', '/readyz', '/metrics'];

/** The load-balancing mode is shared: an admin change on any replica reaches every pool. */
function followSharedMode(store: CredentialStore, pool: CredentialPool): void {
  const apply = (value: string | undefined) => {
    if (value === 'priority' || value === 'balanced') pool.setMode(value);
  };
  apply(store.getSetting(LOAD_BALANCING_MODE));
  store.onSettingChange((key, value) => {
    if (key === LOAD_BALANCING_MODE) apply(value);
  });
}

/** kiro.rs persists the mode in config.json; so does the single-process mode (atomically). */
async function persistModeToConfig(path: string, mode: string): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const json = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  json.loadBalancingMode = mode;
  await writeFileAtomic(path, `${JSON.stringify(json, null, 2)}\n`);
}
