import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/anthropic/types.js';
import type { KiroEvent } from '../../src/kiro/types.js';
import { encodeSseEvents } from '../../src/convert/sse.js';
import { KiroToAnthropicStream, type KiroToAnthropicStreamOptions } from '../../src/convert/stream.js';
import { SYNTHETIC_THINKING_SIGNATURE } from '../../src/convert/content-blocks.js';

const MODEL = 'claude-sonnet-4-5-20250929';

function converter(opts: Partial<KiroToAnthropicStreamOptions> = {}): KiroToAnthropicStream {
  return new KiroToAnthropicStream({
    model: MODEL,
    messageId: 'msg_test',
    thinking: false,
    inputTokensEstimate: 1234,
    windowSize: 200_000,
    toolNameMap: new Map(),
    ...opts,
  });
}

/** Runs a whole response through a converter and returns every event produced. */
function convert(events: KiroEvent[], opts: Partial<KiroToAnthropicStreamOptions> = {}): StreamEvent[] {
  const c = converter(opts);
  return [...c.start(), ...events.flatMap((e) => c.push(e)), ...c.finish()];
}

const text = (content: string): KiroEvent => ({ kind: 'text', content });
const tool = (toolUseId: string, name: string, input: string, stop = false): KiroEvent => ({
  kind: 'toolUse',
  toolUseId,
  name,
  input,
  stop,
});

function messageDelta(events: StreamEvent[]) {
  const e = events.find((x) => x.type === 'message_delta');
  if (!e || e.type !== 'message_delta') throw new Error('no message_delta');
  return e;
}

function blockTypes(events: StreamEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'content_block_start' ? [`${e.index}:${e.content_block.type}`] : []));
}

function textOf(events: StreamEvent[], index: number): string {
  return events
    .map((e) => (e.type === 'content_block_delta' && e.index === index && e.delta.type === 'text_delta' ? e.delta.text : ''))
    .join('');
}

