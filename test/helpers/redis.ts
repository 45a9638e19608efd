/**
 * Starts real `redis-server` processes for tests (the house rule: no Redis mocks).
 * Each call gets its own free port and, when persistence is asked for, its own data directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REDIS_BINARY = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

/** Options of {@link startRedis}. */
export interface RedisServerOptions {
  /** Data directory; a fresh temporary one when omitted. */
  dir?: string;
  /** Persist every write to an append-only file (fsync always) so data survives `restart()` and `kill9()`. */
  appendonly?: boolean;
}

/** A running redis-server owned by the test. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Final graceful shutdown (SIGTERM): waits for exit and deletes the temporary data directory. Use `restart()` to bounce. */
  stop(): Promise<void>;
  /** Hard kill (SIGKILL), as when a node dies; does not wait. */
  kill9(): void;
  /** Starts the server again on the same port and directory (stopping it first if it still runs). */
  restart(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

let binaryChecked = false;

/** Throws an actionable error when redis-server is not installed; tests must fail, never skip. */
function assertBinary(): void {
  if (binaryChecked) return;
  const probe = spawnSync(REDIS_BINARY, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `redis-server is required by these tests but "${REDIS_BINARY}" could not be run ` +
        `(${probe.error?.message ?? probe.stderr}). Install it with \`apt-get install redis-server\` ` +
        '(.ci/run does this), or point REDIS_SERVER_BIN at the binary.',
    );
  }
  binaryChecked = true;
}

/** Asks the OS for a free TCP port. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket; resolves true on `+PONG`. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let data = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
  });
}

/**
 * Starts a redis-server on a free port and waits until it answers PING.
 * @example
 * const redis = await startRedis({ appendonly: true });
 * afterAll(() => redis.stop());
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  assertBinary();
  const port = await freePort();
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'kiro-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push(...(options.appendonly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const proc = spawn(REDIS_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout?.on('data', (c: Buffer) => (output = (output + c.toString('utf8')).slice(-4000)));
    proc.stderr?.on('data', (c: Buffer) => (output = (output + c.toString('utf8')).slice(-4000)));
    running.add(proc);
    exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    void exited.then(() => running.delete(proc));
    child = proc;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`redis-server on port ${port} exited during start-up:\n${output}`);
      }
      if (await ping(port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms:\n${output}`);
  };

  const isRunning = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const stop = async (): Promise<void> => {
    if (!isRunning()) return;
    child!.kill('SIGTERM');
    const timer = setTimeout(() => child?.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  await launch();

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await stop();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
    kill9() {
      if (isRunning()) child!.kill('SIGKILL');
    },
    async restart() {
      if (isRunning()) await stop();
      else await exited;
      await launch();
    },
  };
}
