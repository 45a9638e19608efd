/**
 * Every error of the OpenAI routes in OpenAI's shape, with the status the README's OpenAI error
 * table gives it, and raised by the `openai` SDK as the error class of that status — before a stream
 * (same status streaming or not) and after it started (Chat Completions: a `data: {"error":…}`
 * record and no `[DONE]`; Responses: `response.failed` and no `response.completed`).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { APIError } from 'openai';
import { simScript, type Script } from '../../src/simulator/index.js';
import { eventually, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';
import { isOpenAiErrorShape, openAiClient, postOpenAi, sseData } from '../helpers/openai.js';
import { parseSse } from './sse.js';

const MODEL = 'claude-sonnet-4-6';
const BODY_LIMIT = 64 * 1024;
const ask = (script: Script) => `Hello ${simScript(script)}`;

/** README "OpenAI-compatible API" error rows: status → type and the codes it lists. */
function readmeOpenAiTable(): Map<number, { type: string; codes: string }> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('| Status | OpenAI `error.type` | `error.code` | When |');
  expect(start, 'README OpenAI error table').toBeGreaterThan(0);
  const table = new Map<number, { type: string; codes: string }>();
  for (const line of readme.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const [status, type, codes] = line.split('|').slice(1, 4).map((cell) => cell.trim());
    table.set(Number(status), { type: type!.replaceAll('`', ''), codes: codes! });
  }
  return table;
}

const README = readmeOpenAiTable();
const walked = new Set<number>();

/** The error as the wire carried it agrees with the README row of its status. */
function expectDocumented(status: number, error: { type: string; code: string | null }, what: string): void {
  const row = README.get(status);
  expect(row, `${what}: status ${status} is not in the README's OpenAI table`).toBeDefined();
  expect(error.type, `${what}: type of ${status}`).toBe(row!.type);
  expect(row!.codes, `${what}: code ${error.code} of ${status}`).toContain(error.code === null ? 'null' : `\`${error.code}\``);
  walked.add(status);
}

type Route = 'chat' | 'responses';
const PATHS: Record<Route, string> = { chat: '/v1/chat/completions', responses: '/v1/responses' };

/** A request body for the route, with `content` as the user's text. */
function body(route: Route, content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return route === 'chat' ? { model: MODEL, messages: [{ role: 'user', content }], ...extra } : { model: MODEL, input: content, ...extra };
}

/** The SDK call for the route, streaming or not, reading a stream to its end. */
async function sdkCall(client: OpenAI, route: Route, request: Record<string, unknown>, stream: boolean): Promise<unknown> {
  try {
    if (route === 'chat') {
      const params = { ...request, stream } as unknown as OpenAI.Chat.ChatCompletionCreateParams;
      const result = await client.chat.completions.create(params);
      if (stream) for await (const _ of result as AsyncIterable<unknown>);
      return result;
    }
    const params = { ...request, stream } as unknown as OpenAI.Responses.ResponseCreateParams;
    const result = await client.responses.create(params);
    if (stream) for await (const _ of result as AsyncIterable<unknown>);
    return result;
  } catch (err) {
    return err;
  }
}

let stack: Stack;
let drained: Stack;
let client: OpenAI;

beforeAll(async () => {
  stack = await startStack({
    env: { KIRO_UPSTREAM_IDLE_TIMEOUT_MS: '300', KIRO_LIMITS_BODY_LIMIT_BYTES: String(BODY_LIMIT), KIRO_POOL_RATE_LIMIT_COOLDOWN_MS: '1' },
  });
  drained = await startStack({ credentials: [{ refreshToken: refreshTokenFor('openai-off'), authMethod: 'social', disabled: true }] });
  client = openAiClient(stack);
});

afterAll(async () => {
  await stack?.close();
  await drained?.close();
});

