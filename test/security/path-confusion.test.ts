/**
 * Path confusion: routing and authentication must see the same path. Every admin route (reads and
 * writes) and every client route is requested without a key under spellings that some HTTP layer
 * could read as that route — case variants, trailing and doubled slashes, percent-encoded letters
 * and slashes, dot segments, `;` parameters, absolute-form targets, and headers that lie about the
 * host, prefix or original URL. Each answer must be 401 (authenticated) or 404, in Anthropic's
 * error shape; never served. Raw sockets, so no client normalises the paths.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, API_KEY, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';
import { rawRequest, type RawResponse } from '../helpers/raw-http.js';

interface Route {
  method: string;
  path: string;
  body?: unknown;
}

const MESSAGE = { model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] };

const ADMIN_ROUTES: Route[] = [
  { method: 'GET', path: '/api/admin/credentials' },
  { method: 'POST', path: '/api/admin/credentials', body: { refreshToken: refreshTokenFor('added'), authMethod: 'social' } },
  { method: 'DELETE', path: '/api/admin/credentials/2' },
  { method: 'POST', path: '/api/admin/credentials/1/disabled', body: { disabled: true } },
  { method: 'POST', path: '/api/admin/credentials/1/priority', body: { priority: 7 } },
  { method: 'POST', path: '/api/admin/credentials/2/reset', body: {} },
  { method: 'POST', path: '/api/admin/credentials/1/refresh', body: {} },
  { method: 'GET', path: '/api/admin/credentials/1/balance' },
  { method: 'GET', path: '/api/admin/config/load-balancing' },
  { method: 'PUT', path: '/api/admin/config/load-balancing', body: { mode: 'balanced' } },
  { method: 'GET', path: '/api/admin/cluster' },
];

const CLIENT_ROUTES: Route[] = [
  { method: 'GET', path: '/v1/models' },
  { method: 'GET', path: '/v1/models/claude-sonnet-4-6' },
  { method: 'POST', path: '/v1/messages', body: MESSAGE },
  { method: 'POST', path: '/v1/messages/count_tokens', body: MESSAGE },
  { method: 'POST', path: '/cc/v1/messages', body: MESSAGE },
  { method: 'POST', path: '/cc/v1/messages/count_tokens', body: MESSAGE },
];

function segmentsOf(path: string): string[] {
  return path.split('/').slice(1);
}

function join(segments: string[], separators?: string[]): string {
  return segments.map((s, i) => (separators?.[i] ?? '/') + s).join('');
}

/** `%61`-style encoding of the first letter of a segment (lower and upper hex). */
function encodeFirstLetter(segment: string, upper: boolean): string {
  const i = segment.search(/[a-z]/i);
  if (i < 0) return segment;
  const hex = segment.charCodeAt(i).toString(16);
  return `${segment.slice(0, i)}%${upper ? hex.toUpperCase() : hex}${segment.slice(i + 1)}`;
}

/** Every spelling of `path` that is not byte-for-byte the route, each labelled. */
export function pathVariants(path: string): Array<[label: string, target: string]> {
  const segs = segmentsOf(path);
  const out: Array<[string, string]> = [
    ['upper case', path.toUpperCase()],
    ['title case', join(segs.map((s) => s.charAt(0).toUpperCase() + s.slice(1)))],
    ['trailing slash', `${path}/`],
    ['two trailing slashes', `${path}//`],
    ['leading double slash', `/${path}`],
    ['trailing dot segment', `${path}/.`],
    ['trailing ;', `${path};`],
    ['encoded space', `${path}%20`],
  ];
  segs.forEach((_, i) => {
    const at = (f: (s: string) => string) => join(segs.map((s, j) => (j === i ? f(s) : s)));
    const sep = (value: string) => join(segs, segs.map((__, j) => (j === i ? value : '/')));
    out.push(
      [`segment ${i} upper`, at((s) => s.toUpperCase())],
      [`segment ${i} %xx letter`, at((s) => encodeFirstLetter(s, false))],
      [`segment ${i} %XX letter`, at((s) => encodeFirstLetter(s, true))],
      [`segment ${i} ;param`, at((s) => `${s};x=1`)],
      [`segment ${i} ;jsessionid`, at((s) => `${s};jsessionid=0`)],
    );
    if (i > 0) {
      out.push(
        [`separator ${i} //`, sep('//')],
        [`separator ${i} %2F`, sep('%2F')],
        [`separator ${i} %2f`, sep('%2f')],
        [`separator ${i} %5C`, sep('%5C')],
        [`separator ${i} /./`, sep('/./')],
        [`separator ${i} /%2e/`, sep('/%2e/')],
        [`separator ${i} /x/../`, sep('/x/../')],
        [`separator ${i} /x/%2e%2e/`, sep('/x/%2e%2e/')],
        [`separator ${i} /x/..%2F`, sep('/x/..%2F')],
      );
    }
  });
  out.push(['prefix climbed from /admin', `/admin/..${path}`], ['prefix climbed from /ADMIN', `/ADMIN/../..${path}`]);
  return out;
}

