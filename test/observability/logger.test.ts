import Router from '@koa/router';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createLogger,
  createRequestLogger,
  generateRequestId,
  type ObservabilityState,
} from '../../src/observability/logger.js';
import { REDACTED } from '../../src/observability/redact.js';
import { captureLogs, serve, sleep, waitFor, type Served } from './helpers.js';

/** Distinctive values so a leak anywhere in the output is easy to spot. */
const SECRETS = {
  refreshToken: 'rt_SECRET_refresh_0123456789abcdef',
  accessToken: 'aoa_SECRET_access_0123456789abcdef',
  clientSecret: 'cs_SECRET_client_0123456789abcdef',
  kiroApiKey: 'ksk_SECRET_kiro_0123456789abcdef',
  proxyPassword: 'pp_SECRET_proxy_0123456789abcdef',
  apiKey: 'sk_SECRET_gateway_0123456789abcdef',
  adminApiKey: 'adm_SECRET_admin_0123456789abcdef',
  bearer: 'bearer_SECRET_header_0123456789abcdef',
  xApiKey: 'xak_SECRET_header_0123456789abcdef',
  cookie: 'session=ck_SECRET_cookie_0123456789abcdef',
  password: 'pw_SECRET_password_0123456789abcdef',
  token: 'tk_SECRET_token_0123456789abcdef',
} as const;
const SECRET_VALUES = Object.values(SECRETS);

function expectNoSecrets(text: string): void {
  for (const s of SECRET_VALUES) expect(text, `leaked ${s}`).not.toContain(s);
  // the distinctive core of each value, in case a prefix was stripped
  expect(text).not.toMatch(/_SECRET_/);
}

describe('createLogger', () => {
  it('writes JSON lines with a string level', () => {
    const out = captureLogs();
    const log = createLogger({ level: 'info', pretty: false, destination: out });
    log.info({ inputTokens: 12 }, 'hello');
    log.debug('not written at info');
    const lines = out.json();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'hello', inputTokens: 12 });
  });

  it('never writes a secret field, at any depth, in headers, errors or child bindings', () => {
    const out = captureLogs();
    const log = createLogger({ level: 'trace', pretty: false, destination: out });
    const credential = {
      id: 1,
      authMethod: 'social',
      refreshToken: SECRETS.refreshToken,
      accessToken: SECRETS.accessToken,
      clientSecret: SECRETS.clientSecret,
      kiroApiKey: SECRETS.kiroApiKey,
      proxyPassword: SECRETS.proxyPassword,
    };
    const headers = {
      authorization: `Bearer ${SECRETS.bearer}`,
      'x-api-key': SECRETS.xApiKey,
      cookie: SECRETS.cookie,
      'content-type': 'application/json',
    };
    const original = JSON.stringify({ credential, headers });

    log.info(credential, 'top-level secret fields');
    log.info({ credential }, 'nested');
    log.info({ req: { method: 'POST', headers } }, 'request headers');
    log.info({ config: { apiKey: SECRETS.apiKey, adminApiKey: SECRETS.adminApiKey, proxyPassword: SECRETS.proxyPassword } }, 'config');
    log.info({ store: { records: [{ credential, stats: { successCount: 1 } }] } }, 'deep in an array');
    log.info({ a: { b: { c: { d: { e: { f: { password: SECRETS.password, token: SECRETS.token } } } } } } }, 'very deep');
    const err = Object.assign(new Error('upstream refused'), { request: { headers: { Authorization: `Bearer ${SECRETS.bearer}` } } });
    log.error({ err }, 'error with secret-bearing properties');
    log.error(new Error('wrapped', { cause: Object.assign(new Error('inner'), { refreshToken: SECRETS.refreshToken }) }));
    log.child({ credential: { id: 1, accessToken: SECRETS.accessToken } }).info('child bindings');
    log.child({ a: 1 }).child({ token: SECRETS.token }).info('grandchild bindings');

    const text = out.text();
    expectNoSecrets(text);
    expect(text).toContain(REDACTED);
    expect(out.json()).toHaveLength(10);
    // what is not secret survives
    const lines = out.json();
    expect(lines[2]).toMatchObject({ req: { method: 'POST', headers: { 'content-type': 'application/json' } } });
    expect(lines[6]).toMatchObject({ err: { message: 'upstream refused', type: 'Error' } });
    expect(JSON.stringify(lines[6])).toContain('stack');
    // and the caller's objects are untouched
    expect(JSON.stringify({ credential, headers })).toBe(original);
  });

  it('scrubs known secret values embedded in messages and ordinary fields', () => {
    const out = captureLogs();
    const known = [SECRETS.accessToken, SECRETS.refreshToken, SECRETS.apiKey];
    const log = createLogger({ level: 'info', pretty: false, destination: out, secrets: () => known });
    log.warn(`upstream echoed the token ${SECRETS.accessToken} back`);
    log.info({ note: `refresh with ${SECRETS.refreshToken}`, detail: { body: `key=${SECRETS.apiKey}` } }, 'odd fields');
    log.error(new Error(`HTTP 403 for ${SECRETS.accessToken}`));
    log.info('%s', SECRETS.refreshToken);
    const text = out.text();
    for (const s of known) expect(text).not.toContain(s);
    expect(out.json().map((l) => l.msg)).toEqual([
      `upstream echoed the token ${REDACTED} back`,
      'odd fields',
      `HTTP 403 for ${REDACTED}`,
      REDACTED,
    ]);
  });

  it('picks up a changed secret list (a refreshed token) on the next line', () => {
    const out = captureLogs();
    let known: string[] = [];
    const log = createLogger({ level: 'info', pretty: false, destination: out, secrets: () => known });
    log.info('first aoa_NEW_token_value_1234567890');
    known = ['aoa_NEW_token_value_1234567890'];
    log.info('second aoa_NEW_token_value_1234567890');
    expect(out.json().map((l) => l.msg)).toEqual(['first aoa_NEW_token_value_1234567890', `second ${REDACTED}`]);
  });

  it('pretty output goes through pino-pretty and is redacted too', () => {
    const out = captureLogs();
    const log = createLogger({ level: 'info', pretty: true, destination: out, secrets: () => [SECRETS.accessToken] });
    log.info({ credential: { refreshToken: SECRETS.refreshToken } }, `hello ${SECRETS.accessToken}`);
    const text = out.text();
    expect(text).toContain('INFO');
    expect(text).toContain('hello');
    expect(text).not.toMatch(/^\{/);
    expectNoSecrets(text);
  });
});

