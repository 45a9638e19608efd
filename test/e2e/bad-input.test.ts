/**
 * Bad client input over real HTTP: every malformed request gets Anthropic's error envelope with the
 * right status and type, never a 5xx, and the gateway keeps serving afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APIError } from '@anthropic-ai/sdk';
import Anthropic from '@anthropic-ai/sdk';
import { DEFAULT_TEXT } from '../../src/simulator/index.js';
import { API_KEY, post, startStack, type Stack } from '../helpers/stack.js';
import { generateCalls } from './sse.js';

const MODEL = 'claude-sonnet-4-6';
const BODY_LIMIT = 8 * 1024;
const GOOD = { model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] };

type Reply = Awaited<ReturnType<typeof post>>;

/** Asserts the exact Anthropic envelope: `{type:'error', error:{type, message}, request_id?}`. */
function expectError(res: Reply, status: number, type: string, message?: RegExp): void {
  expect({ status: res.status, body: res.json }).toMatchObject({ status, body: { type: 'error', error: { type } } });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Object.keys(res.json).sort()).toEqual(expect.arrayContaining(['error', 'type']));
  expect(Object.keys(res.json).every((k) => ['type', 'error', 'request_id'].includes(k))).toBe(true);
  expect(Object.keys(res.json.error).sort()).toEqual(['message', 'type']);
  expect(typeof res.json.error.message).toBe('string');
  expect(res.json.error.message.length).toBeGreaterThan(0);
  if (message) expect(res.json.error.message).toMatch(message);
}