/** Headers that some proxy or framework would use as the "real" host, prefix or URL. */
function lyingHeaders(path: string): Array<[label: string, headers: Record<string, string>]> {
  return [
    ['Host', { host: 'admin.internal' }],
    ['X-Forwarded-Host', { 'x-forwarded-host': 'localhost', 'x-forwarded-proto': 'https', 'x-forwarded-for': '127.0.0.1' }],
    ['X-Forwarded-Prefix', { 'x-forwarded-prefix': '/api/admin' }],
    ['X-Original-URL', { 'x-original-url': path }],
    ['X-Rewrite-URL', { 'x-rewrite-url': path }],
    ['X-HTTP-Method-Override', { 'x-http-method-override': 'GET', 'x-method-override': 'GET' }],
  ];
}

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    credentials: [
      { refreshToken: refreshTokenFor('path-a'), authMethod: 'social', priority: 0 },
      { refreshToken: refreshTokenFor('path-b'), authMethod: 'social', priority: 1, disabled: true },
    ],
  });
});

afterAll(async () => {
  await stack?.close();
});

function expectRefused(res: RawResponse, what: string): void {
  expect([401, 404], `${what} answered ${res.status}: ${res.body.slice(0, 200)}`).toContain(res.status);
  expect(res.json?.type, `${what}: Anthropic error shape`).toBe('error');
  expect(res.json?.error?.type, what).toBe(res.status === 401 ? 'authentication_error' : 'not_found_error');
}

async function expectNothingChanged(): Promise<void> {
  const res = await rawRequest(stack.url, 'GET', '/api/admin/credentials', { 'x-api-key': ADMIN_KEY });
  expect(res.status).toBe(200);
  expect(res.json.total).toBe(2);
  const [a, b] = res.json.credentials;
  expect(a).toMatchObject({ id: 1, disabled: false, priority: 0 });
  expect(b).toMatchObject({ id: 2, disabled: true, priority: 1 });
  const mode = await rawRequest(stack.url, 'GET', '/api/admin/config/load-balancing', { 'x-api-key': ADMIN_KEY });
  expect(mode.json).toEqual({ mode: 'priority' });
}

