/**
 * Real gateway processes for the cluster tests: `node dist/src/main.js` spawned N times, sharing one
 * Redis (or none: memory mode) and one simulator running in the test process. Everything is HTTP and
 * real processes, so `kill9()` is a real SIGKILL.
 *
 * dist/ is built here when it is missing or older than src/ (`npx tsc -p tsconfig.build.json`, once
 * per test file, serialized across parallel test files by a lock directory). Set
 * KIRO_CLUSTER_SKIP_BUILD=1 to use dist/ as it is (it must exist).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CredentialFileEntry } from '../../src/credentials/types.js';
import { parseJsonOr } from './http-body.js';
import { ADMIN_KEY, API_KEY, gatewayEnv, writeCredentials } from './stack.js';

/** The repository root: the nearest folder above this file with a package.json (this file also runs compiled, from dist/test/helpers/, for `npm run loadtest`). */
export const ROOT = findRoot(fileURLToPath(new URL('.', import.meta.url)));

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}
export const GATEWAY_MAIN = join(ROOT, 'dist', 'src', 'main.js');
const START_TIMEOUT_MS = 20_000;
const BUILD_TIMEOUT_MS = 180_000;
const OUTPUT_TAIL = 32_000;

// --- build --------------------------------------------------------------------------------------

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function isStale(): boolean {
  if (!existsSync(GATEWAY_MAIN)) return true;
  return statSync(GATEWAY_MAIN).mtimeMs < newestMtime(join(ROOT, 'src'));
}

let building: Promise<void> | undefined;

/**
 * Makes sure dist/src/main.js exists and is not older than src/. Builds with tsc under a lock so
 * parallel test files do not compile at the same time. Type errors elsewhere in the tree do not stop
 * tsc from emitting; only a missing main.js afterwards fails (with tsc's output). Asynchronous, so
 * the test process keeps serving its sockets (simulator, Redis clients) while tsc runs.
 */
export function ensureBuilt(): Promise<void> {
  building ??= build().catch((err: unknown) => {
    building = undefined;
    throw err;
  });
  return building;
}

async function build(): Promise<void> {
  if (process.env.KIRO_CLUSTER_SKIP_BUILD === '1') {
    if (!existsSync(GATEWAY_MAIN)) throw new Error(`${GATEWAY_MAIN} is missing: run \`npm run build\` first (KIRO_CLUSTER_SKIP_BUILD=1 is set)`);
    return;
  }
  const lock = join(tmpdir(), `kiro-gw-build-${createHash('sha1').update(ROOT).digest('hex').slice(0, 12)}.lock`);
  const deadline = Date.now() + BUILD_TIMEOUT_MS;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another test file is building; a lock older than the build timeout is a leftover of a killed run.
      try {
        if (Date.now() - statSync(lock).mtimeMs > BUILD_TIMEOUT_MS) rmdirSync(lock);
      } catch {
        // gone meanwhile
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${lock}`);
      await sleep(250);
    }
  }
  try {
    if (!isStale()) return;
    const res = await new Promise<{ status: number | null; output: string }>((resolve) => {
      const child = spawn('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const add = (c: Buffer) => (output = (output + c.toString('utf8')).slice(-20_000));
      child.stdout.on('data', add);
      child.stderr.on('data', add);
      const timer = setTimeout(() => child.kill('SIGKILL'), BUILD_TIMEOUT_MS);
      child.once('close', (status) => {
        clearTimeout(timer);
        resolve({ status, output });
      });
    });
    if (!existsSync(GATEWAY_MAIN)) {
      throw new Error(
        `could not build ${GATEWAY_MAIN} (\`npx tsc -p tsconfig.build.json\` exited ${res.status}):\n${res.output}` +
          '\nRun `npm run build` and fix the errors, or set KIRO_CLUSTER_SKIP_BUILD=1 to use an existing dist/.',
      );
    }
    if (res.status !== 0) process.stderr.write(`[replicas] tsc reported errors but emitted dist/ (using it):\n${res.output.slice(0, 2000)}\n`);
  } finally {
    rmdirSync(lock);
  }
}

// --- processes ----------------------------------------------------------------------------------

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** One gateway process. */
export interface Replica {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Last ~32 KB of stdout+stderr, for failure messages. */
  output(): string;
  /** Resolves with the first output line matching `pattern` (already seen lines count). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGKILL; resolves once the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful drain); SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
  readonly alive: boolean;
}

export interface ReplicaOptions {
  name?: string;
  simUrl: string;
  credentialsPath: string;
  redisUrl?: string;
  /** Extra KIRO_* settings (override the defaults). */
  env?: Record<string, string>;
  /** How long to wait for the "listening on" line (default 20 s). */
  startTimeoutMs?: number;
}