describe('bad input to the gateway', () => {
  let stack: Stack;
  let url: string;
  beforeAll(async () => {
    stack = await startStack({ env: { KIRO_LIMITS_BODY_LIMIT_BYTES: String(BODY_LIMIT) } });
    url = `${stack.url}/v1/messages`;
  });
  afterAll(async () => {
    await stack?.close();
  });

  describe('the body', () => {
    it('rejects malformed JSON with 400 invalid_request_error', async () => {
      expectError(await post(url, '{"model": "x", '), 400, 'invalid_request_error', /not valid JSON/);
    });

    it('rejects an empty body with 400 invalid_request_error', async () => {
      expectError(await post(url, ''), 400, 'invalid_request_error', /empty/);
    });

    it('rejects a JSON body that is not an object with 400 invalid_request_error', async () => {
      expectError(await post(url, '[1, 2]'), 400, 'invalid_request_error', /dictionary/);
      expectError(await post(url, 'null'), 400, 'invalid_request_error', /dictionary/);
    });

    it('rejects a text/plain body with 400 invalid_request_error', async () => {
      expectError(await post(url, JSON.stringify(GOOD), { 'content-type': 'text/plain' }), 400, 'invalid_request_error', /content-type/);
    });

    it('rejects a body without content-type with 400 invalid_request_error', async () => {
      const res = await fetch(url, { method: 'POST', headers: { 'x-api-key': API_KEY }, body: new Blob([JSON.stringify(GOOD)]) });
      const text = await res.text();
      expectError({ status: res.status, headers: res.headers, text, json: JSON.parse(text) }, 400, 'invalid_request_error', /content-type/);
    });

    it('accepts application/json with a charset', async () => {
      const res = await post(url, GOOD, { 'content-type': 'application/json; charset=utf-8' });
      expect(res.status).toBe(200);
      expect(res.json.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    });

    it('rejects a body over the configured limit with 413 request_too_large', async () => {
      const big = { ...GOOD, messages: [{ role: 'user', content: 'x'.repeat(BODY_LIMIT) }] };
      expectError(await post(url, big), 413, 'request_too_large', new RegExp(`exceeds the ${BODY_LIMIT}-byte limit`));
    });

    it('rejects a chunked body (no content-length) over the limit with 413 request_too_large', async () => {
      const big = new TextEncoder().encode(JSON.stringify({ ...GOOD, messages: [{ role: 'user', content: 'y'.repeat(BODY_LIMIT) }] }));
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < big.length; i += 1024) controller.enqueue(big.subarray(i, i + 1024));
          controller.close();
        },
      });
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
        body,
        duplex: 'half',
      } as RequestInit);
      const text = await res.text();
      expectError({ status: res.status, headers: res.headers, text, json: JSON.parse(text) }, 413, 'request_too_large');
    });
  });

  describe('the fields', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['model is missing', { max_tokens: 64, messages: GOOD.messages }, /^model: Field required/],
      ['model is a number', { ...GOOD, model: 42 }, /^model: Input should be a valid string/],
      ['model is empty', { ...GOOD, model: '' }, /^model:/],
      ['max_tokens is missing', { model: MODEL, messages: GOOD.messages }, /^max_tokens: Field required/],
      ['max_tokens is a string', { ...GOOD, max_tokens: '64' }, /^max_tokens: Input should be a valid integer/],
      ['max_tokens is zero', { ...GOOD, max_tokens: 0 }, /^max_tokens: Input should be greater than or equal to 1/],
      ['messages is missing', { model: MODEL, max_tokens: 64 }, /^messages: Field required/],
      ['messages is an object', { ...GOOD, messages: { role: 'user', content: 'Hi' } }, /^messages: Input should be a valid list/],
      ['messages is empty', { ...GOOD, messages: [] }, /^messages:/],
      ['a message is a string', { ...GOOD, messages: ['Hi'] }, /^messages\.0: Input should be a valid dictionary/],
      ['a role is unknown', { ...GOOD, messages: [{ role: 'robot', content: 'Hi' }] }, /^messages\.0\.role: Input should be/],
      ['a role is missing', { ...GOOD, messages: [{ content: 'Hi' }] }, /^messages\.0\.role: Field required/],
      ['content is missing', { ...GOOD, messages: [{ role: 'user' }] }, /^messages\.0\.content: Field required/],
      ['content is a number', { ...GOOD, messages: [{ role: 'user', content: 7 }] }, /^messages\.0\.content:/],
      [
        'a block type is unknown',
        { ...GOOD, messages: [{ role: 'user', content: [{ type: 'hologram', text: 'Hi' }] }] },
        /^messages\.0\.content\.0\.type: Input should be/,
      ],
      [
        'a text block has no text',
        { ...GOOD, messages: [{ role: 'user', content: [{ type: 'text' }] }] },
        /^messages\.0\.content\.0\.text: Field required/,
      ],
      ['stream is a string', { ...GOOD, stream: 'yes' }, /^stream: Input should be a valid boolean/],
      ['system is a number', { ...GOOD, system: 5 }, /^system:/],
      ['tools is an object', { ...GOOD, tools: { name: 'x' } }, /^tools: Input should be a valid list/],
      ['a tool has no name', { ...GOOD, tools: [{ input_schema: { type: 'object' } }] }, /^tools\.0\.name: Field required/],
      ['temperature is a string', { ...GOOD, temperature: 'hot' }, /^temperature: Input should be a valid number/],
    ];
    for (const [what, body, message] of cases) {
      it(`answers 400 invalid_request_error when ${what}`, async () => {
        expectError(await post(url, body), 400, 'invalid_request_error', message);
      });
    }

    it('answers 404 not_found_error for a model outside the Claude families', async () => {
      expectError(await post(url, { ...GOOD, model: 'gpt-4o' }), 404, 'not_found_error', /gpt-4o/);
    });

    it('gives the SDK a typed error for a validation failure and an unknown model', async () => {
      const bad = await stack.client.messages
        .create({ model: MODEL, max_tokens: 64, messages: [] })
        .catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
      expect((bad as APIError).type).toBe('invalid_request_error');

      const unknown = await stack.client.messages
        .create({ model: 'gpt-4o', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] })
        .catch((e: unknown) => e);
      expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
      expect((unknown as APIError).type).toBe('not_found_error');
    });

    it('validates count_tokens bodies the same way', async () => {
      expectError(await post(`${stack.url}/v1/messages/count_tokens`, { model: MODEL }), 400, 'invalid_request_error', /^messages: Field required/);
      expectError(await post(`${stack.url}/v1/messages/count_tokens`, '{'), 400, 'invalid_request_error');
    });
  });

  describe('authentication', () => {
    it('answers 401 authentication_error without any key', async () => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(GOOD) });
      const text = await res.text();
      expectError({ status: res.status, headers: res.headers, text, json: JSON.parse(text) }, 401, 'authentication_error');
    });

    it('answers 401 authentication_error for a wrong x-api-key', async () => {
      expectError(await post(url, GOOD, { 'x-api-key': 'sk-wrong' }), 401, 'authentication_error', /Invalid/);
    });

    it('answers 401 authentication_error for a wrong Bearer token', async () => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-wrong' },
        body: JSON.stringify(GOOD),
      });
      const text = await res.text();
      expectError({ status: res.status, headers: res.headers, text, json: JSON.parse(text) }, 401, 'authentication_error', /Invalid/);
    });

    it('accepts the right key as a Bearer token', async () => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
        body: JSON.stringify(GOOD),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { content: unknown }).content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    });

    it('gives the SDK an AuthenticationError for a wrong key', async () => {
      const client = new Anthropic({ baseURL: stack.url, apiKey: 'sk-wrong', maxRetries: 0, logLevel: 'error' });
      const err = await client.messages.create({ ...GOOD, messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
      expect((err as APIError).status).toBe(401);
      expect((err as APIError).type).toBe('authentication_error');
    });

    it('checks the key on the other client routes too', async () => {
      const models = await fetch(`${stack.url}/v1/models`, { headers: { 'x-api-key': 'sk-wrong' } });
      expect(models.status).toBe(401);
      expect(((await models.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
      expectError(await post(`${stack.url}/v1/messages/count_tokens`, GOOD, { 'x-api-key': 'sk-wrong' }), 401, 'authentication_error');
      expectError(await post(`${stack.url}/cc/v1/messages`, GOOD, { 'x-api-key': 'sk-wrong' }), 401, 'authentication_error');
    });
  });

  describe('routes', () => {
    it('answers 404 not_found_error for an unknown POST route', async () => {
      expectError(await post(`${stack.url}/v2/messages`, GOOD), 404, 'not_found_error');
    });

    it('answers 404 not_found_error for an unknown GET route and an unknown model id', async () => {
      for (const path of ['/v1/nothing-here', '/v1/models/gpt-4o']) {
        const res = await fetch(`${stack.url}${path}`, { headers: { 'x-api-key': API_KEY } });
        const text = await res.text();
        expectError({ status: res.status, headers: res.headers, text, json: JSON.parse(text) }, 404, 'not_found_error');
      }
    });

    it('answers a GET on the messages route with a 4xx envelope, not a 5xx', async () => {
      const res = await fetch(url, { headers: { 'x-api-key': API_KEY } });
      const text = await res.text();
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(JSON.parse(text)).toMatchObject({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } });
    });
  });

  it('never reached the upstream for bad input and still serves a good request afterwards', async () => {
    const before = generateCalls(stack).length;
    // Several bad requests at once, then a good one through the SDK.
    const bad = await Promise.all([
      post(url, '{{{'),
      post(url, { ...GOOD, messages: [] }),
      post(url, { ...GOOD, model: 'gpt-4o' }),
      post(url, GOOD, { 'x-api-key': 'nope' }),
      post(url, { ...GOOD, messages: [{ role: 'user', content: 'z'.repeat(BODY_LIMIT * 2) }] }),
    ]);
    expect(bad.map((r) => r.status)).toEqual([400, 400, 404, 401, 413]);
    expect(generateCalls(stack).length).toBe(before);
    expect(stack.sim.stats.rejected).toBe(0);

    const message = await stack.client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'Still there?' }] });
    expect(message.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    const health = await fetch(`${stack.url}/healthz`);
    expect(health.status).toBe(200);
  });
});