describe('generateRequestId', () => {
  it('makes req_ + 24 base62 chars, all different', () => {
    const ids = new Set(Array.from({ length: 2000 }, () => generateRequestId()));
    expect(ids.size).toBe(2000);
    for (const id of ids) expect(id).toMatch(/^req_[0-9A-Za-z]{24}$/);
  });
});

describe('createRequestLogger', () => {
  let served: Served | undefined;
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });

  async function start(setup: (router: Router) => void, secrets?: () => string[]) {
    const out = captureLogs();
    const logger = createLogger({ level: 'debug', pretty: false, destination: out, secrets });
    const app = new Koa();
    app.use(createRequestLogger(logger, { quietPaths: ['/healthz'] }));
    const router = new Router();
    setup(router);
    app.use(router.routes());
    served = await serve(app);
    const requestLines = () => out.json().filter((l) => typeof l.status === 'number');
    return { out, url: served.url, requestLines };
  }

  it('assigns a request id, sets both response headers, exposes it and a child logger on ctx.state', async () => {
    let seen: ObservabilityState | undefined;
    const { out, url, requestLines } = await start((r) =>
      r.get('/hello', (ctx) => {
        seen = ctx.state as ObservabilityState;
        seen.log?.info('inside handler');
        seen.logFields!.model = 'claude-haiku-4-5'; // starts as {}, fields can be added one by one
        ctx.body = 'hi';
      }),
    );
    const res = await fetch(`${url}/hello`);
    expect(await res.text()).toBe('hi');
    const id = res.headers.get('request-id');
    expect(id).toMatch(/^req_[0-9A-Za-z]{24}$/);
    expect(res.headers.get('x-request-id')).toBe(id);
    expect(seen?.requestId).toBe(id);
    const [line] = await waitFor(() => (requestLines().length === 1 ? requestLines() : undefined), 2000, 'request line');
    expect(line).toMatchObject({ requestId: id, model: 'claude-haiku-4-5', status: 200 });
    const handlerLine = out.json().find((l) => l.msg === 'inside handler');
    expect(handlerLine?.requestId).toBe(id);
  });

  it('honours a sane incoming x-request-id and replaces an insane one', async () => {
    const { url } = await start((r) => r.get('/x', (ctx) => void (ctx.body = 'ok')));
    const sane = await fetch(`${url}/x`, { headers: { 'x-request-id': 'client-abc_123.4:5' } });
    expect(sane.headers.get('request-id')).toBe('client-abc_123.4:5');
    for (const bad of ['has space', 'x'.repeat(129), '<script>', 'a\u00e9b']) {
      const res = await fetch(`${url}/x`, { headers: { 'x-request-id': encodeURI(bad) === bad ? bad : bad.replace(/[^\x20-\x7e]/g, '?') } });
      expect(res.headers.get('request-id')).toMatch(/^req_/);
    }
  });

  it('writes exactly one line per request with method, path without query, status, duration and handler fields', async () => {
    const { out, url, requestLines } = await start((r) => {
      r.post('/v1/messages', (ctx) => {
        (ctx.state as ObservabilityState).logFields = {
          model: 'claude-sonnet-4-5',
          credentialId: 2,
          outcome: 'ok',
          stopReason: 'end_turn',
          inputTokens: 10,
          outputTokens: 20,
        };
        ctx.body = { ok: true };
      });
      r.get('/boom', (ctx) => {
        ctx.status = 502;
        ctx.body = 'bad gateway';
      });
      r.get('/healthz', (ctx) => void (ctx.body = 'ok'));
    });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/v1/messages?key=${SECRETS.apiKey}&beta=true`, { method: 'POST' });
      await res.text();
    }
    await (await fetch(`${url}/boom`)).text();
    await (await fetch(`${url}/healthz`)).text();
    await (await fetch(`${url}/nowhere`)).text();
    const lines = await waitFor(() => (requestLines().length >= 6 ? requestLines() : undefined), 2000, 'six lines');
    await sleep(50);
    expect(requestLines()).toHaveLength(6);
    expect(new Set(lines.map((l) => l.requestId)).size).toBe(6);

    const [first] = lines;
    expect(first).toMatchObject({
      level: 'info',
      msg: 'request completed',
      method: 'POST',
      path: '/v1/messages',
      status: 200,
      model: 'claude-sonnet-4-5',
      credentialId: 2,
      outcome: 'ok',
      stopReason: 'end_turn',
      inputTokens: 10,
      outputTokens: 20,
    });
    expect(typeof first.durationMs).toBe('number');
    expect(first.clientDisconnected).toBeUndefined();
    expect(out.text()).not.toContain(SECRETS.apiKey);
    expect(out.text()).not.toContain('beta=true');

    expect(lines.find((l) => l.path === '/boom')).toMatchObject({ level: 'error', status: 502 });
    expect(lines.find((l) => l.path === '/healthz')).toMatchObject({ level: 'debug', status: 200 });
    expect(lines.find((l) => l.path === '/nowhere')).toMatchObject({ level: 'info', status: 404 });
  });

  it('logs a streamed response (ctx.respond = false) once, after the stream ended, with fields set in finally', async () => {
    const { url, requestLines } = await start((r) =>
      r.post('/v1/messages', async (ctx) => {
        ctx.respond = false;
        ctx.res.writeHead(200, { 'content-type': 'text/event-stream' });
        try {
          for (let i = 0; i < 3; i++) {
            ctx.res.write(`event: ping\ndata: {"type":"ping"}\n\n`);
            await sleep(40);
          }
          ctx.res.end();
        } finally {
          (ctx.state as ObservabilityState).logFields = { outcome: 'ok', stopReason: 'end_turn', stream: true };
        }
      }),
    );
    const res = await fetch(`${url}/v1/messages`, { method: 'POST' });
    const body = await res.text();
    expect(body.split('event: ping')).toHaveLength(4);
    const [line] = await waitFor(() => (requestLines().length ? requestLines() : undefined), 2000, 'line');
    await sleep(50);
    expect(requestLines()).toHaveLength(1);
    expect(line).toMatchObject({ status: 200, outcome: 'ok', stopReason: 'end_turn', stream: true });
    expect(line.durationMs as number).toBeGreaterThanOrEqual(100);
  });

  it('records a client disconnect mid-stream', async () => {
    let handlerSawClose = false;
    const { url, requestLines } = await start((r) =>
      r.post('/v1/messages', async (ctx) => {
        ctx.respond = false;
        ctx.res.writeHead(200, { 'content-type': 'text/event-stream' });
        ctx.res.write('event: ping\ndata: {}\n\n');
        await new Promise<void>((resolve) => ctx.res.once('close', resolve));
        handlerSawClose = true;
        (ctx.state as ObservabilityState).logFields = { outcome: 'canceled' };
      }),
    );
    const ac = new AbortController();
    const res = await fetch(`${url}/v1/messages`, { method: 'POST', signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    const [line] = await waitFor(() => (requestLines().length ? requestLines() : undefined), 3000, 'line');
    expect(handlerSawClose).toBe(true);
    expect(line).toMatchObject({ status: 200, clientDisconnected: true, outcome: 'canceled', msg: 'request aborted by client' });
  });

  it('logs thrown errors with the final status and redacts what they carry', async () => {
    const { out, url, requestLines } = await start(
      (r) =>
        r.get('/throw', () => {
          throw Object.assign(new Error(`refresh failed for ${SECRETS.refreshToken}`), {
            headers: { authorization: `Bearer ${SECRETS.bearer}` },
          });
        }),
      () => [SECRETS.refreshToken],
    );
    const res = await fetch(`${url}/throw`);
    expect(res.status).toBe(500);
    const [line] = await waitFor(() => (requestLines().length ? requestLines() : undefined), 2000, 'line');
    expect(line).toMatchObject({ level: 'error', status: 500, msg: 'request failed' });
    expect((line.err as { message: string }).message).toBe(`refresh failed for ${REDACTED}`);
    expectNoSecrets(out.text());
  });
});
