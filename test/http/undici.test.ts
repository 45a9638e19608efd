/**
 * src/http/undici.ts loads undici's dispatchers and request API from their files, not from the
 * package index (memory: see that file). These tests pin what that relies on: the files are the
 * index's own classes, `request` answers as the index's does (the oracle), the gateway's code never
 * imports the index at run time, and loading the module does not make Node load its bundled undici.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { promisify } from 'node:util';
import * as undiciIndex from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, ProxyAgent, request, Socks5ProxyAgent } from '../../src/http/undici.js';
import { ensureBuilt, ROOT } from '../helpers/replicas.js';
import { sourceFiles } from '../helpers/source-files.js';

let server: Server;
let origin: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    void text(req).then((body) => {
      res.setHeader('content-type', 'application/json');
      res.statusCode = req.url?.startsWith('/missing') ? 404 : 200;
      res.end(JSON.stringify({ method: req.method, url: req.url, body, auth: req.headers.authorization ?? null }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('undici from its own files', () => {
  it('exports the same classes as the package index', () => {
    expect(Agent).toBe(undiciIndex.Agent);
    expect(ProxyAgent).toBe(undiciIndex.ProxyAgent);
    expect(Socks5ProxyAgent).toBe(undiciIndex.Socks5ProxyAgent);
  });

  it.each([
    ['GET with a query', '/v1/thing?x=1&y=%20z', { method: 'GET' as const }],
    ['POST with a body and headers', '/token', { method: 'POST' as const, body: '{"a":1}', headers: { authorization: 'Bearer t', 'content-type': 'application/json' } }],
    ['a 404', '/missing/x', { method: 'GET' as const }],
  ])('request answers as the index’s request: %s', async (_name, path, opts) => {
    const dispatcher = new Agent();
    try {
      const ours = await request(`${origin}${path}`, { ...opts, dispatcher });
      const theirs = await undiciIndex.request(`${origin}${path}`, { ...opts, dispatcher });
      const [oursBody, theirsBody] = [await ours.body.text(), await theirs.body.text()];
      expect(ours.statusCode).toBe(theirs.statusCode);
      expect(ours.headers['content-type']).toBe(theirs.headers['content-type']);
      expect(oursBody).toBe(theirsBody);
      expect(JSON.parse(oursBody)).toMatchObject({ method: opts.method, url: path });
    } finally {
      await dispatcher.close();
    }
  });

  it('request accepts a URL object and honours an abort signal', async () => {
    const dispatcher = new Agent();
    try {
      const res = await request(new URL(`${origin}/u?q=1`), { method: 'GET', dispatcher });
      expect(JSON.parse(await res.body.text())).toMatchObject({ url: '/u?q=1' });
      await expect(request(`${origin}/late`, { method: 'GET', dispatcher, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    } finally {
      await dispatcher.close();
    }
  });

  it('the gateway’s code imports undici at run time only through src/http/undici.ts', () => {
    // `import type` is erased; a value import (or a dynamic one) loads the index.
    const offenders = sourceFiles(join(ROOT, 'src')).filter((path) => {
      if (path.endsWith(join('http', 'undici.ts'))) return false;
      const text = readFileSync(path, 'utf8');
      return /^import (?!type )[^;]*from 'undici';/m.test(text) || /import\('undici'\)/.test(text);
    });
    expect(offenders).toEqual([]);
  });

  it('loading it leaves undici’s index and Node’s bundled undici unloaded', async () => {
    await ensureBuilt();
    const script = `
      const m = await import(${JSON.stringify(join(ROOT, 'dist', 'src', 'http', 'undici.js'))});
      const { createRequire } = await import('node:module');
      const cache = createRequire(import.meta.url).cache;
      console.log(JSON.stringify({
        agent: typeof m.Agent,
        bundled: process.moduleLoadList.includes('NativeModule internal/deps/undici/undici'),
        index: Object.keys(cache).some((f) => /[\\\\/]undici[\\\\/]index\\.js$/.test(f)),
      }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
    expect(JSON.parse(stdout)).toEqual({ agent: 'function', bundled: false, index: false });
  });
});
