/**
 * A real nginx in front of the gateway replicas, configured for SSE the way the chart's Ingress
 * annotations configure ingress-nginx: no response or request buffering, long read/send timeouts,
 * HTTP/1.1 keep-alive to the upstreams. It runs as the current user from a temporary prefix
 * (`-p <dir> -c <dir>/nginx.conf`, `daemon off`, pid, logs and temp files inside the prefix).
 *
 * `setUpstreams()` rewrites the upstream block and reloads (SIGHUP): old workers keep serving the
 * streams they hold until those end, new connections go to the new set, as when an Endpoints
 * object changes under ingress-nginx. Client connections are not kept alive (see below).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

const START_TIMEOUT_MS = 10_000;
/** Longer than any stream a load profile sends (the chart's Ingress uses 3600 s as well). */
const PROXY_TIMEOUT_S = 3600;

export interface Nginx {
  /** `http://127.0.0.1:<port>`: what clients (k6) talk to. */
  readonly url: string;
  readonly port: number;
  /** The upstream replica URLs currently configured. */
  readonly upstreams: readonly string[];
  /** Rewrites the upstream set and reloads; resolves once the new configuration serves. */
  setUpstreams(urls: readonly string[]): Promise<void>;
  /** Last lines of nginx's error log, for failure messages. */
  errorLog(): string;
  /** Graceful quit (SIGQUIT), SIGKILL after a timeout; removes the prefix directory. */
  stop(): Promise<void>;
}

function hostPort(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port}`;
}

function renderConf(dir: string, port: number, upstreams: readonly string[], generation: number): string {
  const asRoot = process.getuid?.() === 0;
  const servers = upstreams.length > 0 ? upstreams.map((u) => `    server ${hostPort(u)} max_fails=0;`) : ['    server 127.0.0.1:9 down;'];
  return [
    'daemon off;',
    'master_process on;',
    // As root the workers would switch to `nobody`, who cannot write the temp prefix.
    ...(asRoot ? [`user ${userInfo().username};`] : []),
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} warn;`,
    'events { worker_connections 8192; }',
    'http {',
    `  access_log off;`,
    `  client_body_temp_path ${join(dir, 'client_body')};`,
    `  proxy_temp_path ${join(dir, 'proxy')};`,
    `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
    `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
    `  scgi_temp_path ${join(dir, 'scgi')};`,
    '  client_max_body_size 50m;',
    // No client keep-alive: a reload (the local stand-in for an Endpoints change; ingress-nginx
    // rebalances in Lua without one) makes old workers close idle client connections, and a request
    // racing that close fails with EOF. Upstream connections stay kept alive.
    '  keepalive_timeout 0;',
    '  upstream kiro_gateway {',
    '    least_conn;',
    ...servers,
    '    keepalive 256;',
    '  }',
    '  server {',
    `    listen 127.0.0.1:${port} backlog=4096;`,
    `    location = /__nginx_generation { return 200 "${generation}"; }`,
    '    location / {',
    '      proxy_pass http://kiro_gateway;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    '      proxy_set_header Host $host;',
    '      proxy_buffering off;',
    '      proxy_request_buffering off;',
    '      proxy_cache off;',
    `      proxy_read_timeout ${PROXY_TIMEOUT_S}s;`,
    `      proxy_send_timeout ${PROXY_TIMEOUT_S}s;`,
    '      proxy_connect_timeout 5s;',
    // A replica that refuses (draining, dead) is skipped for the next one, for requests that sent nothing yet.
    '      proxy_next_upstream error timeout http_502 http_503;',
    '      proxy_next_upstream_tries 3;',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}

async function waitForGeneration(url: string, generation: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}):\n${log()}`);
    try {
      const res = await fetch(`${url}/__nginx_generation`, { signal: AbortSignal.timeout(1_000) });
      if ((await res.text()) === String(generation)) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`nginx did not serve configuration ${generation} within ${START_TIMEOUT_MS} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Starts nginx (`binary`, e.g. from `requireTool('nginx', …)`) balancing over `upstreams`. */
export async function startNginx(binary: string, upstreams: readonly string[]): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'kiro-nginx-'));
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  let current = [...upstreams];
  let generation = 1;
  writeFileSync(conf, renderConf(dir, port, current, generation));
  let output = '';
  const errorLog = () => {
    let log = '';
    try {
      log = readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      // not written yet
    }
    return (output + log).slice(-64_000);
  };
  // -e: the error log before the configuration is read (else nginx tries /var/log/nginx/error.log).
  const child = spawn(binary, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
  child.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForGeneration(url, generation, child, errorLog);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }

  let reloading = Promise.resolve();
  return {
    url,
    port,
    get upstreams() {
      return current;
    },
    errorLog,
    setUpstreams(urls) {
      // Reloads one at a time: each waits for its own generation to serve.
      reloading = reloading.then(async () => {
        current = [...urls];
        generation++;
        writeFileSync(conf, renderConf(dir, port, current, generation));
        child.kill('SIGHUP');
        await waitForGeneration(url, generation, child, errorLog);
      });
      return reloading;
    },
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGQUIT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
