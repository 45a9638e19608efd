/**
 * Claude Code's real requests (test/fixtures/claude-code/*.json) replayed byte for byte with fetch:
 * same method, path with `?beta=true`, every header, same body; only our API key is added.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stream } from '@anthropic-ai/sdk/core/streaming';
import { MessageStream } from '@anthropic-ai/sdk/lib/MessageStream';
import type { Message, RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import { DEFAULT_TEXT } from '../../src/simulator/index.js';
import { API_KEY, startStack, type Stack } from '../helpers/stack.js';
import { generateCalls, lastKiroBody, parseSse } from './sse.js';

interface Fixture {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: any;
}

const load = (name: string): Fixture =>
  JSON.parse(readFileSync(new URL(`../fixtures/claude-code/${name}.json`, import.meta.url), 'utf8')) as Fixture;
const FIRST = load('first-turn');
const TOOL_RESULT = load('tool-result-turn');
const SESSION_ID = '00000000-0000-4000-8000-000000000000';

/** Sends a fixture as recorded, with our key; `pathPrefix` mounts it under e.g. `/cc`. */
function replay(stack: Stack, fixture: Fixture, pathPrefix = ''): Promise<Response> {
  return fetch(`${stack.url}${pathPrefix}${fixture.url}`, {
    method: fixture.method,
    headers: { ...fixture.headers, 'x-api-key': API_KEY },
    body: JSON.stringify(fixture.body),
  });
}

/** Parses an SSE response the way the SDK does and folds it into the final message. */
async function sdkParse(res: Response): Promise<{ message: Message; events: RawMessageStreamEvent[] }> {
  const events: RawMessageStreamEvent[] = [];
  const sse = Stream.fromSSEResponse<RawMessageStreamEvent>(res, new AbortController());
  const [forEvents, forMessage] = sse.tee();
  const collecting = (async () => {
    for await (const e of forEvents) events.push(e);
  })();
  const message = await MessageStream.fromReadableStream(forMessage.toReadableStream()).finalMessage();
  await collecting;
  return { message, events };
}

describe('Claude Code requests replayed as recorded', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('the fixtures are what this test assumes (streaming, ?beta=true, no key of their own)', () => {
    for (const f of [FIRST, TOOL_RESULT]) {
      expect(f.method).toBe('POST');
      expect(f.url).toBe('/v1/messages?beta=true');
      expect(f.body.stream).toBe(true);
      expect(f.body.model).toBe('claude-opus-4-8');
      expect(f.headers['x-api-key']).toBeUndefined();
      expect(f.headers['x-claude-code-session-id']).toBe(SESSION_ID);
    }
  });

  it('answers the reachability check HEAD / with 200', async () => {
    const res = await fetch(`${stack.url}/`, { method: 'HEAD' });
    expect(res.status).toBe(200);
  });

  it('streams a valid answer to the first turn and sends Kiro a well-formed body', async () => {
    const res = await replay(stack, FIRST);

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    // Claude Code 2.1's default model reaches Kiro as itself, and the response says which Kiro model answered
    expect(res.headers.get('x-kiro-model')).toBe('claude-opus-4.8');
    const { message, events } = await sdkParse(res);
    expect(events[0]!.type).toBe('message_start');
    expect(events.at(-1)!.type).toBe('message_stop');
    expect(message.model).toBe('claude-opus-4-8');
    expect(message.stop_reason).toBe('end_turn');
    expect(message.content.filter((b) => b.type === 'text').map((b) => (b as { text: string }).text).join('')).toBe(DEFAULT_TEXT);

    // The simulator validated the body (§12.2) and answered 200.
    expect(generateCalls(stack).at(-1)!.status).toBe(200);
    expect(stack.sim.stats.rejected).toBe(0);
    const state = lastKiroBody(stack).conversationState;
    const current = state.currentMessage.userInputMessage;
    expect(current.modelId).toBe('claude-opus-4.8');
    expect(state.conversationId).toBe(SESSION_ID);
    expect(state.chatTriggerType).toBe('MANUAL');

    // The mid-conversation `role: "system"` text reaches Kiro.
    const midSystem = (FIRST.body.messages[1].content as string).slice(0, 200);
    expect(FIRST.body.messages[1].role).toBe('system');
    expect(JSON.stringify(lastKiroBody(stack))).toContain(JSON.stringify(midSystem).slice(1, -1));
    expect(current.content).toContain('say hi');

    // Every tool is declared under its own name.
    const declared = (current.userInputMessageContext.tools as Array<{ toolSpecification: { name: string } }>).map(
      (t) => t.toolSpecification.name,
    );
    expect(declared).toEqual((FIRST.body.tools as Array<{ name: string }>).map((t) => t.name));
    expect(declared).toHaveLength(24);
  });

  it('puts the tool_result of the second turn in currentMessage toolResults', async () => {
    const res = await replay(stack, TOOL_RESULT);

    expect(res.status).toBe(200);
    const { message } = await sdkParse(res);
    expect(message.model).toBe('claude-opus-4-8');
    expect(message.stop_reason).toBe('end_turn');

    expect(generateCalls(stack).at(-1)!.status).toBe(200);
    expect(stack.sim.stats.rejected).toBe(0);
    const state = lastKiroBody(stack).conversationState;
    const current = state.currentMessage.userInputMessage;
    expect(current.modelId).toBe('claude-opus-4.8');
    expect(state.conversationId).toBe(SESSION_ID);
    expect(current.userInputMessageContext.toolResults).toEqual([
      { toolUseId: 'toolu_01', content: [{ text: '1\thello from file\n2\t' }], status: 'success' },
    ]);
    expect(state.history.at(-1).assistantResponseMessage.toolUses).toEqual([
      { toolUseId: 'toolu_01', name: 'Read', input: { file_path: '/home/user/project/hello.txt' } },
    ]);
    expect(JSON.stringify(state)).toContain('[mid-conversation system text replaced]');
    expect(current.userInputMessageContext.tools).toHaveLength(24);
  });

  it('replays both turns through the buffered /cc mode as one complete SSE body', async () => {
    for (const fixture of [FIRST, TOOL_RESULT]) {
      const res = await replay(stack, fixture, '/cc');
      expect(res.status).toBe(200);
      const records = parseSse(await res.text());
      expect(records[0]!.json).toMatchObject({ type: 'message_start', message: { model: 'claude-opus-4-8' } });
      expect(records[0]!.json.message.usage.input_tokens).toBeGreaterThan(0);
      expect(records.at(-1)!.event).toBe('message_stop');
    }
    expect(stack.sim.stats.rejected).toBe(0);
  });
});