describe('errors before any answer: status, shape and SDK class, streaming or not', () => {
  const cases: Array<{ what: string; request: (route: Route) => Record<string, unknown>; status: number; code: string | null; param?: string; sdk: new (...a: any[]) => APIError }> = [
    { what: 'a missing field', request: (r) => (r === 'chat' ? { model: MODEL } : { model: MODEL }), status: 400, code: 'missing_required_parameter', param: undefined, sdk: OpenAI.BadRequestError },
    { what: 'a wrong type', request: (r) => body(r, 'hi', { temperature: 'hot' }), status: 400, code: 'invalid_type', param: 'temperature', sdk: OpenAI.BadRequestError },
    { what: 'an unknown model', request: (r) => body(r, 'hi', { model: 'gpt-4o' }), status: 404, code: 'model_not_found', param: 'model', sdk: OpenAI.NotFoundError },
    {
      what: 'upstream "Input is too long"',
      request: (r) => body(r, ask({ status: 400, body: { message: 'Input is too long.' } })),
      status: 400,
      code: 'context_length_exceeded',
      sdk: OpenAI.BadRequestError,
    },
    { what: 'upstream "Improperly formed request"', request: (r) => body(r, ask({ status: 400, body: { message: 'Improperly formed request.' } })), status: 400, code: null, sdk: OpenAI.BadRequestError },
    { what: 'upstream 429 on every attempt', request: (r) => body(r, ask({ status: 429, body: { message: 'Too many requests' } })), status: 429, code: 'rate_limit_exceeded', sdk: OpenAI.RateLimitError },
    { what: 'upstream 500 on every attempt', request: (r) => body(r, ask({ status: 500, body: { message: 'boom' } })), status: 502, code: 'upstream_error', sdk: OpenAI.InternalServerError },
    { what: 'upstream connection reset on every attempt', request: (r) => body(r, ask({ fault: { kind: 'reset' } })), status: 502, code: 'upstream_error', sdk: OpenAI.InternalServerError },
    { what: 'an empty completion', request: (r) => body(r, ask({ events: [], usage: false })), status: 502, code: 'upstream_error', sdk: OpenAI.InternalServerError },
  ];
  for (const route of ['chat', 'responses'] as const) {
    for (const c of cases) {
      it(`${route}: ${c.what} → ${c.status} ${c.code}`, async () => {
        for (const stream of [false, true]) {
          const err = await sdkCall(client, route, c.request(route), stream);
          expect(err, `${c.what} (stream: ${stream})`).toBeInstanceOf(c.sdk);
          const e = err as APIError;
          expect(e.status).toBe(c.status);
          expect(e.code ?? null).toBe(c.code);
          if (c.param) expect(e.param).toBe(c.param);
          expectDocumented(c.status, { type: e.type!, code: e.code ?? null }, c.what);
        }
        const raw = await postOpenAi(stack, PATHS[route], c.request(route));
        expect(raw.status).toBe(c.status);
        // The cool-down (1 ms here) rounded up to whole seconds, as on the Anthropic routes.
        if (c.status === 429) expect(raw.headers.get('retry-after')).toBe('1');
        expect(raw.headers.get('x-should-retry')).toBe(String(c.status === 429 || c.status >= 500));
        expect(isOpenAiErrorShape(raw.json), raw.text).toBe(true);
        expect(raw.headers.get('content-type')).toMatch(/^application\/json/);
      });
    }
  }

  it('a wrong or missing key: 401 invalid_api_key (AuthenticationError)', async () => {
    for (const route of ['chat', 'responses'] as const) {
      const err = await sdkCall(openAiClient(stack, 'sk-wrong'), route, body(route, 'hi'), false);
      expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
      expect((err as APIError).code).toBe('invalid_api_key');
      expectDocumented(401, { type: (err as APIError).type!, code: 'invalid_api_key' }, 'wrong key');
      const missing = await fetch(`${stack.url}${PATHS[route]}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body(route, 'hi')) });
      expect(missing.status).toBe(401);
      expect(isOpenAiErrorShape(await missing.json())).toBe(true);
    }
  });

  it('a body over the limit: 413 request_too_large', async () => {
    for (const route of ['chat', 'responses'] as const) {
      const err = await sdkCall(client, route, body(route, 'x'.repeat(BODY_LIMIT)), false);
      expect((err as APIError).status).toBe(413);
      expect((err as APIError).code).toBe('request_too_large');
      expectDocumented(413, { type: (err as APIError).type!, code: 'request_too_large' }, 'big body');
    }
  });

  it('a remote image URL: 400 unsupported_value naming the field', async () => {
    const chat = await sdkCall(client, 'chat', { model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] }, false);
    expect(chat).toBeInstanceOf(OpenAI.BadRequestError);
    expect((chat as APIError).param).toBe('messages[0].content[0].image_url.url');
    expect((chat as APIError).code).toBe('unsupported_value');
    expect((chat as APIError).message).toMatch(/data URL/);
    const responses = await sdkCall(client, 'responses', { model: MODEL, input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'http://10.0.0.1/x.png' }] }] }, false);
    expect((responses as APIError).param).toBe('input[0].content[0].image_url');
    expect(stack.sim.stats.requests.some((r) => JSON.stringify(r.body ?? '').includes('example.com'))).toBe(false);
  });

  it('an unknown path or method under the OpenAI API: 404 in OpenAI shape', async () => {
    for (const [method, path] of [['POST', '/v1/chat/completion'], ['GET', '/v1/chat/completions'], ['POST', '/v1/completions'], ['DELETE', '/v1/responses/resp_1']]) {
      const res = await fetch(`${stack.url}${path}`, { method, headers: { authorization: 'Bearer whatever', 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
      const json = await res.json();
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(isOpenAiErrorShape(json), `${method} ${path}: ${JSON.stringify(json)}`).toBe(true);
      expectDocumented(404, (json as { error: { type: string; code: string | null } }).error, `${method} ${path}`);
    }
  });

  it('no usable credential: 503 overloaded (Anthropic 529), streaming or not', async () => {
    const drainedClient = openAiClient(drained);
    for (const route of ['chat', 'responses'] as const) {
      for (const stream of [false, true]) {
        const err = await sdkCall(drainedClient, route, body(route, 'hi'), stream);
        expect(err).toBeInstanceOf(OpenAI.InternalServerError);
        expect((err as APIError).status).toBe(503);
        expect((err as APIError).code).toBe('overloaded');
        expectDocumented(503, { type: (err as APIError).type!, code: 'overloaded' }, 'no credential');
      }
    }
  });
});

describe('admission: a full replica answers 503 with retry-after, which the SDK retries', () => {
  let limited: Stack;
  beforeAll(async () => {
    limited = await startStack({ env: { KIRO_ADMISSION_MAX_CONCURRENT_UPSTREAM: '1', KIRO_ADMISSION_QUEUE_SIZE: '0', KIRO_ADMISSION_QUEUE_TIMEOUT_MS: '2000' } });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('sheds the second concurrent request', async () => {
    const slow = body('chat', ask({ events: [{ text: 'a' }, { text: 'b' }, { text: 'c' }], chunkDelayMs: 400 }));
    const first = postOpenAi(limited, '/v1/chat/completions', slow);
    await eventually(async () => ((await (await fetch(`${limited.url}/readyz`)).json()) as { admission: { active: number } }).admission.active === 1);
    const shed = await postOpenAi(limited, '/v1/responses', body('responses', 'hi'));
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('2');
    expect(shed.headers.get('x-should-retry')).toBe('true');
    expect(shed.json.error).toMatchObject({ type: 'server_error', code: 'overloaded' });
    expect(isOpenAiErrorShape(shed.json)).toBe(true);
    expect((await first).status).toBe(200);
  });
});

describe('failures after the stream started: visible, never a complete-looking stream', () => {
  const failures: Array<[string, Script, string, number]> = [
    ['an exception frame', { events: [{ text: 'Part' }, { exception: { type: 'InternalServerException', message: 'oops' } }] }, 'upstream_error', 502],
    ['an error frame', { events: [{ text: 'Part' }, { error: { code: 'InternalError', message: 'oops' } }] }, 'upstream_error', 502],
    ['Kiro throttling', { events: [{ text: 'Part' }, { exception: { type: 'ThrottlingException', message: 'slow down' } }] }, 'overloaded', 503],
    ['a connection cut mid-frame', { events: [{ text: 'Part' }, { text: 'more' }], fault: { kind: 'cut', afterFrames: 1 } }, 'upstream_error', 502],
    ['a stalled upstream', { events: [{ text: 'Part' }], usage: false, fault: { kind: 'stall', afterFrames: 1 } }, 'upstream_error', 502],
  ];

  for (const [what, script, code, status] of failures) {
    it(`chat: ${what} — the SDK raises, the body ends with the error and no [DONE]`, async () => {
      const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: ask(script) }], stream: true });
      let text = '';
      const err = await (async () => {
        try {
          for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as APIError).type).toBe('server_error');
      expect((err as APIError).code).toBe(code);
      expect(text).toBe('Part');

      const raw = await postOpenAi(stack, '/v1/chat/completions', body('chat', ask(script), { stream: true }));
      expect(raw.status).toBe(200);
      const data = sseData(raw.text);
      expect(data).not.toContain('[DONE]');
      expect(isOpenAiErrorShape(data.at(-1))).toBe(true);
      expect(data.slice(0, -1).every((c: any) => c.choices[0].finish_reason === null)).toBe(true);

      const plain = await sdkCall(client, 'chat', body('chat', ask(script)), false);
      expect(plain).toBeInstanceOf(OpenAI.InternalServerError);
      expect((plain as APIError).status).toBe(status);
      expect((plain as APIError).code).toBe(code);
      expectDocumented(status, { type: 'server_error', code }, what);
    });

    it(`responses: ${what} — response.failed, never response.completed`, async () => {
      const stream = client.responses.stream({ model: MODEL, input: ask(script) });
      const types: string[] = [];
      stream.on('event', (e) => types.push(e.type));
      const final = await stream.finalResponse();
      expect(final.status).toBe('failed');
      expect(final.error).toMatchObject({ code: 'server_error', message: expect.any(String) });
      expect(types.at(-1)).toBe('response.failed');
      expect(types).not.toContain('response.completed');
      expect(types).toContain('response.output_text.delta');

      const raw = await postOpenAi(stack, '/v1/responses', body('responses', ask(script), { stream: true }));
      const records = parseSse(raw.text);
      expect(records.at(-1)!.event).toBe('response.failed');
      expect(records.at(-1)!.json.response.status).toBe('failed');

      const plain = await sdkCall(client, 'responses', body('responses', ask(script)), false);
      expect(plain).toBeInstanceOf(OpenAI.InternalServerError);
      expect((plain as APIError).status).toBe(status);
    });
  }
});

describe('the README table', () => {
  it('every row is walked above, except the ones no test here can produce', () => {
    const notWalked: Record<number, string> = { 403: 'reserved: no path answers it', 500: 'internal errors only', 504: 'reserved for upstream timeouts' };
    for (const status of README.keys()) {
      if (status in notWalked) continue;
      expect(walked.has(status), `README OpenAI row ${status} was not produced by any test`).toBe(true);
    }
  });
});
