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
import { loadCredentialsFile } from './credentials/file.js';
import { MemoryCredentialStore } from './credentials/memory-store.js';
import { TokenRefresher } from './credentials/refresh.js';
import { CredentialPool } from './credentials/pool.js';
import { BalanceService } from './credentials/balance.js';

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

async function createStore(config: GatewayConfig, replicaId: string, log: BuildOptions['log']): Promise<CredentialStore> {
  const loaded = await loadCredentialsFile(config.credentialsPath);
  if (!usesRedis(config)) {
    return new MemoryCredentialStore({ ...loaded, path: config.credentialsPath });
  }
  const { RedisCredentialStore } = await import('./credentials/redis-store.js');
  return new RedisCredentialStore({
    url: config.redis.url || undefined,
    sentinels: config.redis.sentinels || undefined,
    sentinelName: config.redis.sentinelName || undefined,
    clusterNodes: config.redis.clusterNodes || undefined,
    keyPrefix: config.redis.keyPrefix,
    resyncIntervalMs: config.redis.resyncIntervalMs,
    lockTtlMs: config.redis.lockTtlMs,
    seed: loaded.credentials,
    replicaId,
    log,
  });
}

/** Builds store, pool, client and app from configuration. */
export async function buildGateway(config: GatewayConfig, opts: BuildOptions = {}): Promise<Gateway> {
  const replicaId = opts.replicaId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const store = await createStore(config, replicaId, opts.log);
  await store.init();
  const refresher = new TokenRefresher(config);
  const pool = new CredentialPool({ store, refresher, config, log: opts.log });
  const client = new KiroClient(config);
  const balance = new BalanceService({ store, pool, config });
  const lifecycle = new Lifecycle();
  const app = createApp({ config, store, pool, client, lifecycle });

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
      await Promise.allSettled([store.close(), client.close()]);
    },
  };
}
