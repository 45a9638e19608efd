/**
 * A real HTTP server mounting the admin router (and the UI middleware) over a real credential
 * store, with small recording fakes for the pool, refresher, balance service and cluster.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import Koa from 'koa';
import type { LoadBalancingMode } from '../../src/config.js';
import type { CredentialStore } from '../../src/credentials/store.js';
import type { Credential, CredentialRecord, CredentialStats } from '../../src/credentials/types.js';
import { EMPTY_STATS } from '../../src/credentials/types.js';
import { ApiError, AuthenticationError, NotFoundError } from '../../src/errors.js';
import { createAdminRouter } from '../../src/admin/routes.js';
import { serveAdminUi } from '../../src/admin/static.js';
import type { AdminDeps, Balance, ReplicaInfo } from '../../src/admin/types.js';

export const ADMIN_KEY = 'admin-key-for-tests-0123456789';

/** A refresh token long enough for kiro.rs's truncation check, unique per `tag`. */
export function longToken(tag: string): string {
  return `${tag}-${'r'.repeat(120)}`;
}

/**
 * Minimal in-process CredentialStore (the shared MemoryCredentialStore did not exist when these
 * tests were written). Same contract: sorted local reads, NotFoundError on unknown ids, max+1 ids,
 * change notifications; `undefined` in a patch removes the field, as a persisted store would.
 */
export class TestStore implements CredentialStore {
  readonly kind = 'memory' as const;
  private readonly records = new Map<number, CredentialRecord>();
  private readonly listeners = new Set<(id: number | null) => void>();
  /** Every durable write, for assertions. */
  readonly writes: Array<{ op: 'update' | 'add' | 'remove'; id: number; patch?: object }> = [];

  constructor(seed: ReadonlyArray<Credential & { stats?: Partial<CredentialStats> }> = []) {
    for (const { stats, ...credential } of seed) {
      this.records.set(credential.id, { credential, stats: { ...EMPTY_STATS, ...stats } });
    }
  }

  async init(): Promise<void> {}

  list(): readonly CredentialRecord[] {
    return [...this.records.values()].sort(
      (a, b) => a.credential.priority - b.credential.priority || a.credential.id - b.credential.id,
    );
  }

  get(id: number): CredentialRecord | undefined {
    return this.records.get(id);
  }

  async update(id: number, patch: Partial<Omit<Credential, 'id'>>): Promise<CredentialRecord> {
    const record = this.records.get(id);
    if (!record) throw new NotFoundError(`Credential ${id} not found`);
    const credential = { ...record.credential, ...patch } as Record<string, unknown>;
    for (const key of Object.keys(credential)) if (credential[key] === undefined) delete credential[key];
    const next = { credential: credential as unknown as Credential, stats: record.stats };
    this.records.set(id, next);
    this.writes.push({ op: 'update', id, patch });
    this.emit(id);
    return next;
  }

  async add(credential: Omit<Credential, 'id'>): Promise<CredentialRecord> {
    const id = Math.max(0, ...this.records.keys()) + 1;
    const record = { credential: { ...credential, id }, stats: { ...EMPTY_STATS } };
    this.records.set(id, record);
    this.writes.push({ op: 'add', id });
    this.emit(id);
    return record;
  }

  async remove(id: number): Promise<void> {
    if (!this.records.delete(id)) throw new NotFoundError(`Credential ${id} not found`);
    this.writes.push({ op: 'remove', id });
    this.emit(id);
  }

  updateStats(id: number, mutate: (current: Readonly<CredentialStats>) => Partial<CredentialStats>): void {
    const record = this.records.get(id);
    if (!record) return;
    const stats = { ...record.stats, ...mutate(record.stats) } as Record<string, unknown>;
    for (const key of Object.keys(stats)) if (stats[key] === undefined) delete stats[key];
    this.records.set(id, { credential: record.credential, stats: stats as unknown as CredentialStats });
    this.emit(id);
  }

  async withRefreshLock<T>(id: number, fn: (fresh: CredentialRecord, signal: AbortSignal) => Promise<T>): Promise<T> {
    const record = this.records.get(id);
    if (!record) throw new NotFoundError(`Credential ${id} not found`);
    return fn(record, new AbortController().signal);
  }

  onChange(listener: (id: number | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  health() {
    return { ok: true, degraded: false };
  }

  async close(): Promise<void> {}

  private emit(id: number | null): void {
    for (const l of this.listeners) l(id);
  }
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
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text, body: parsed };
  };
}
