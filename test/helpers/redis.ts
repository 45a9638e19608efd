/**
 * Starts real `redis-server` processes for tests (the house rule: no Redis mocks).
 * Each call gets its own free port and, when persistence is asked for, its own data directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../loadtest/stack/ports.js';

const REDIS_BINARY = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

/** Options of {@link startRedis}. */
export interface RedisServerOptions {
  /** Data directory; a fresh temporary one when omitted. */
  dir?: string;
  /** Persist every write to an append-only file (fsync always) so data survives `restart()` and `kill9()`. */
  appendonly?: boolean;
  /** Cluster mode: a one-node cluster owning all 16384 slots (enough to enforce CROSSSLOT rules). */
  cluster?: boolean;
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

/** Process control shared by servers and sentinels. */
async function spawnServer(port: number, args: readonly string[], ownDir: string | undefined, afterFirstStart?: () => Promise<void>): Promise<RedisServer> {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let firstStart = true;

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
      if (await ping(port)) {
        if (firstStart) await afterFirstStart?.();
        firstStart = false;
        return;
      }
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
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
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

/** Assigns every slot to the single node and waits until the cluster reports `ok`. */
async function formOneNodeCluster(port: number): Promise<void> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await client.connect();
    await client.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!String(await client.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) {
      if (Date.now() > deadline) throw new Error(`one-node cluster on port ${port} did not reach cluster_state:ok`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.disconnect();
  }
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
  const ownDir = options.dir === undefined ? mkdtempSync(join(tmpdir(), 'kiro-redis-')) : undefined;
  const dir = options.dir ?? ownDir!;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push(...(options.appendonly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
  if (options.cluster) {
    // The bus port defaults to port + 10000, which may not exist for a high ephemeral port.
    const busPort = await freePort();
    args.push('--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-port', String(busPort));
    args.push('--cluster-announce-ip', '127.0.0.1'); // else CLUSTER SLOTS reports an empty host
  }
  return spawnServer(port, args, ownDir, options.cluster ? () => formOneNodeCluster(port) : undefined);
}

/**
 * Starts a Sentinel monitoring `master` under `name` (quorum 1) and waits until it knows the master.
 * Its `url` is the Sentinel's own address; pass `127.0.0.1:${port}` as the store's `sentinels`.
 */
export async function startSentinel(master: RedisServer, name = 'mymaster'): Promise<RedisServer> {
  assertBinary();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kiro-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${name} 1000`,
      '',
    ].join('\n'),
  );
  return spawnServer(port, [conf, '--sentinel'], dir, async () => {
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await client.connect();
      const addr = await client.call('SENTINEL', 'get-master-addr-by-name', name);
      if (!Array.isArray(addr)) throw new Error(`sentinel on port ${port} does not know master ${name}`);
    } finally {
      client.disconnect();
    }
  });
}