describe('path confusion: no route is served without its key', () => {
  it('the exact routes are served with the key (the matrix is not vacuous)', async () => {
    expect((await rawRequest(stack.url, 'GET', '/api/admin/credentials', { 'x-api-key': ADMIN_KEY })).status).toBe(200);
    expect((await rawRequest(stack.url, 'GET', '/api/admin/cluster', { authorization: `Bearer ${ADMIN_KEY}` })).status).toBe(200);
    expect((await rawRequest(stack.url, 'GET', '/v1/models', { 'x-api-key': API_KEY })).status).toBe(200);
    const counted = await rawRequest(stack.url, 'POST', '/v1/messages/count_tokens', { 'x-api-key': API_KEY }, MESSAGE);
    expect(counted.status).toBe(200);
  });

  for (const [area, routes] of [
    ['admin', ADMIN_ROUTES],
    ['client', CLIENT_ROUTES],
  ] as const) {
    it(`${area} routes: every spelling, every lying header, HEAD of reads: 401 or 404`, async () => {
      let checked = 0;
      for (const route of routes) {
        const targets: Array<[string, string]> = [['exact', route.path], ...pathVariants(route.path)];
        targets.push(['absolute-form', `${stack.url}${route.path}`], ['absolute-form upper', `${stack.url}${route.path.toUpperCase()}`]);
        for (const [label, target] of targets) {
          const res = await rawRequest(stack.url, route.method, target, {}, route.body);
          expectRefused(res, `${route.method} ${target} (${label})`);
          if (route.method === 'GET') expect((await rawRequest(stack.url, 'HEAD', target)).status, `HEAD ${target}`).toBeOneOf([401, 404]);
          checked++;
        }
        for (const [label, headers] of lyingHeaders(route.path)) {
          for (const target of [route.path, route.path.toUpperCase(), `${route.path}/`]) {
            expectRefused(await rawRequest(stack.url, route.method, target, headers, route.body), `${route.method} ${target} with ${label}`);
            checked++;
          }
        }
      }
      expect(checked).toBeGreaterThan(routes.length * 40);
      await expectNothingChanged();
    });
  }

  it('headers naming an admin URL do not turn a public route into it', async () => {
    for (const [label, headers] of lyingHeaders('/api/admin/credentials')) {
      for (const target of ['/', '/healthz', '/readyz', '/admin']) {
        const res = await rawRequest(stack.url, 'GET', target, headers);
        expect(res.body, `${target} with ${label}`).not.toMatch(/"credentials"|"currentId"|refreshToken/);
      }
    }
  });

  it('admin UI static routes: case variants and traversal towards the API are 404', async () => {
    const targets = [
      '/ADMIN',
      '/Admin/',
      '/admin/../api/admin/credentials',
      '/admin/..%2Fapi/admin/credentials',
      '/admin/%2e%2e/api/admin/credentials',
      '/admin//api/admin/credentials',
      '/admin/./assets/index.js',
      '/admin/assets/..%2f..%2fpackage.json',
      '/admin/assets/%2e%2e/%2e%2e/package.json',
      '/admin;x=1/',
      '/admin/index.html;x',
      '/ADMIN/assets/index.js',
    ];
    for (const target of targets) {
      for (const method of ['GET', 'HEAD']) {
        const res = await rawRequest(stack.url, method, target);
        expect(res.status, `${method} ${target}`).toBe(404);
        if (method === 'GET') expect(res.json?.error?.type, target).toBe('not_found_error');
      }
    }
  });

  it("request targets Node's HTTP parser refuses (backslashes) never reach a route", async () => {
    for (const { method, path } of [...ADMIN_ROUTES, ...CLIENT_ROUTES]) {
      const res = await rawRequest(stack.url, method, path.replaceAll('/', '\\'));
      expect(res.status, path).toBe(400);
      expect(res.json?.error?.type, path).toBe('invalid_request_error');
    }
  });

  it('a CORS preflight carries no data; a plain OPTIONS is not a way in', async () => {
    const preflight = await rawRequest(stack.url, 'OPTIONS', '/API/ADMIN/credentials', {
      origin: 'https://evil.example',
      'access-control-request-method': 'GET',
    });
    expect(preflight.status).toBe(204);
    expect(preflight.body).toBe('');
    for (const target of ['/api/admin/credentials', '/API/ADMIN/credentials']) {
      const res = await rawRequest(stack.url, 'OPTIONS', target);
      expect([204, 401, 404], target).toContain(res.status);
      expect(res.body, target).not.toMatch(/"credentials"|refreshToken/);
    }
  });

  it("a credential's region cannot turn the upstream host into another one", async () => {
    for (const region of ['evil.example/', 'evil.example#', 'x.evil.example?', 'us-east-1.evil.example', 'US-EAST-1', '127.0.0.1:9']) {
      for (const field of ['region', 'authRegion', 'apiRegion']) {
        const res = await rawRequest(stack.url, 'POST', '/api/admin/credentials', { 'x-api-key': ADMIN_KEY }, {
          refreshToken: refreshTokenFor(`region-${field}`),
          authMethod: 'social',
          [field]: region,
        });
        expect(res.status, `${field}=${region}`).toBe(400);
        expect(res.json.error.message).toContain(field);
      }
    }
    await expectNothingChanged();
  });
});
