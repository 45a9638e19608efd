/**
 * `npm run demo`: the simulator and the gateway wired together; the printed curl command works.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../helpers/replicas.js';
import { ensureUiBuilt } from '../admin/browser.js';

let child: ChildProcess;
let output = '';

beforeAll(async () => {
  await ensureBuilt();
  ensureUiBuilt(); // `npm run demo` builds it first (predemo)
  child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'demo.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KIRO_PORT: '0', KIRO_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (/Ctrl-C stops both/.test(output)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`demo exited with ${code}:\n${output}`)));
    setTimeout(() => reject(new Error(`demo did not start:\n${output}`)), 20_000).unref();
  });
}, 120_000);

afterAll(() => {
  child?.kill('SIGTERM');
});

describe('npm run demo', () => {
  it('prints a curl command that streams an answer from the simulator through the gateway', async () => {
    const gateway = /gateway\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    const key = /x-api-key: ([^']+)'/.exec(output)?.[1];
    expect(gateway).toBeDefined();
    expect(key).toBeDefined();
    const res = await fetch(`${gateway}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key! },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'Hello' }] }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('event: message_start');
    expect(text).toContain('event: message_stop');
  });

  it('serves the admin UI it advertises', async () => {
    const admin = /admin UI\s+(http:\/\/127\.0\.0\.1:\d+\/admin)/.exec(output)?.[1];
    expect(admin).toBeDefined();
    const res = await fetch(admin!);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<div id="root">');
  });
});