describe('KiroToAnthropicStream', () => {
  it('converts a batch with pushAll exactly as push does event by event, an error mid-batch included', () => {
    const scripts: KiroEvent[][] = [
      [text('a'), text('b'), { kind: 'contextUsage', percentage: 3 }, text('c')],
      [text('<thinking>x</thinking>y'), tool('t1', 'Write', '{"a":1}', true), text('after')],
      [text('a'), { kind: 'error', errorCode: 'E', message: 'boom' }, text('never')],
      [],
    ];
    for (const script of scripts) {
      for (const thinking of [false, true]) {
        const one = converter({ thinking });
        const byEvent = [...one.start(), ...script.flatMap((e) => one.push(e)), ...one.finish()];
        const all = converter({ thinking });
        const batched = [...all.start(), ...all.pushAll(script.slice(0, 2)), ...all.pushAll(script.slice(2)), ...all.finish()];
        expect(batched).toEqual(byEvent);
      }
    }
  });

  it('produces exactly the §13.4 event sequence for a simple text reply', () => {
    const events = convert([text('Hello'), text(' world'), { kind: 'contextUsage', percentage: 1.5 }]);
    expect(encodeSseEvents(events)).toBe(
      [
        'event: message_start',
        'data: {"type":"message_start","message":{"id":"msg_test","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1234,"output_tokens":1}}}',
        '',
        'event: content_block_start',
        'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
        '',
        'event: content_block_delta',
        'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}',
        '',
        'event: content_block_delta',
        'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" world"}}',
        '',
        'event: content_block_stop',
        'data: {"type":"content_block_stop","index":0}',
        '',
        'event: message_delta',
        'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":3000,"output_tokens":4}}',
        '',
        'event: message_stop',
        'data: {"type":"message_stop"}',
        '',
        '',
      ].join('\n'),
    );
  });

  it('generates a msg_ id of 32 hex digits when none is given', () => {
    const c = new KiroToAnthropicStream({
      model: MODEL,
      thinking: false,
      inputTokensEstimate: 1,
      windowSize: 200_000,
      toolNameMap: new Map(),
    });
    const [start] = c.start();
    expect(start.type === 'message_start' && start.message.id).toMatch(/^msg_[0-9a-f]{32}$/);
  });

  it('sends each text fragment as it arrives, one delta per fragment, opening the text block with the first', () => {
    const c = converter();
    c.start();
    expect(c.push(text('a'))).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'a' } },
    ]);
    expect(c.push(text('b'))).toEqual([{ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'b' } }]);
    expect(c.push(text(''))).toEqual([]);
    expect(c.push({ kind: 'metering', usage: 0.01 })).toEqual([]);
  });

  it('counts output tokens per fragment with the §7.4 formula', () => {
    const c = converter();
    c.start();
    c.push(text('Hello')); // (5+3)/4 = 2
    c.push(text('中文字')); // (3*2+2)/3 = 2
    c.push(text('!')); // 1
    c.push(tool('t1', 'Read', '{"file_path":"/a"}', true)); // 18 bytes → (18+3)/4 = 5
    expect(c.outputTokens).toBe(10);
  });

  it('with thinking on, sends the reasoning as a signed thinking block at index 0 and the answer as text at index 1', () => {
    const events = convert([text('<thinking>\nPonder'), text('ing.\n</thinking>\n\nAnswer')], { thinking: true });
    expect(events.slice(1)).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Ponder' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'ing.\n' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: SYNTHETIC_THINKING_SIGNATURE } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Answer' } },
      { type: 'content_block_stop', index: 1 },
      expect.objectContaining({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null } }),
      { type: 'message_stop' },
    ]);
    expect(SYNTHETIC_THINKING_SIGNATURE.length).toBeGreaterThan(0);
  });

  it('with thinking on but extraction disabled, passes the tags through as text in the initial block', () => {
    const events = convert([text('<thinking>\nx\n</thinking>\n\ny')], { thinking: true, extractThinking: false });
    expect(blockTypes(events)).toEqual(['0:text']);
    expect(textOf(events, 0)).toBe('<thinking>\nx\n</thinking>\n\ny');
  });

  it('ends a thinking-only response with max_tokens and a single-space text block', () => {
    const events = convert([text('<thinking>\nonly thoughts')], { thinking: true });
    expect(blockTypes(events)).toEqual(['0:thinking', '1:text']);
    expect(textOf(events, 1)).toBe(' ');
    expect(messageDelta(events).delta.stop_reason).toBe('max_tokens');
  });

  it('sends a tool call only once complete, with its original name and deltas that concatenate to the original JSON', () => {
    const input = '{"file_path":"/tmp/a.txt","content":"line 1\\nline \\"2\\""}';
    const c = converter({ toolNameMap: new Map([['mcp__srv__short', 'mcp__server__a_very_long_original_name']]) });
    const events = [...c.start(), ...c.push(text('Writing.'))];
    const parts = [input.slice(0, 5), input.slice(5, 17), input.slice(17, 30), input.slice(30)];
    for (const p of parts) expect(c.push(tool('tooluse_1', 'mcp__srv__short', p))).toEqual([]);
    const done = c.push(tool('tooluse_1', 'mcp__srv__short', '', true));
    events.push(...done, ...c.finish());

    expect(done[0]).toEqual({ type: 'content_block_stop', index: 0 });
    expect(done[1]).toEqual({
      type: 'content_block_start',
      index: 1,
      content_block: { type: 'tool_use', id: 'tooluse_1', name: 'mcp__server__a_very_long_original_name', input: {} },
    });
    const json = done
      .map((e) => (e.type === 'content_block_delta' && e.delta.type === 'input_json_delta' ? e.delta.partial_json : ''))
      .join('');
    expect(json).toBe(input);
    expect(done[done.length - 1]).toEqual({ type: 'content_block_stop', index: 1 });
    expect(messageDelta(events).delta.stop_reason).toBe('tool_use');
    expect(c.stopReason).toBe('tool_use');
  });

  it('starts a tool-only answer with its tool_use at index 0, without an empty text block', () => {
    const events = convert([tool('t1', 'Read', '{"file_path":"/a"}', true)]);
    expect(blockTypes(events)).toEqual(['0:tool_use']);
  });

  it('sends a tool call with empty input as {}', () => {
    const events = convert([tool('t1', 'Now', '', false), tool('t1', 'Now', '', true)]);
    expect(events).toContainEqual({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{}' } });
  });

  it('opens a new text block for text after a tool call', () => {
    const events = convert([text('a'), tool('t1', 'Read', '{}', true), text('b')]);
    expect(blockTypes(events)).toEqual(['0:text', '1:tool_use', '2:text']);
    expect(textOf(events, 2)).toBe('b');
  });

  it('keeps streaming text that arrives while a tool call is being buffered', () => {
    const c = converter();
    c.start();
    c.push(tool('t1', 'Read', '{"file_pa'));
    expect(c.push(text('meanwhile'))).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'meanwhile' } },
    ]);
    const done = c.push(tool('t1', 'Read', 'th":"/a"}', true));
    expect(blockTypes(done)).toEqual(['1:tool_use']);
  });

  it('sends several tool calls in completion order', () => {
    const events = convert([
      tool('t1', 'Read', '{"a":'),
      tool('t2', 'Grep', '{"b":2}', true),
      tool('t1', 'Read', '1}', true),
    ]);
    const ids = events.flatMap((e) =>
      e.type === 'content_block_start' && e.content_block.type === 'tool_use' ? [e.content_block.id] : [],
    );
    expect(ids).toEqual(['t2', 't1']);
  });

  it('ignores a repeated stop for a tool call already sent', () => {
    const events = convert([tool('t1', 'Read', '{}', true), tool('t1', 'Read', '{}', true)]);
    expect(blockTypes(events)).toEqual(['0:tool_use']);
  });

  it('drops a tool call the stream cut off before its stop, explains it in text and stops with max_tokens', () => {
    const events = convert([text('Writing the file.'), tool('t1', 'Write', '{"file_path":"/a.ts","content":"export const')]);
    expect(blockTypes(events)).toEqual(['0:text', '1:text']);
    expect(events.some((e) => e.type === 'content_block_start' && e.content_block.type === 'tool_use')).toBe(false);
    const notice = textOf(events, 1);
    expect(notice).toContain('`Write` was cut off by the upstream output limit');
    expect(notice).toContain('at most ~50 lines');
    expect(messageDelta(events).delta.stop_reason).toBe('max_tokens');
  });

  it('puts the notice for a dropped tool call in the still-empty initial text block', () => {
    const events = convert([tool('t1', 'Bash', '{"command":"ls')]);
    expect(blockTypes(events)).toEqual(['0:text']);
    expect(textOf(events, 0)).toContain('`Bash` was cut off');
  });

  it('drops a finished tool call whose input is not a JSON object, with a notice and max_tokens', () => {
    for (const input of ['{"file_path":"/a"', '[1,2]', '"str"', 'null']) {
      const events = convert([tool('t1', 'Edit', input, true), text('after')]);
      expect(blockTypes(events), input).toEqual(['0:text', '1:text']);
      expect(textOf(events, 0)).toContain('`Edit` arrived with input that is not a valid JSON object');
      expect(textOf(events, 1)).toBe('after');
      expect(messageDelta(events).delta.stop_reason).toBe('max_tokens');
    }
  });

  it('names the original tool in the notice', () => {
    const events = convert([tool('t1', 'short', '{')], { toolNameMap: new Map([['short', 'OriginalName']]) });
    expect(textOf(events, 0)).toContain('`OriginalName`');
  });

  it('closes thinking when a tool call starts', () => {
    const events = convert([text('<thinking>\nplan'), tool('t1', 'Read', '{}', true)], { thinking: true });
    expect(blockTypes(events)).toEqual(['0:thinking', '1:tool_use']);
    expect(events.findIndex((e) => e.type === 'content_block_stop' && e.index === 0)).toBeLessThan(
      events.findIndex((e) => e.type === 'content_block_start' && e.index === 1),
    );
  });

  it('passes reasoningContentEvent on as a thinking block carrying Kiro\'s real signature', () => {
    const reasoning = (t: string, signature?: string): KiroEvent => ({ kind: 'reasoning', text: t, signature });
    const out = convert([reasoning('Let me '), reasoning('think.'), reasoning('', 'S2lybyByZWFs'), text('Answer.')], { thinking: true });
    expect(out.filter((e) => e.type !== 'message_start' && e.type !== 'message_delta' && e.type !== 'message_stop')).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Let me ' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'think.' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'S2lybyByZWFs' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Answer.' } },
      { type: 'content_block_stop', index: 1 },
    ]);
    // Reasoning without a signature falls back to the synthetic one; without thinking asked, it is dropped.
    const unsigned = convert([reasoning('hmm'), text('A')], { thinking: true });
    expect(unsigned).toContainEqual({ type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: SYNTHETIC_THINKING_SIGNATURE } });
    expect(convert([reasoning('hmm'), text('A')]).some((e) => e.type === 'content_block_start' && e.content_block.type === 'thinking')).toBe(false);
  });

  it('sums the credits of every meteringEvent of the request', () => {
    const c = converter();
    c.start();
    c.push(text('x'));
    c.push({ kind: 'metering', usage: 0.0052 });
    c.push({ kind: 'metering', usage: 0.001 });
    c.push({ kind: 'metering', usage: undefined });
    c.finish();
    expect(c.credits).toBeCloseTo(0.0062, 10);
  });

  it('stops with max_tokens after ContentLengthExceededException and keeps converting', () => {
    const events = convert([
      text('a'),
      { kind: 'exception', exceptionType: 'ContentLengthExceededException', message: 'too long' },
      text('b'),
    ]);
    expect(textOf(events, 0)).toBe('ab');
    expect(messageDelta(events).delta.stop_reason).toBe('max_tokens');
  });

  it('reports input tokens from contextUsageEvent in message_delta', () => {
    const c = converter({ windowSize: 1_000_000 });
    c.start();
    expect(c.contextInputTokens).toBeUndefined();
    expect(c.inputTokens).toBe(1234);
    c.push({ kind: 'contextUsage', percentage: 12.345 });
    expect(c.contextInputTokens).toBe(123_450);
    c.push(text('ok'));
    const events = c.finish();
    expect(messageDelta(events).usage).toEqual({ input_tokens: 123_450, output_tokens: 1 });
    expect(messageDelta(events).delta.stop_reason).toBe('end_turn');
  });

  it('ends an empty completion (no content, 0 output tokens, end_turn) with an error saying why, no message_stop', () => {
    const c = converter({ model: 'claude-sonnet-5' });
    c.start();
    c.push({ kind: 'contextUsage', percentage: 7.5 });
    c.push({ kind: 'metering', usage: 0.01 });
    const events = c.finish();
    expect(events).toEqual([
      { type: 'error', error: { type: 'api_error', message: expect.stringMatching(/empty completion for claude-sonnet-5 .*effective input cap/) } },
    ]);
    expect(c.error?.type).toBe('api_error');
    expect(c.stopReason).toBeNull();
    // A full context window explains itself: that is a normal stop, not an empty completion.
    const full = converter();
    full.start();
    full.push({ kind: 'contextUsage', percentage: 100 });
    expect(messageDelta(full.finish()).delta.stop_reason).toBe('model_context_window_exceeded');
  });

  it('stops with model_context_window_exceeded when context usage reaches 100 %', () => {
    const events = convert([text('a'), tool('t1', 'Read', '{}', true), { kind: 'contextUsage', percentage: 100 }]);
    expect(messageDelta(events).delta.stop_reason).toBe('model_context_window_exceeded');
    expect(messageDelta(events).usage.input_tokens).toBe(200_000);
  });

  it('answers an upstream failure with a single error event and nothing else', () => {
    const c = converter();
    c.start();
    c.push(text('partial'));
    c.push(tool('t1', 'Write', '{"a'));
    const error = { type: 'api_error' as const, message: 'Upstream connection failed mid-stream' };
    expect(c.finish({ error })).toEqual([{ type: 'error', error }]);
    expect(c.ended).toBe(true);
    expect(c.error).toEqual(error);
    expect(c.stopReason).toBeNull();
    expect(c.finish()).toEqual([]);
    expect(c.push(text('late'))).toEqual([]);
  });

  it('ends the message with overloaded_error on a ThrottlingException and ignores later events', () => {
    const c = converter();
    c.start();
    const out = c.push({ kind: 'exception', exceptionType: 'ThrottlingException', message: 'slow down' });
    expect(out).toEqual([{ type: 'error', error: { type: 'overloaded_error', message: 'Upstream ThrottlingException: slow down' } }]);
    expect(c.ended).toBe(true);
    expect(c.push(text('more'))).toEqual([]);
    expect(c.finish()).toEqual([]);
  });

  it('ends the message with api_error on any other exception or error event', () => {
    const a = converter();
    a.start();
    expect(a.push({ kind: 'exception', exceptionType: 'ValidationException', message: 'bad' })[0]).toMatchObject({
      type: 'error',
      error: { type: 'api_error' },
    });
    const b = converter();
    b.start();
    expect(b.push({ kind: 'error', errorCode: 'InternalError', message: 'boom' })[0]).toMatchObject({
      type: 'error',
      error: { type: 'api_error', message: expect.stringContaining('InternalError') },
    });
  });

  it('returns nothing once finished, however it is called', () => {
    const c = converter();
    c.start();
    expect(c.finish().length).toBeGreaterThan(0);
    expect(c.finish()).toEqual([]);
    expect(c.finish({ error: { type: 'api_error', message: 'x' } })).toEqual([]);
    expect(c.push(text('x'))).toEqual([]);
    expect(c.start()).toEqual([]);
  });

  it('starts the message implicitly when the first push comes before start()', () => {
    const c = converter();
    const events = c.push(text('hi'));
    expect(events.map((e) => e.type)).toEqual(['message_start', 'content_block_start', 'content_block_delta']);
    expect(c.start()).toEqual([]);
  });
});
