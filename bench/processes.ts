/**
 * The processes of the bench: the simulator and gateways (built, from dist/), a throwaway
 * redis-server, and the CPU time each one used.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../loadtest/stack/ports.js';

const ROOT = new URL('../../', import.meta.url).pathname;
export const REDIS_BINARY = process.env.REDIS_SERVER_BIN ?? 'redis-server';

/** Starts `node <script>` and resolves with the URL it prints once listening. */
export function startProcess(script: string, args: string[], env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, script), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let seen = '';
    const onData = (data: Buffer) => {
      seen += data.toString();
      const match = /https?:\/\/(?:127\.0\.0\.1|localhost|\[::1\]|0\.0\.0\.0):\d+/.exec(seen);
      if (match) {
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        resolve({ url: match[0].replace('0.0.0.0', '127.0.0.1'), child });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${seen}`)));
    setTimeout(() => reject(new Error(`${script} did not start: ${seen}`)), 20_000).unref();
  });
}

export const MS_PER_TICK = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** CPU time a process has used so far in user space and in the kernel, in clock ticks. */
export function cpuTicksSplit(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]), system: Number(fields[12]) };
}

/** Resident set size of a process now, in MiB (VmRSS of /proc/<pid>/status). */
export function rssMiB(pid: number): number {
  return rssSplitMiB(pid).total;
}

/**
 * Resident set size now, in MiB, and its file-backed part (RssFile: the pages of the node binary
 * and shared libraries the process has touched, shared with every other node process on the host;
 * the rest is anonymous memory: V8's heap, malloc, buffers).
 */
export function rssSplitMiB(pid: number): { total: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kB = (field: string) => {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
    return m ? Number(m[1]) / 1024 : NaN;
  };
  return { total: kB('VmRSS'), file: kB('RssFile') };
}

/**
 * Samples a process's RSS every `everyMs` until `stop()`, which returns the largest seen (MiB) and
 * the file-backed part of that sample.
 */
export function peakRss(pid: number, everyMs = 50): { stop(): { total: number; file: number } } {
  let peak = rssSplitMiB(pid);
  const timer = setInterval(() => {
    try {
      const now = rssSplitMiB(pid);
      if (now.total > peak.total) peak = now;
    } catch {
      // the process is gone
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

/** CPU time (user + system) a process has used so far, in clock ticks. */
export function cpuTicks(pid: number): number {
  const { user, system } = cpuTicksSplit(pid);
  return user + system;
}

/**
 * Starts a gateway on a port chosen here and waits for /healthz: at log level `warn` the gateway
 * does not print its "listening on" line, and a quiet log keeps logging out of the measurement.
 * `root` runs another checkout's build (a baseline), `nodeArgs` go to node (`--cpu-prof`).
 */
export async function startGateway(
  credentialsPath: string,
  env: Record<string, string>,
  opts: { root?: string; nodeArgs?: string[] } = {},
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const main = join(opts.root ?? ROOT, 'dist/src/main.js');
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), main, '--credentials', credentialsPath], {
    env: { ...process.env, ...env, KIRO_PORT: String(port), KIRO_HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}: ${stderr}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, child };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not start within 20 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A throwaway redis-server (no persistence) on a free loopback port; undefined when not installed. */
export async function startRedisServer(): Promise<{ url: string; port: number; child: ChildProcess } | undefined> {
  const probe = spawnSync(REDIS_BINARY, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return undefined;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kiro-bench-redis-'));
  const child = spawn(REDIS_BINARY, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
  client.on('error', () => {});
  const deadline = Date.now() + 10_000;
  try {
    for (;;) {
      try {
        if (client.status === 'wait') await client.connect();
        if ((await client.ping()) === 'PONG') return { url, port, child };
      } catch {
        // starting
      }
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.disconnect();
  }
}