/** Starts one gateway process and waits for its "listening on" line. */
export async function startReplica(opts: ReplicaOptions): Promise<Replica> {
  await ensureBuilt();
  const name = opts.name ?? 'gw';
  const env: Record<string, string> = {
    ...gatewayEnv(opts.simUrl),
    // info, so the "listening on <url>" line is printed; the gateway logs nothing per request.
    KIRO_LOG_LEVEL: 'info',
    KIRO_METRICS_ENABLED: 'false',
    KIRO_SHUTDOWN_GRACE_MS: '1000',
    ...(opts.redisUrl ? { KIRO_REDIS_URL: opts.redisUrl } : {}),
    ...opts.env,
  };
  const child = spawn(process.execPath, [GATEWAY_MAIN, '--credentials', opts.credentialsPath], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));

  let tail = '';
  const watchers = new Set<(text: string) => void>();
  const onData = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
    for (const w of watchers) w(tail);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);

  const waitForOutput = (pattern: RegExp, timeoutMs = 10_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (text: string) => {
        const m = pattern.exec(text);
        if (!m) return false;
        cleanup();
        resolve(m[0]);
        return true;
      };
      const onExit = () => {
        cleanup();
        reject(new Error(`${name} exited before printing ${pattern}:\n${tail}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${name} did not print ${pattern} within ${timeoutMs} ms:\n${tail}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        watchers.delete(check);
        child.off('exit', onExit);
      };
      if (check(tail)) return;
      watchers.add(check);
      child.once('exit', onExit);
    });

  const alive = () => child.exitCode === null && child.signalCode === null;
  let url: string;
  try {
    const line = await waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)/, opts.startTimeoutMs ?? START_TIMEOUT_MS);
    url = /http:\/\/127\.0\.0\.1:\d+/.exec(line)![0];
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }

  return {
    name,
    url,
    pid: child.pid!,
    child,
    output: () => tail,
    waitForOutput,
    get alive() {
      return alive();
    },
    async kill9() {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
    async stop(timeoutMs = 5_000) {
      if (!alive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface ClusterOptions {
  /** Number of processes. */
  n: number;
  simUrl: string;
  /** Omit for memory mode (then n should be 1). */
  redisUrl?: string;
  /** Entries for a fresh credentials.json, or the path of an existing one. */
  credentials: CredentialFileEntry[] | CredentialFileEntry | string;
  /** Settings for every process. */
  env?: Record<string, string>;
  /** Settings of process i (0-based), on top of `env`. */
  envFor?: (i: number) => Record<string, string>;
}

export interface Cluster {
  readonly replicas: Replica[];
  readonly credentialsPath: string;
  /** Stops every process still running (SIGKILL: tests do not need a graceful drain here). */
  close(): Promise<void>;
}

/** Starts `n` gateway processes in parallel sharing one credentials.json (and Redis, when given). */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  await ensureBuilt();
  const credentialsPath = typeof opts.credentials === 'string' ? opts.credentials : writeCredentials(opts.credentials);
  const started = await Promise.allSettled(
    Array.from({ length: opts.n }, (_, i) =>
      startReplica({
        name: `gw${i}`,
        simUrl: opts.simUrl,
        credentialsPath,
        redisUrl: opts.redisUrl,
        env: { ...opts.env, ...opts.envFor?.(i) },
      }),
    ),
  );
  const replicas = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(replicas.map((r) => r.kill9()));
    throw failed.reason;
  }
  return {
    replicas,
    credentialsPath,
    async close() {
      await Promise.all(replicas.map((r) => r.kill9()));
    },
  };
}

// --- HTTP helpers -------------------------------------------------------------------------------

/** A small non-streaming Messages request; resolves with the status and parsed body. */
export async function message(
  url: string,
  opts: { text?: string; model?: string; stream?: boolean; signal?: AbortSignal } = {},
): Promise<{ status: number; body: any; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: JSON.stringify({
      model: opts.model ?? 'claude-sonnet-4-5-20250929',
      max_tokens: 64,
      stream: opts.stream ?? false,
      messages: [{ role: 'user', content: opts.text ?? 'Say hello' }],
    }),
    signal: opts.signal ?? AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: parseJsonOr(text, text), ms: performance.now() - started }; // SSE or plain text as text
}

/** One credential as `GET /api/admin/credentials` lists it (the fields the tests read). */
export interface AdminCredential {
  id: number;
  priority: number;
  disabled: boolean;
  disabledReason?: string;
  disabledUntil: string | null;
  failureCount: number;
  refreshFailureCount: number;
  successCount: number;
  failureTotal: number;
  creditsUsed: number;
  refreshTokenHash: string | null;
  expiresAt: string | null;
  lastError: string | null;
  cooldownUntil: string | null;
}

/** `GET /api/admin/credentials` on one replica, by id. */
export async function adminCredentials(url: string): Promise<Map<number, AdminCredential>> {
  const res = await fetch(`${url}/api/admin/credentials`, { headers: { 'x-api-key': ADMIN_KEY }, signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`GET ${url}/api/admin/credentials: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { credentials: AdminCredential[] };
  return new Map(body.credentials.map((c) => [c.id, c]));
}

/** POST to an admin route; resolves with status and parsed body. */
export async function adminPost(url: string, path: string, body: unknown = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/api/admin${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: parseJsonOr(text, text) };
}

/** `GET /readyz`. */
export async function readyz(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: await res.json() };
}

/** SHA-256 hex, as the admin API shows `refreshTokenHash`. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
