/**
 * A real nginx (Debian's) for tests, started in the foreground from a config file whose upstream
 * host names, listen port and /tmp paths are rewritten to a temporary prefix and 127.0.0.1 ports.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './prometheus.js';
import { requireTool } from './tools.js';

export interface NginxServer {
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts nginx from `config` with each `upstreams` key (e.g. `gateway-1:8080`) replaced by its
 * value (`127.0.0.1:41234`), `listen <port>;` replaced by a free loopback port, and `/tmp/` paths moved
 * into a temporary directory.
 */
export async function startNginx(config: string, upstreams: Record<string, string>, listenPort: number): Promise<NginxServer> {
  const binary = requireTool('nginx', '`apt-get install nginx` (Debian)');
  const dir = mkdtempSync(join(tmpdir(), 'kiro-nginx-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  let text = config.replaceAll('/tmp/', `${dir}/`).replace(new RegExp(`listen ${listenPort};`), `listen 127.0.0.1:${port};`);
  for (const [from, to] of Object.entries(upstreams)) text = text.replaceAll(`server ${from} `, `server ${to} `);
  const path = join(dir, 'nginx.conf');
  writeFileSync(path, text);
  const child = spawn(binary, ['-p', dir, '-c', path, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const add = (c: Buffer) => (tail = (tail + c.toString('utf8')).slice(-8_000));
  child.stdout.on('data', add);
  child.stderr.on('data', add);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGQUIT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}:\n${tail}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not listen within 10 s:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `http://127.0.0.1:${port}`, output: () => tail, stop };
}
