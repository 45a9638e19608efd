/**
 * A real Prometheus server for tests: Debian's `prometheus` binary, started on a free loopback port
 * with a temporary config and data directory, and a client for its HTTP query API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './tools.js';
import { freePort } from '../../loadtest/stack/ports.js';

export { freePort };

export const PROMETHEUS_HINT = '`apt-get install prometheus` (Debian)';
const START_TIMEOUT_MS = 30_000;

/** One instant-query result series. */
export interface PromSeries {
  metric: Record<string, string>;
  value: [number, string];
}

/** What the query API answered. */
export type QueryAnswer = { status: 'success'; result: PromSeries[] } | { status: 'error'; error: string };

export interface PrometheusServer {
  readonly url: string;
  /** Instant query through `GET /api/v1/query`. */
  query(expr: string): Promise<QueryAnswer>;
  /** `GET /api/v1/<path>` as JSON (`targets`, `rules`, ...). */
  api(path: string): Promise<any>;
  /** Last output lines, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts Prometheus with `config` (YAML text) and waits until `/-/ready` answers 200. */
export async function startPrometheus(config: string): Promise<PrometheusServer> {
  const binary = requireTool('prometheus', PROMETHEUS_HINT);
  const dir = mkdtempSync(join(tmpdir(), 'kiro-prom-'));
  const configPath = join(dir, 'prometheus.yml');
  writeFileSync(configPath, config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    binary,
    [`--config.file=${configPath}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let tail = '';
  const add = (c: Buffer) => (tail = (tail + c.toString('utf8')).slice(-16_000));
  child.stdout!.on('data', add);
  child.stderr!.on('data', add);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${tail}`);
    try {
      if ((await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) })).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus was not ready within ${START_TIMEOUT_MS} ms:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const api = async (path: string) => (await fetch(`${url}/api/v1/${path}`, { signal: AbortSignal.timeout(10_000) })).json();
  return {
    url,
    api,
    async query(expr: string): Promise<QueryAnswer> {
      const res = await fetch(`${url}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ query: expr }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as { status: string; data?: { result: PromSeries[] }; error?: string };
      return body.status === 'success' ? { status: 'success', result: body.data!.result } : { status: 'error', error: body.error ?? `HTTP ${res.status}` };
    },
    output: () => tail,
    stop,
  };
}
