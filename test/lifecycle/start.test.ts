/**
 * What a newcomer gets from `npm start` on a fresh clone: no config.json, no credentials.json. The
 * gateway must start on the in-memory store, answer its probes, and explain every refusal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, GATEWAY_MAIN } from '../helpers/replicas.js';

let child: ChildProcess;
let url: string;
let output = '';

beforeAll(async () => {
  await ensureBuilt();
  const cwd = mkdtempSync(join(tmpdir(), 'kiro-fresh-'));
  child = spawn(process.execPath, [GATEWAY_MAIN], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KIRO_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}:\n${output}`)));
    setTimeout(() => reject(new Error(`gateway did not start:\n${output}`)), 20_000).unref();
  });
}, 120_000);

afterAll(() => {
  child?.kill('SIGKILL');
});

describe('a fresh start without any configuration', () => {
  it('listens on the in-memory store and is ready', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { store: { kind: string } }).store.kind).toBe('memory');
  });

  it('warns that no client key and no credentials are configured', () => {
    expect(output).toMatch(/no apiKey configured/);
    expect(output).toMatch(/no credentials loaded/);
  });

  it('refuses client requests with an Anthropic error that says what to configure', async () => {
    const res = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'anything' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('authentication_error');
    expect(body.error.message).toMatch(/KIRO_CLIENT_API_KEY/);
  });

  it('says the admin API is off and how to turn it on', async () => {
    const res = await fetch(`${url}/api/admin/credentials`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/KIRO_ADMIN_API_KEY/);
  });
});
