/**
 * A real nginx (Debian's) as the load balancer in front of gateway processes, configured from the
 * chart's ingress-nginx annotations: each annotation the chart renders maps to the directive
 * ingress-nginx would write, and an annotation without a mapping fails the test, so the chart and
 * this stand-in cannot drift apart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '../helpers/tools.js';
import { freePort } from '../../loadtest/stack/ports.js';

const PREFIX = 'nginx.ingress.kubernetes.io/';

/** ingress-nginx annotation → nginx directives (as ingress-nginx's template writes them). */
const DIRECTIVES: Record<string, (value: string) => string[]> = {
  'proxy-buffering': (v) => [`proxy_buffering ${v};`],
  'proxy-request-buffering': (v) => [`proxy_request_buffering ${v};`],
  'proxy-read-timeout': (v) => [`proxy_read_timeout ${v}s;`],
  'proxy-send-timeout': (v) => [`proxy_send_timeout ${v}s;`],
  'proxy-body-size': (v) => [`client_max_body_size ${v};`],
  'proxy-http-version': (v) => [`proxy_http_version ${v};`, 'proxy_set_header Connection "";'],
};

/** nginx directives for a set of Ingress annotations. */
export function directivesFor(annotations: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(annotations)) {
    if (!key.startsWith(PREFIX)) continue;
    const map = DIRECTIVES[key.slice(PREFIX.length)];
    if (!map) throw new Error(`the chart renders ${key}, which the nginx stand-in does not know: add its directive to test/deploy/nginx.ts`);
    out.push(...map(value));
  }
  return out;
}

export interface Nginx {
  readonly url: string;
  readonly config: string;
  stop(): Promise<void>;
}

/** Starts nginx on a free port, balancing over `upstreamPorts` on 127.0.0.1. */
export async function startNginx(upstreamPorts: number[], annotations: Record<string, string>): Promise<Nginx> {
  const bin = requireTool('nginx', '.ci/run (apt-get install nginx)');
  const dir = mkdtempSync(join(tmpdir(), 'kiro-nginx-'));
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  chmodSync(dir, 0o777);
  const port = await freePort();
  const config = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream gateway {
${upstreamPorts.map((p) => `    server 127.0.0.1:${p} max_fails=0;`).join('\n')}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://gateway;
      proxy_next_upstream error timeout;
      ${directivesFor(annotations).join('\n      ')}
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), config);
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) chmodSync(join(dir, sub), 0o777);
  const child: ChildProcess = spawn(bin, ['-e', join(dir, 'error.log'), '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}):\n${output}\n${safeRead(join(dir, 'error.log'))}`);
    try {
      await fetch(`${url}/healthz`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`nginx did not listen:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    config,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGQUIT');
        const t = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
