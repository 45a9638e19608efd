/**
 * The Responses API through the gateway, driven by the official `openai` SDK (its streaming helper
 * and `create({stream: true})`) against the simulator: text, the event sequence, a function-call
 * round trip with `function_call_output`, reasoning, cut-off output, and what is refused because
 * the gateway stores no responses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { APIError } from 'openai';
import { DEFAULT_TEXT, simScript, type Script } from '../../src/simulator/index.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { openAiClient, postOpenAi } from '../helpers/openai.js';
import { lastKiroBody, parseSse } from './sse.js';

const MODEL = 'claude-sonnet-4-6';
const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';
const ask = (text: string, script: Script) => `${text} ${simScript(script)}`;

const SHELL_TOOL: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'shell',
  description: 'Runs a command',
  parameters: { type: 'object', properties: { command: { type: 'array', items: { type: 'string' } } }, required: ['command'] },
  strict: false,
};

describe('the Responses API through the gateway, driven by the openai SDK', () => {
  let stack: Stack;
  let client: OpenAI;
  beforeAll(async () => {
    stack = await startStack();
    client = openAiClient(stack);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers a non-streaming request with a response object', async () => {
    const response = await client.responses.create({ model: MODEL, instructions: 'Be brief.', input: 'Hi', max_output_tokens: 100 });
    expect(response.object).toBe('response');
    expect(response.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(response.status).toBe('completed');
    expect(response.output_text).toBe(DEFAULT_TEXT);
    expect(response.output).toEqual([
      { id: expect.stringMatching(/^msg_/), type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: DEFAULT_TEXT, annotations: [] }] },
    ]);
    expect(response.instructions).toBe('Be brief.');
    expect(response.max_output_tokens).toBe(100);
    expect(response.usage!.input_tokens).toBeGreaterThan(0);
    expect(response.usage!.output_tokens).toBeGreaterThan(0);
    expect(response.usage!.total_tokens).toBe(response.usage!.input_tokens + response.usage!.output_tokens);
    const state = lastKiroBody(stack).conversationState;
    expect((state.history[0].userInputMessage.content as string).startsWith('Be brief.')).toBe(true);
    expect(state.currentMessage.userInputMessage.content).toBe('Hi');
  });

  it('streams the Responses event sequence through the streaming helper', async () => {
    const stream = client.responses.stream({
      model: MODEL,
      input: [{ role: 'user', content: [{ type: 'input_text', text: ask('Hi', { events: [{ text: 'Hello, ', fragments: 2 }, { text: 'world.' }] }) }] }],
    });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    stream.on('event', (event) => events.push(event));
    const final = await stream.finalResponse();
    expect(final.status).toBe('completed');
    expect(final.output_text).toBe('Hello, world.');

    const types = events.map((e) => e.type);
    expect(types[0]).toBe('response.created');
    expect(types[1]).toBe('response.in_progress');
    expect(types.slice(2, 4)).toEqual(['response.output_item.added', 'response.content_part.added']);
    expect(types.filter((t) => t === 'response.output_text.delta').length).toBe(3);
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const created = events[0] as OpenAI.Responses.ResponseCreatedEvent;
    expect(created.response).toMatchObject({ id: final.id, status: 'in_progress', output: [] });
    const done = events.find((e) => e.type === 'response.output_text.done') as OpenAI.Responses.ResponseTextDoneEvent;
    expect(done.text).toBe('Hello, world.');
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(completed.response.usage!.output_tokens).toBeGreaterThan(0);
  });

  it('round-trips a function call with function_call_output, streaming through create({stream: true})', async () => {
    const question = ask('List the files', {
      events: [{ toolUse: { name: 'shell', input: { command: ['ls', '-la'] }, id: 'tooluse_ls1', fragments: 3 } }],
    });
    const stream = await client.responses.create({ model: MODEL, input: question, tools: [SHELL_TOOL], stream: true });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const types = events.map((e) => e.type);
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const added = events[2] as OpenAI.Responses.ResponseOutputItemAddedEvent;
    expect(added.item).toMatchObject({ type: 'function_call', call_id: 'tooluse_ls1', name: 'shell', arguments: '', status: 'in_progress' });
    const argsDone = events[4] as OpenAI.Responses.ResponseFunctionCallArgumentsDoneEvent;
    expect(JSON.parse(argsDone.arguments)).toEqual({ command: ['ls', '-la'] });
    const completed = (events.at(-1) as OpenAI.Responses.ResponseCompletedEvent).response;
    const call = completed.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    expect(call).toMatchObject({ type: 'function_call', call_id: 'tooluse_ls1', name: 'shell', status: 'completed' });
    expect(JSON.parse(call.arguments)).toEqual({ command: ['ls', '-la'] });

    // As Codex does: the whole conversation again, with the call and its output.
    const answer = client.responses.stream({
      model: MODEL,
      input: [
        { role: 'user', content: 'List the files' },
        ...(completed.output as OpenAI.Responses.ResponseInputItem[]),
        { type: 'function_call_output', call_id: call.call_id, output: 'a.txt\nb.txt' },
      ],
      tools: [SHELL_TOOL],
      store: false,
      include: ['reasoning.encrypted_content'],
    });
    const final = await answer.finalResponse();
    expect(final.output_text).toBe(DEFAULT_TEXT);
    const state = lastKiroBody(stack).conversationState;
    expect(state.history.at(-1).assistantResponseMessage.toolUses).toEqual([{ toolUseId: 'tooluse_ls1', name: 'shell', input: { command: ['ls', '-la'] } }]);
    expect(state.currentMessage.userInputMessage.userInputMessageContext.toolResults).toEqual([
      { toolUseId: 'tooluse_ls1', content: [{ text: 'a.txt\nb.txt' }], status: 'success' },
    ]);
  });

  it('answers a function call without streaming', async () => {
    const response = await client.responses.create({
      model: MODEL,
      input: ask('Run it', { events: [{ text: 'Running.' }, { toolUse: { name: 'shell', input: { command: ['pwd'] }, id: 'tooluse_pwd' } }] }),
      tools: [SHELL_TOOL],
      tool_choice: { type: 'function', name: 'shell' },
    });
    expect(response.status).toBe('completed');
    expect(response.output.map((o) => o.type)).toEqual(['message', 'function_call']);
    expect(response.output_text).toBe('Running.');
    expect(response.output[1]).toMatchObject({ type: 'function_call', call_id: 'tooluse_pwd', name: 'shell', arguments: '{"command":["pwd"]}' });
  });

  it('gives each of two function calls its own output item', async () => {
    const script: Script = {
      events: [
        { toolUse: { name: 'shell', input: { command: ['ls'] }, id: 'tooluse_a' } },
        { toolUse: { name: 'shell', input: { command: ['pwd'] }, id: 'tooluse_b' } },
      ],
    };
    const stream = client.responses.stream({ model: MODEL, input: ask('Both', script), tools: [SHELL_TOOL] });
    const added: number[] = [];
    stream.on('response.output_item.added', (e) => added.push(e.output_index));
    const final = await stream.finalResponse();
    expect(added).toEqual([0, 1]);
    expect(final.output.map((o) => (o as OpenAI.Responses.ResponseFunctionToolCall).call_id)).toEqual(['tooluse_a', 'tooluse_b']);
    expect(new Set(final.output.map((o) => o.id)).size).toBe(2);
  });

  it('streams reasoning as a reasoning item when reasoning.effort asks for thinking', async () => {
    const stream = client.responses.stream({
      model: MODEL,
      input: ask('2+2?', { events: [{ thinking: 'Two plus two is four.' }, { text: 'It is 4.' }] }),
      reasoning: { effort: 'medium' },
    });
    const deltas: string[] = [];
    stream.on('response.reasoning_text.delta', (e) => deltas.push(e.delta));
    const final = await stream.finalResponse();
    expect(final.output.map((o) => o.type)).toEqual(['reasoning', 'message']);
    const reasoning = final.output[0] as OpenAI.Responses.ResponseReasoningItem;
    expect(reasoning.content![0]!.text.trim()).toBe('Two plus two is four.');
    expect(deltas.join('')).toBe(reasoning.content![0]!.text);
    expect(final.output_text).toBe('It is 4.');
    expect(lastKiroBody(stack).conversationState.history[0].userInputMessage.content).toContain('<max_thinking_length>10000</max_thinking_length>');

    // The reasoning item sent back goes to Kiro inline with the assistant turn after it.
    const next = await client.responses.create({
      model: MODEL,
      input: [{ role: 'user', content: '2+2?' }, ...(final.output as OpenAI.Responses.ResponseInputItem[]), { role: 'user', content: 'And 3+3?' }],
    });
    expect(next.output_text).toBe(DEFAULT_TEXT);
    const assistant = lastKiroBody(stack).conversationState.history.at(-1).assistantResponseMessage;
    expect(assistant.content).toMatch(/^<thinking>\s*Two plus two is four\.\s*<\/thinking>\n\nIt is 4\.$/);

    // A summary (what OpenAI's own reasoning items carry) is used when there is no reasoning text;
    // one with neither (only encrypted content) is dropped.
    await client.responses.create({
      model: MODEL,
      input: [
        { role: 'user', content: 'Hi' },
        { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'Greet back.' }] },
        { role: 'assistant', content: 'Hello.' },
        { type: 'reasoning', id: 'rs_2', summary: [], encrypted_content: 'opaque' },
        { role: 'assistant', content: 'Anything else?' },
        { role: 'user', content: 'No.' },
      ],
    });
    const merged = lastKiroBody(stack).conversationState.history.at(-1).assistantResponseMessage.content as string;
    expect(merged.startsWith('<thinking>Greet back.</thinking>\n\nHello.')).toBe(true);
    expect(merged).toContain('Anything else?');
    expect(merged.match(/<thinking>/g)).toHaveLength(1);
  });

  it('passes an input_image data URL to Kiro', async () => {
    await client.responses.create({
      model: MODEL,
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'What is this?' }, { type: 'input_image', image_url: `data:image/png;base64,${PNG_1PX}`, detail: 'auto' }] }],
    });
    const current = lastKiroBody(stack).conversationState.currentMessage.userInputMessage;
    expect(current.images).toEqual([{ format: 'png', source: { bytes: PNG_1PX } }]);
  });

  it("ends cut-off output with response.incomplete and reason 'max_output_tokens'", async () => {
    const script: Script = { events: [{ text: 'A long ans' }, { exception: { type: 'ContentLengthExceededException', message: 'too long' } }] };
    const res = await postOpenAi(stack, '/v1/responses', { model: MODEL, input: ask('Go', script), stream: true });
    const records = parseSse(res.text);
    expect(records.at(-1)!.event).toBe('response.incomplete');
    expect(records.at(-1)!.json.response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect(records.every((r) => r.event === r.json.type)).toBe(true);
    const plain = await client.responses.create({ model: MODEL, input: ask('Go', script) });
    expect(plain.status).toBe('incomplete');
    expect(plain.incomplete_details).toEqual({ reason: 'max_output_tokens' });
  });

  it('refuses previous_response_id and stored-response lookups: the gateway stores no responses', async () => {
    const err = await client.responses.create({ model: MODEL, input: 'Hi', previous_response_id: 'resp_123' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as APIError).param).toBe('previous_response_id');
    expect((err as APIError).code).toBe('unsupported_parameter');
    expect((err as APIError).message).toMatch(/stores no responses/);
    const missing = await client.responses.retrieve('resp_123').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((missing as APIError).message).toMatch(/stores no responses/);
  });
});

describe('keep-alive while Kiro is silent', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { KIRO_SSE_PING_INTERVAL_MS: '50' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('sends SSE comments, which the SDKs skip, on both routes', async () => {
    const slow: Script = { events: [{ text: 'One. ' }, { text: 'Two. ' }, { text: 'Three.' }], chunkDelayMs: 300 };
    const chat = await postOpenAi(stack, '/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: ask('Count', slow) }], stream: true });
    expect(chat.text).toContain('\n\n: keep-alive\n\n');
    const responses = await postOpenAi(stack, '/v1/responses', { model: MODEL, input: ask('Count', slow), stream: true });
    expect(responses.text).toContain('\n\n: keep-alive\n\n');

    const client = openAiClient(stack);
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: ask('Count', slow) }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('One. Two. Three.');
    expect((await client.responses.stream({ model: MODEL, input: ask('Count', slow) }).finalResponse()).output_text).toBe('One. Two. Three.');
  });
});
