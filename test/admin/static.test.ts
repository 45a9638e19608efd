import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot, serveAdminUi } from '../../src/admin/static.js';
import { listen, type TestServer } from './helpers.js';
import { toAnthropicError } from '../../src/errors.js';

const INDEX = '<!doctype html><html><body><div id="root"></div></body></html>';
const ASSET = 'console.log("ui")';

let tmp: string;
let ui: TestServer;
let missing: TestServer;

/** The gateway renders thrown errors as Anthropic's envelope; so does this app. */
function app(distDir: string): Koa {
  const a = new Koa();
  a.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const { status, body } = toAnthropicError(err);
      ctx.status = status;
      ctx.body = body;
    }
  });
  a.use(serveAdminUi({ distDir }));
  a.use((ctx) => {
    ctx.body = 'next';
  });
  return a;
}

/** Raw request, so paths like `/admin/../x` reach the server without client-side normalization. */
function raw(base: string, method: string, rawPath: string, headers: Record<string, string> = {}) {
  const { hostname, port } = new URL(base);
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
    (resolve, reject) => {
      const req = request({ hostname, port, method, path: rawPath, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    },
  );
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'admin-ui-'));
  const dist = path.join(tmp, 'dist');
  await mkdir(path.join(dist, 'assets'), { recursive: true });
  await writeFile(path.join(dist, 'index.html'), INDEX);
  await writeFile(path.join(dist, 'assets', 'index-AbC123.js'), ASSET);
  await writeFile(path.join(dist, 'assets', 'index-AbC123.css'), 'body{}');
  await writeFile(path.join(dist, 'robots.txt'), 'User-agent: *');
  await writeFile(path.join(tmp, 'secret.txt'), 'outside the build');
  ui = await listen(app(dist));
  missing = await listen(app(path.join(tmp, 'no-such-dist')));
});

afterAll(async () => {
  await ui.close();
  await missing.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('serveAdminUi', () => {
  it('serves index.html at /admin and /admin/, uncached, with a strict CSP', async () => {
    for (const p of ['/admin', '/admin/', '/admin/index.html']) {
      const res = await raw(ui.url, 'GET', p);
      expect(res.status).toBe(200);
      expect(res.body).toBe(INDEX);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    }
  });

  it('falls back to index.html for client-side routes', async () => {
    const res = await raw(ui.url, 'GET', '/admin/credentials/3');
    expect(res.status).toBe(200);
    expect(res.body).toBe(INDEX);
  });

  it('serves hashed assets with their content type and immutable caching', async () => {
    const js = await raw(ui.url, 'GET', '/admin/assets/index-AbC123.js');
    expect(js.status).toBe(200);
    expect(js.body).toBe(ASSET);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
    const css = await raw(ui.url, 'GET', '/admin/assets/index-AbC123.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const txt = await raw(ui.url, 'GET', '/admin/robots.txt');
    expect(txt.headers['cache-control']).toBe('no-cache');
  });

  it('answers 404, not index.html, for a missing hashed asset', async () => {
    const res = await raw(ui.url, 'GET', '/admin/assets/index-OLD.js');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body).error.type).toBe('not_found_error');
  });

  it('answers 304 to a conditional request for an unchanged file', async () => {
    const first = await raw(ui.url, 'GET', '/admin/assets/index-AbC123.js');
    const etag = first.headers.etag as string;
    expect(etag).toBeTruthy();
    const again = await raw(ui.url, 'GET', '/admin/assets/index-AbC123.js', { 'if-none-match': etag });
    expect(again.status).toBe(304);
  });

  it('answers HEAD with headers only', async () => {
    const res = await raw(ui.url, 'HEAD', '/admin/assets/index-AbC123.js');
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(ASSET.length));
    expect(res.body).toBe('');
  });

  it('never serves files outside the build directory', async () => {
    for (const p of [
      '/admin/../secret.txt',
      '/admin/%2e%2e/secret.txt',
      '/admin/%2e%2e%2fsecret.txt',
      '/admin/assets/..%2f..%2fsecret.txt',
      '/admin/..%5csecret.txt',
      '/admin/%2e%2e%5c%2e%2e%5csecret.txt',
    ]) {
      const res = await raw(ui.url, 'GET', p);
      expect(res.body, p).not.toContain('outside the build');
    }
  });

  it('rejects bad encodings and NUL bytes with 400', async () => {
    for (const p of ['/admin/%E0%A4%A', '/admin/index.html%00.js']) {
      const res = await raw(ui.url, 'GET', p);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error.type).toBe('invalid_request_error');
    }
  });

  it('answers methods other than GET and HEAD with a 404 in Anthropic shape naming the allowed ones', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await raw(ui.url, method, '/admin/');
      expect(res.status).toBe(404);
      expect(res.headers.allow).toBe('GET, HEAD');
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(JSON.parse(res.body)).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: expect.stringContaining('GET or HEAD') } });
    }
  });

  it('passes other paths through', async () => {
    for (const p of ['/', '/administrator', '/api/admin/credentials', '/v1/messages']) {
      expect((await raw(ui.url, 'GET', p)).body).toBe('next');
    }
  });

  it('answers 500 api_error naming the build command when the UI has not been built', async () => {
    const res = await raw(missing.url, 'GET', '/admin/');
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body).error).toMatchObject({ type: 'api_error', message: expect.stringContaining('npm run build') });
  });

  it('finds the package root from src/admin', () => {
    expect(packageRoot()).toBe(path.resolve(import.meta.dirname, '..', '..'));
  });
});
