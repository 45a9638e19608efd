/**
 * Status and type agree: every error path the gateway has, walked through HTTP on the streaming and
 * the non-streaming side, answers a status whose `error.type` is the one the README's error table
 * gives it — and a response that fails mid-stream sends the same type in its SSE `error` event that
 * the non-streaming request gets with its status. The README table itself must equal the one
 * mapping in src/errors.ts.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simScript, type Script } from '../../src/simulator/index.js';
import { STATUSES_BY_TYPE } from '../../src/errors.js';
import { ADMIN_KEY, API_KEY, post, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';
import { rawExchange, rawRequest } from '../helpers/raw-http.js';
import { parseSse } from './sse.js';

const MODEL = 'claude-sonnet-4-6';
const BODY_LIMIT = 64 * 1024;

/** README rows: status → error.type. */
function readmeErrorTable(): Map<number, string> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('| Status | `error.type` | When |');
  expect(start, 'README error table').toBeGreaterThan(0);
  const table = new Map<number, string>();
  for (const line of readme.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const [statuses, type] = line.split('|').slice(1, 3).map((cell) => cell.trim());
    for (const status of statuses!.split('/').map((s) => Number(s.trim()))) {
      expect(table.has(status), `README lists status ${status} twice`).toBe(false);
      table.set(status, type!.replaceAll('`', ''));
    }
  }
  return table;
}

const README = readmeErrorTable();

/** Rows no test here can produce, each with the reason; every other row must be walked below. */
const NOT_WALKED: Record<number, string> = {
  403: 'reserved: no path answers it',
  408: "Node's 60 s request-head timeout",
  500: 'internal errors only (bugs, an unbuilt admin UI)',
  503: 'needs Redis down (test/credentials and test/cluster cover the store)',
  504: 'reserved for upstream timeouts',
};

const walked = new Set<number>();

function expectAgrees(status: number, type: string | undefined, what: string): void {
  expect(README.has(status), `${what}: status ${status} is not in the README table`).toBe(true);
  expect(type, `${what}: status ${status}`).toBe(README.get(status));
  walked.add(status);
}

const ask = (script: Script) => `Hello ${simScript(script)}`;
const params = (content: string, extra: Record<string, unknown> = {}) => ({
  model: MODEL,
  max_tokens: 64,
  messages: [{ role: 'user', content }],
  ...extra,
});

type Outcome = { status: number; type: string | undefined; sse?: string };

/** Non-streaming: status and error type. Streaming: the same before the stream, else the SSE error's type. */
async function outcome(stack: Stack, body: unknown, stream: boolean, headers: Record<string, string> = {}): Promise<Outcome> {
  const sent = typeof body === 'string' ? body : JSON.stringify(stream ? { ...(body as object), stream: true } : body);
  const res = await post(`${stack.url}/v1/messages`, sent, headers);
  if (!stream || res.status !== 200) return { status: res.status, type: res.json?.error?.type };
  const error = parseSse(res.text).find((r) => r.event === 'error');
  return { status: res.status, type: undefined, sse: error?.json.error.type };
}

let stack: Stack;
let drained: Stack;

beforeAll(async () => {
  stack = await startStack({
    env: { KIRO_UPSTREAM_IDLE_TIMEOUT_MS: '300', KIRO_LIMITS_BODY_LIMIT_BYTES: String(BODY_LIMIT), KIRO_POOL_RATE_LIMIT_COOLDOWN_MS: '1' },
  });
  drained = await startStack({ credentials: [{ refreshToken: refreshTokenFor('statuses-off'), authMethod: 'social', disabled: true }] });
});

afterAll(async () => {
  await stack?.close();
  await drained?.close();
});

describe('the README error table is the mapping in src/errors.ts', () => {
  it('same rows, each status belonging to one type', () => {
    const fromCode = new Map<number, string>();
    for (const [type, statuses] of Object.entries(STATUSES_BY_TYPE)) for (const s of statuses) fromCode.set(s, type);
    expect(new Map([...README].sort())).toEqual(new Map([...fromCode].sort()));
  });
});

describe('errors before the stream: the same status and type, streaming or not', () => {
  const cases: Array<[string, () => unknown]> = [
    ['malformed JSON', () => '{"model":'],
    ['missing field', () => ({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] })],
    ['JSON nested too deep', () => `{"model":"${MODEL}","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"x":${'['.repeat(500)}${']'.repeat(500)}}`],
    ['unsupported model', () => params('hi', { model: 'gpt-4o' })],
    ['body over the limit', () => params('x'.repeat(BODY_LIMIT))],
    ['upstream "Improperly formed request"', () => params(ask({ status: 400, body: { message: 'Improperly formed request.' } }))],
    ['upstream "Input is too long"', () => params(ask({ status: 400, body: { message: 'Input is too long.' } }))],
    ['upstream 429 on every attempt', () => params(ask({ status: 429, body: { message: 'Too many requests' } }))],
    ['upstream 500 on every attempt', () => params(ask({ status: 500, body: { message: 'boom' } }))],
    ['upstream connection reset on every attempt', () => params(ask({ fault: { kind: 'reset' } }))],
    ['upstream 200 with an empty body', () => params(ask({ events: [], usage: false }))],
  ];
  for (const [label, body] of cases) {
    it(label, async () => {
      const plain = await outcome(stack, body(), false);
      expect(plain.status, label).not.toBe(200);
      expectAgrees(plain.status, plain.type, `${label} (non-streaming)`);
      if (typeof body() !== 'string') {
        const streamed = await outcome(stack, body(), true);
        expect(streamed, `${label} (streaming)`).toEqual(plain);
      }
    });
  }

  it('missing and wrong key', async () => {
    for (const headers of [{ 'x-api-key': '' }, { 'x-api-key': 'wrong' }]) {
      for (const stream of [false, true]) {
        const o = await outcome(stack, params('hi'), stream, headers);
        expectAgrees(o.status, o.type, `key ${JSON.stringify(headers)}`);
        expect(o.status).toBe(401);
      }
    }
  });

  it('no usable credential', async () => {
    for (const stream of [false, true]) {
      const o = await outcome(drained, params('hi'), stream);
      expectAgrees(o.status, o.type, 'no usable credential');
      expect(o.type).toBe('overloaded_error');
    }
  });
});

