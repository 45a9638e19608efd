import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type Koa from 'koa';
import type { GatewayConfig } from './config.js';
import { createApp } from './server.js';
import { Lifecycle } from './lifecycle.js';
import { KiroClient } from './kiro/client.js';
import type { CredentialStore } from './credentials/store.js';
import { envApiKeyCredential, loadCredentialsFile } from './credentials/file.js';
import { MemoryCredentialStore } from './credentials/memory-store.js';
import type { RedisCredentialStore } from './credentials/redis-store.js';
import { TokenRefresher } from './credentials/refresh.js';
import { CredentialPool } from './credentials/pool.js';
import { BalanceService } from './credentials/balance.js';
import { createAdminRouter } from './admin/routes.js';
import { serveAdminUi } from './admin/static.js';
import type { AdminDeps, ReplicaInfo } from './admin/types.js';

/** A gateway assembled from configuration; `listen` binds it, `close` drains and releases everything. */
export interface Gateway {
  readonly app: Koa;
  readonly config: GatewayConfig;
  readonly store: CredentialStore;
  readonly pool: CredentialPool;
  readonly client: KiroClient;
  readonly balance: BalanceService;
  readonly lifecycle: Lifecycle;
  readonly replicaId: string;
  listen(): Promise<{ url: string; server: Server }>;
  /** Stops accepting, drains open streams for up to `graceMs`, then releases connections. */
  close(graceMs?: number): Promise<void>;
}

export interface BuildOptions {
  replicaId?: string;
  /** Logs a message from components that do not take a pino logger. */
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

function usesRedis(config: GatewayConfig): boolean {
  return Boolean(config.redis.url || config.redis.sentinels || config.redis.clusterNodes);
}

async function createStore(
  config: GatewayConfig,
  replicaId: string,
  log: BuildOptions['log'],
  heartbeat: () => Record<string, unknown>,
): Promise<CredentialStore> {
  if (!usesRedis(config)) {
    return MemoryCredentialStore.fromFile(config.credentialsPath, config, {
      onPersistError: (err) => log?.('error', 'could not write credentials.json', { error: String(err) }),
    });
  }
  const loaded = await loadCredentialsFile(config.credentialsPath, { machineId: config.machineId });
  const env = envApiKeyCredential(config);
  const { RedisCredentialStore } = await import('./credentials/redis-store.js');
  return new RedisCredentialStore({
    url: config.redis.url || undefined,
    sentinels: config.redis.sentinels || undefined,
    sentinelName: config.redis.sentinelName || undefined,
    clusterNodes: config.redis.clusterNodes || undefined,
    keyPrefix: config.redis.keyPrefix,
    resyncIntervalMs: config.redis.resyncIntervalMs,
    lockTtlMs: config.redis.lockTtlMs,
    seed: env ? [env, ...loaded.credentials] : loaded.credentials,
    replicaId,
    log,
    heartbeat,
  });
}

/** Builds store, pool, client and app from configuration. */
export async function buildGateway(config: GatewayConfig, opts: BuildOptions = {}): Promise<Gateway> {
  const replicaId = opts.replicaId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const lifecycle = new Lifecycle();
  const store = await createStore(config, replicaId, opts.log, () => ({ inFlight: lifecycle.inFlight }));
  await store.init();
  const refresher = new TokenRefresher(config);
  const pool = new CredentialPool({ store, refresher, config, log: opts.log });
  const client = new KiroClient(config);
  const balance = new BalanceService({ store, pool, config });
  const admin = createAdminRouter(adminDeps(config, store, pool, balance, refresher, lifecycle, replicaId));
  const app = createApp({ config, store, pool, client, lifecycle, routers: [admin], extraRoutes: [serveAdminUi()] });

  let server: Server | undefined;
  return {
    app,
    config,
    store,
    pool,
    client,
    balance,
    lifecycle,
    replicaId,
    async listen() {
      server = createServer({ keepAliveTimeout: 65_000 }, app.callback());
      server.requestTimeout = 0;
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(config.port, config.host, () => resolve());
      });
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return { url: `http://${host}:${address.port}`, server };
    },
    async close(graceMs = config.shutdown.graceMs) {
      const closed = server ? new Promise<void>((resolve) => server!.close(() => resolve())) : Promise.resolve();
      server?.closeIdleConnections();
      await lifecycle.drain(graceMs);
      server?.closeAllConnections();
      await closed;
      pool.dispose();
      await Promise.allSettled([store.close(), client.close(), refresher.close(), balance.close()]);
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
    inFlight: (id) => pool.inFlight(id),
    currentId: () => pool.currentId(),
    getMode: () => pool.mode,
    setMode: (mode) => pool.setMode(mode),
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
