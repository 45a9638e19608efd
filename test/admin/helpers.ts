/**
 * A real HTTP server mounting the admin router (and the UI middleware) over a real credential
 * store, with small recording fakes for the pool, refresher, balance service and cluster.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import Koa from 'koa';
import type { KiroEndpoint, LoadBalancingMode } from '../../src/config.js';
import type { CredentialStore } from '../../src/store/store.js';
import { MemoryCredentialStore } from '../../src/store/memory/memory-store.js';
import type { Credential, CredentialStats } from '../../src/credentials/types.js';
import { ApiError, AuthenticationError, NotFoundError } from '../../src/errors.js';
import { createAdminRouter } from '../../src/admin/routes.js';
import { serveAdminUi } from '../../src/admin/static.js';
import type { AdminDeps } from '../../src/admin/types.js';
import type { Balance, ReplicaInfo } from '../../src/admin/wire-types.js';
import { parseJsonOr } from '../helpers/http-body.js';

export const ADMIN_KEY = 'admin-key-for-tests-0123456789';

export type SeedCredential = Credential & { stats?: Partial<CredentialStats> };

/** A refresh token long enough for kiro.rs's truncation check, unique per `tag`. */
export function longToken(tag: string): string {
  return `${tag}-${'r'.repeat(120)}`;
}

/**
 * The real single-process store over `seed`, persisting to `path` (array-form credentials.json)
 * when given. Seeded stats are applied through `updateStats`, as the pool would.
 */
export async function createStore(seed: ReadonlyArray<SeedCredential>, path: string | null = null): Promise<MemoryCredentialStore> {
  const credentials = seed.map(({ stats: _stats, ...credential }) => credential);
  const store = new MemoryCredentialStore({ credentials, form: 'array', path });
  await store.init();
  for (const { id, stats } of seed) if (stats) store.updateStats(id, () => stats);
  return store;
}

/** Records what the routes asked of their dependencies. */
export interface FakeCalls {
  refreshed: number[];
  validated: Array<Omit<Credential, 'id'>>;
  balances: Array<{ id: number; fresh: boolean }>;
  modes: LoadBalancingMode[];
}

export interface FakeOptions {
  adminApiKey?: string;
  /** Credential ids whose balance query fails with an upstream error. */
  balanceFails?: number[];
  replicasFail?: boolean;
  currentId?: () => number | null;
  configMachineId?: string;
  defaultEndpoint?: KiroEndpoint;
}

export const NEW_ACCESS_TOKEN = 'SECRET-ACCESS-FROM-VALIDATION-0000';

/**
 * Fakes with recognisable failure triggers: a refresh token containing `REJECT` is refused by the
 * "upstream" (401), `NETFAIL` fails like a network error; refreshing a credential whose token
 * contains `FAIL` fails with a 502 whose message quotes the token (to test redaction).
 */
export function fakeDeps(store: CredentialStore, options: FakeOptions = {}): { deps: AdminDeps; calls: FakeCalls } {
  const calls: FakeCalls = { refreshed: [], validated: [], balances: [], modes: [] };
  let mode: LoadBalancingMode = 'priority';
  const deps: AdminDeps = {
    adminApiKey: options.adminApiKey ?? ADMIN_KEY,
    store,
    inFlight: (id) => (id === 1 ? 2 : 0),
    currentId: options.currentId,
    getMode: () => mode,
    setMode: async (m) => {
      calls.modes.push(m);
      mode = m;
    },
    async refreshToken(id) {
      calls.refreshed.push(id);
      const record = store.get(id);
      if (!record) throw new NotFoundError(`Credential ${id} not found`);
      const token = record.credential.refreshToken ?? '';
      if (token.includes('FAIL')) {
        throw new ApiError(`refresh failed: upstream 500 for token ${token}`, { status: 502 });
      }
      await store.update(id, { accessToken: `SECRET-ACCESS-REFRESHED-${id}`, expiresAt: new Date(Date.now() + 3600_000).toISOString() });
    },
    async validateNewCredential(c) {
      calls.validated.push(c);
      if (c.refreshToken?.includes('REJECT')) {
        throw new AuthenticationError(`upstream answered 401 for refresh token ${c.refreshToken}`);
      }
      if (c.refreshToken?.includes('NETFAIL')) throw new Error('connect ECONNREFUSED 127.0.0.1:1');
      if (c.authMethod === 'api_key') return {};
      return {
        accessToken: NEW_ACCESS_TOKEN,
        profileArn: 'arn:aws:codewhisperer:us-east-1:123456789012:profile/TEST',
        expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      };
    },
    async getBalance(id, opts) {
      calls.balances.push({ id, fresh: Boolean(opts?.fresh) });
      if (!store.get(id)) throw new NotFoundError(`Credential ${id} not found`);
      if (options.balanceFails?.includes(id)) throw new ApiError('getUsageLimits answered 503', { status: 502 });
      const balance: Balance = {
        id,
        subscriptionTitle: 'KIRO PRO+',
        currentUsage: 12.37,
        usageLimit: 1100,
        remaining: 1087.63,
        usagePercentage: 1.12,
        nextResetAt: 1767225600,
      };
      return balance;
    },
    async listReplicas() {
      if (options.replicasFail) throw new Error('redis unreachable');
      const now = new Date().toISOString();
      const replicas: ReplicaInfo[] = [
        { id: 'replica-b', lastSeen: now, inFlight: 3 },
        { id: 'replica-a', lastSeen: now, inFlight: 2 },
      ];
      return replicas;
    },
    replicaId: 'replica-a',
    configMachineId: options.configMachineId,
    defaultEndpoint: options.defaultEndpoint,
  };
  return { deps, calls };
}

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `app` on an ephemeral port of 127.0.0.1. */
export async function listen(app: Koa): Promise<TestServer> {
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** The gateway's shape, reduced to what the admin API needs: UI, admin routes, then a 404. */
export function adminApp(deps: AdminDeps, distDir?: string): Koa {
  const app = new Koa();
  app.silent = true;
  const router = createAdminRouter(deps);
  app.use(serveAdminUi(distDir ? { distDir } : {}));
  app.use(router.routes());
  app.use((ctx) => {
    ctx.status = 404;
    ctx.body = { type: 'error', error: { type: 'not_found_error', message: 'outside the admin API' } };
  });
  return app;
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  text: string;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Small fetch wrapper; `key: null` sends no key; `raw` sends the body as is. Records every body. */
export function client(baseUrl: string, seen: string[] = []) {
  return async function call(
    method: string,
    path: string,
    options: { body?: unknown; raw?: string; key?: string | null; headers?: Record<string, string> } = {},
  ): Promise<JsonResponse> {
    const headers: Record<string, string> = { ...options.headers };
    const key = options.key === undefined ? ADMIN_KEY : options.key;
    if (key !== null && !headers.authorization) headers['x-api-key'] = key;
    let body: string | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    seen.push(text);
    return { status: res.status, headers: res.headers, text, body: parseJsonOr(text) };
  };
}