describe('errors after the upstream answered: SSE error type = non-streaming type, status from the table', () => {
  const cases: Array<[string, Script, string]> = [
    ['ThrottlingException', { events: [{ text: 'Part' }, { exception: { type: 'ThrottlingException', message: 'slow down' } }] }, 'overloaded_error'],
    ['other exception', { events: [{ text: 'Part' }, { exception: { type: 'InternalServerException', message: 'oops' } }] }, 'api_error'],
    ['error frame', { events: [{ text: 'Part' }, { error: { code: 'InternalError', message: 'oops' } }] }, 'api_error'],
    ['cut mid-frame', { events: [{ text: 'Part' }, { text: 'more' }], fault: { kind: 'cut', afterFrames: 1 } }, 'api_error'],
    ['stall', { events: [{ text: 'Part' }], usage: false, fault: { kind: 'stall', afterFrames: 1 } }, 'api_error'],
  ];
  for (const [label, script, type] of cases) {
    it(label, async () => {
      const streamed = await outcome(stack, params(ask(script)), true);
      expect(streamed.status).toBe(200);
      expect(streamed.sse, `${label}: SSE error event`).toBe(type);
      const plain = await outcome(stack, params(ask(script)), false);
      expectAgrees(plain.status, plain.type, `${label} (non-streaming)`);
      expect(plain.type, `${label}: non-streaming type = SSE type`).toBe(streamed.sse);
    });
  }
});

describe('errors from the HTTP layer, count_tokens and the admin API', () => {
  it('unknown route, wrong method, non-canonical path', async () => {
    for (const [method, target] of [['GET', '/v2/messages'], ['GET', '/v1/messages'], ['POST', '/V1/messages'], ['POST', '/v1//messages']]) {
      const res = await rawRequest(stack.url, method!, target!, { 'x-api-key': API_KEY });
      expectAgrees(res.status, res.json?.error?.type, `${method} ${target}`);
    }
  });

  it("the HTTP parser's rejections, oversized headers, Expect", async () => {
    const garbage = await rawExchange(stack.url, 'GARBAGE\r\n\r\n');
    expectAgrees(garbage.status, garbage.json?.error?.type, 'garbage');
    const big = await rawRequest(stack.url, 'GET', '/v1/models', { 'x-big': 'a'.repeat(40_000) });
    expectAgrees(big.status, big.json?.error?.type, 'big header');
    const expectation = await rawRequest(stack.url, 'POST', '/v1/messages', { 'x-api-key': API_KEY, expect: 'nope' }, params('hi'));
    expectAgrees(expectation.status, expectation.json?.error?.type, 'Expect');
  });

  it('count_tokens', async () => {
    for (const [body, headers] of [
      ['{"model":', {}],
      [params('hi', { model: 'gpt-4o' }), {}],
      [params('hi'), { 'x-api-key': 'wrong' }],
    ] as const) {
      const res = await post(`${stack.url}/v1/messages/count_tokens`, body, headers);
      expectAgrees(res.status, res.json?.error?.type, `count_tokens ${JSON.stringify(body).slice(0, 40)}`);
    }
  });

  it('admin API', async () => {
    const key = { 'x-api-key': ADMIN_KEY };
    const answers = [
      await rawRequest(stack.url, 'GET', '/api/admin/credentials'),
      await rawRequest(stack.url, 'GET', '/api/admin/credentials/99/balance', key),
      await rawRequest(stack.url, 'POST', '/api/admin/credentials/1/priority', key, { priority: 'high' }),
      await rawRequest(stack.url, 'DELETE', '/api/admin/credentials/1', key),
    ];
    for (const res of answers) expectAgrees(res.status, res.json?.error?.type, `admin ${res.status}`);
  });
});

describe('coverage', () => {
  it('every README row was walked above, or is listed as not walkable here with the reason', () => {
    for (const status of README.keys()) {
      if (status in NOT_WALKED) expect(walked.has(status), `${status} is walked: drop it from NOT_WALKED`).toBe(false);
      else expect(walked.has(status), `README row ${status} (${README.get(status)}) was not produced by any case`).toBe(true);
    }
  });
});
