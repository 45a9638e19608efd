/**
 * Deep nesting: JSON nested thousands of levels deep must be a 400 naming the limit, never a stack
 * overflow (500), wherever it sits in a request — tool schemas, history tool inputs, tool results,
 * unknown fields — on every route that reads JSON, streaming or not. A tool input that deep coming
 * from the upstream is an unusable tool call, never a 500 either.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simScript } from '../../src/simulator/index.js';
import { MAX_JSON_DEPTH } from '../../src/http/json-depth.js';
import { ADMIN_KEY, post, startStack, type Stack } from '../helpers/stack.js';
import { parseSse } from '../e2e/sse.js';

const MODEL = 'claude-sonnet-4-6';
const DEEP = 5_000;

/** `levels` nested objects: `{"a":{"a":…{}}}`. */
function nest(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) value = { a: value };
  return value;
}

/** The same, as JSON text, for inputs too deep for JSON.stringify. */
function nestText(levels: number): string {
  return '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);
}

/** A body with `deep` (JSON text) spliced in where the placeholder string is. */
function bodyWith(template: Record<string, unknown>, deep: string): string {
  return JSON.stringify(template).replace('"__DEEP__"', deep);
}

const tool = (inputSchema: unknown) => ({ name: 'probe', description: 'd', input_schema: inputSchema });

/** Where the deep value goes, as request templates. */
const PLACES: Record<string, Record<string, unknown>> = {
  'tools[].input_schema': { model: MODEL, max_tokens: 16, tools: [tool('__DEEP__')], messages: [{ role: 'user', content: 'hi' }] },
  'history tool_use.input': {
    model: MODEL,
    max_tokens: 16,
    tools: [tool({ type: 'object' })],
    messages: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'probe', input: '__DEEP__' }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'ok' }] },
    ],
  },
  'tool_result content': {
    model: MODEL,
    max_tokens: 16,
    messages: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'probe', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'x', extra: '__DEEP__' }] }] },
    ],
  },
  'metadata': { model: MODEL, max_tokens: 16, metadata: { user_id: 'u', deep: '__DEEP__' }, messages: [{ role: 'user', content: 'hi' }] },
};

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  await stack?.close();
});

function expectDepthError(res: { status: number; json: any; text: string }, what: string): void {
  expect(res.status, `${what}: ${res.text.slice(0, 200)}`).toBe(400);
  expect(res.json.type).toBe('error');
  expect(res.json.error.type, what).toBe('invalid_request_error');
  expect(res.json.error.message, what).toContain(String(MAX_JSON_DEPTH));
}

describe(`client JSON nested ${DEEP} levels deep: 400 naming the ${MAX_JSON_DEPTH}-level limit`, () => {
  for (const [place, template] of Object.entries(PLACES)) {
    for (const path of ['/v1/messages', '/cc/v1/messages', '/v1/messages/count_tokens', '/cc/v1/messages/count_tokens']) {
      it(`${place} on ${path}`, async () => {
        expectDepthError(await post(`${stack.url}${path}`, bodyWith(template, nestText(DEEP))), `${place} ${path}`);
        if (!path.endsWith('count_tokens')) {
          const streaming = await post(`${stack.url}${path}`, bodyWith({ ...template, stream: true }, nestText(DEEP)));
          expectDepthError(streaming, `${place} ${path} streaming`);
        }
      });
    }
  }

  it('the limit is exact: a body nesting exactly the limit is served, one level more is refused', async () => {
    // Body (1) → tools (2) → tool (3) → input_schema and below: the rest.
    const atLimit = { model: MODEL, max_tokens: 16, tools: [tool(nest(MAX_JSON_DEPTH - 3))], messages: [{ role: 'user', content: 'hi' }] };
    const count = await post(`${stack.url}/v1/messages/count_tokens`, atLimit);
    expect(count.status, count.text).toBe(200);
    const message = await post(`${stack.url}/v1/messages`, atLimit);
    expect(message.status, message.text).toBe(200);
    const over = { ...atLimit, tools: [tool(nest(MAX_JSON_DEPTH - 2))] };
    expectDepthError(await post(`${stack.url}/v1/messages/count_tokens`, over), 'one over');
    expectDepthError(await post(`${stack.url}/v1/messages`, over), 'one over');
  });

  it('admin API bodies too', async () => {
    const headers = { 'x-api-key': ADMIN_KEY };
    const add = await post(`${stack.url}/api/admin/credentials`, `{"refreshToken":"x","authMethod":"social","deep":${nestText(DEEP)}}`, headers);
    expectDepthError(add, 'admin add');
    const priority = await post(`${stack.url}/api/admin/credentials/1/priority`, `{"priority":1,"deep":${nestText(DEEP)}}`, headers);
    expectDepthError(priority, 'admin priority');
  });
});

describe('a tool input nested that deep coming from the upstream', () => {
  const script = simScript({ events: [{ text: 'Calling.' }, { toolUse: { name: 'probe', input: nestText(DEEP) } }] });
  const body = { model: MODEL, max_tokens: 64, tools: [tool({ type: 'object' })], messages: [{ role: 'user', content: `go ${script}` }] };

  it('non-streaming: a complete answer with the call replaced by a notice, not a 500', async () => {
    const res = await post(`${stack.url}/v1/messages`, body);
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(res.json.content.some((b: { type: string }) => b.type === 'tool_use')).toBe(false);
    expect(JSON.stringify(res.json.content)).toContain('not executed');
  });

  it('streaming: the same, ending with message_stop', async () => {
    const res = await post(`${stack.url}/v1/messages`, { ...body, stream: true });
    expect(res.status).toBe(200);
    const records = parseSse(res.text);
    expect(records.at(-1)?.event).toBe('message_stop');
    expect(records.some((r) => r.json.content_block?.type === 'tool_use')).toBe(false);
  });
});
