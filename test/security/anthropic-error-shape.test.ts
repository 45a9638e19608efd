/**
 * Every answer the server gives is in Anthropic's error shape — including what never reaches Koa
 * (requests Node's HTTP parser rejects, oversized headers, odd `Expect` values, CONNECT) and the
 * corners where Koa, a router or a static handler would answer on their own. Raw sockets, so the
 * malformed requests actually go out.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, startStack, type Stack } from '../helpers/stack.js';
import { rawExchange, rawRequest, type RawResponse } from '../helpers/raw-http.js';

const MAX_HEADER_BYTES = 32 * 1024;

let stack: Stack;
let metricsUrl: string;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  const metricsPort = await freePort();
  stack = await startStack({ env: { KIRO_METRICS_PORT: String(metricsPort) } });
  metricsUrl = `http://127.0.0.1:${metricsPort}`;
});

afterAll(async () => {
  await stack?.close();
});

function expectAnthropicError(res: RawResponse, status: number, type: string, what: string): void {
  expect(res.socketError, `${what}: connection failed`).toBeUndefined();
  expect(res.status, `${what}: ${res.body.slice(0, 200)}`).toBe(status);
  expect(res.headers['content-type'], what).toBe('application/json; charset=utf-8');
  expect(res.json, what).toEqual({ type: 'error', error: { type, message: expect.any(String) }, ...(res.json?.request_id ? { request_id: expect.any(String) } : {}) });
}

/** Sends a request head of about `headerBytes` in 1 KB header lines over many writes, then a body, as a real client would. */
function slowBigHead(url: string, headerBytes: number): Promise<RawResponse & { raw: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let socketError: string | undefined;
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', (err: NodeJS.ErrnoException) => (socketError = err.code ?? err.message));
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('utf8');
      const end = raw.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of raw.slice(0, Math.max(0, end)).split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      let json: unknown;
      try {
        json = JSON.parse(raw.slice(end + 4));
      } catch {
        json = undefined;
      }
      resolve({ raw, status, headers, body: raw.slice(end + 4), json, ...(socketError ? { socketError } : {}) });
    });
    socket.write(`POST /v1/messages HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\ncontent-length: 65536\r\nconnection: close\r\n`);
    let sent = 0;
    const more = () => {
      if (socket.destroyed) return;
      if (sent < headerBytes) {
        socket.write(`x-filler-${sent}: ${'a'.repeat(1000)}\r\n`);
        sent += 1020;
        setImmediate(more);
      } else {
        socket.write('\r\n');
        socket.write('x'.repeat(65536));
      }
    };
    more();
  });
}

describe("requests Node's HTTP parser rejects get Anthropic errors", () => {
  const malformed: Array<[string, string]> = [
    ['garbage request line', 'GARBAGE\r\n\r\n'],
    ['lower-case method', 'get /v1/models HTTP/1.1\r\nhost: x\r\n\r\n'],
    ['unknown method token', 'GE(T /v1/models HTTP/1.1\r\nhost: x\r\n\r\n'],
    ['backslash target', 'GET \\api\\admin\\credentials HTTP/1.1\r\nhost: x\r\n\r\n'],
    ['space in target', 'GET /v1/mod els HTTP/1.1\r\nhost: x\r\n\r\n'],
    ['bad HTTP version', 'GET /v1/models HTTP/9.Z\r\nhost: x\r\n\r\n'],
    ['header line without colon', 'GET /v1/models HTTP/1.1\r\nhost: x\r\nthis is not a header\r\n\r\n'],
    ['control character in a header value', 'GET /v1/models HTTP/1.1\r\nhost: x\r\nx-a: b\u0001c\r\n\r\n'],
    ['content-length and transfer-encoding', 'POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['two different content-lengths', 'POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello'],
    ['bad chunk size', 'POST /v1/messages HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'],
  ];
  for (const [label, head] of malformed) {
    it(label, async () => {
      expectAnthropicError(await rawExchange(stack.url, head), 400, 'invalid_request_error', label);
    });
  }

  it(`headers over the ${MAX_HEADER_BYTES}-byte limit: 431 request_too_large naming the limit`, async () => {
    const res = await rawRequest(stack.url, 'GET', '/v1/models', { 'x-api-key': API_KEY, 'x-big': 'a'.repeat(MAX_HEADER_BYTES + 1) });
    expectAnthropicError(res, 431, 'request_too_large', 'oversized header');
    expect(res.json.error.message).toContain(String(MAX_HEADER_BYTES));
  });

  it('headers just under the limit are served', async () => {
    const res = await rawRequest(stack.url, 'GET', '/v1/models', { 'x-api-key': API_KEY, 'x-big': 'a'.repeat(MAX_HEADER_BYTES - 1024) });
    expect(res.status).toBe(200);
  });

  it('a 70 KB request head sent over many writes, then a body, gets the 431 instead of a reset', async () => {
    const res = await slowBigHead(stack.url, 70 * 1024);
    expectAnthropicError(res, 431, 'request_too_large', '70 KB head');
  });

  it('an Expect other than 100-continue: 417 invalid_request_error', async () => {
    const res = await rawRequest(stack.url, 'POST', '/v1/messages', { 'x-api-key': API_KEY, expect: 'something-else' }, { model: 'x' });
    expectAnthropicError(res, 417, 'invalid_request_error', 'Expect');
  });

  it('CONNECT is answered, not dropped', async () => {
    const res = await rawExchange(stack.url, 'CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n');
    expectAnthropicError(res, 400, 'invalid_request_error', 'CONNECT');
  });
});

describe('answers Koa, routers or the admin UI would give on their own are Anthropic errors too', () => {
  const cases: Array<[method: string, target: string, status: number, type: string]> = [
    ['GET', '/v1/messages', 404, 'not_found_error'],
    ['PUT', '/v1/messages', 404, 'not_found_error'],
    ['PROPFIND', '/v1/messages', 404, 'not_found_error'],
    ['PATCH', '/api/admin/credentials', 401, 'authentication_error'],
    ['GET', '/nowhere', 404, 'not_found_error'],
    ['POST', '/admin', 404, 'not_found_error'],
    ['DELETE', '/admin/index.html', 404, 'not_found_error'],
    ['PUT', '/admin/assets/x.js', 404, 'not_found_error'],
    ['POST', '/healthz', 404, 'not_found_error'],
    ['POST', '/', 404, 'not_found_error'],
  ];
  for (const [method, target, status, type] of cases) {
    it(`${method} ${target}`, async () => {
      expectAnthropicError(await rawRequest(stack.url, method, target), status, type, `${method} ${target}`);
    });
  }

  it('the admin UI names the methods it serves', async () => {
    const res = await rawRequest(stack.url, 'POST', '/admin');
    expect(res.headers.allow).toBe('GET, HEAD');
  });

  it('HEAD of an unknown path: 404 with the JSON content type and no body', async () => {
    const res = await rawRequest(stack.url, 'HEAD', '/nowhere');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.body).toBe('');
  });

  it('the separate metrics listener: 404 not_found_error beside GET /metrics, parser errors as JSON', async () => {
    expect((await rawRequest(metricsUrl, 'GET', '/metrics')).status).toBe(200);
    expectAnthropicError(await rawRequest(metricsUrl, 'GET', '/'), 404, 'not_found_error', 'metrics /');
    expectAnthropicError(await rawExchange(metricsUrl, 'GARBAGE\r\n\r\n'), 400, 'invalid_request_error', 'metrics garbage');
  });
});
