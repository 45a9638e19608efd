import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/anthropic/types.js';
import { encodeSseEvent, encodeSseEvents, SSE_PING } from '../../src/convert/sse.js';

const TRICKY = [
  '',
  'plain',
  'quote " backslash \\ slash /',
  'new\nline\r\ttab',
  '\u0000\u001f control',
  'line sep \u2028 para sep \u2029',
  'emoji 🤔 and CJK 中文',
  'lone surrogate \ud83d end',
  '</script><thinking>',
];

function reference(event: StreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

describe('encodeSseEvent', () => {
  it('writes text, thinking and input JSON deltas byte-identical to JSON.stringify of the event', () => {
    for (const s of TRICKY) {
      const events: StreamEvent[] = [
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: s } },
        { type: 'content_block_delta', index: 12, delta: { type: 'thinking_delta', thinking: s } },
        { type: 'content_block_delta', index: 3, delta: { type: 'input_json_delta', partial_json: s } },
        { type: 'content_block_delta', index: 1, delta: { type: 'signature_delta', signature: s } },
      ];
      for (const e of events) expect(encodeSseEvent(e)).toBe(reference(e));
    }
  });

  it('writes every other event as `event: <type>` and its compact JSON', () => {
    const events: StreamEvent[] = [
      {
        type: 'message_start',
        message: {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          content: [],
          model: 'claude-sonnet-4-5',
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 10, output_tokens: 1 },
        },
      },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 't', name: 'Write', input: {} } },
      { type: 'content_block_stop', index: 7 },
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { input_tokens: 3000, output_tokens: 4 },
      },
      { type: 'message_stop' },
      { type: 'error', error: { type: 'api_error', message: 'Upstream "cut" off' } },
    ];
    for (const e of events) expect(encodeSseEvent(e)).toBe(reference(e));
  });

  it('writes ping exactly as Anthropic does, with a space after the colon', () => {
    expect(SSE_PING).toBe('event: ping\ndata: {"type": "ping"}\n\n');
    expect(encodeSseEvent({ type: 'ping' })).toBe(SSE_PING);
  });
});

describe('encodeSseEvents', () => {
  it('concatenates the records of a batch into one string', () => {
    const events: StreamEvent[] = [
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'a' } },
      { type: 'content_block_stop', index: 0 },
    ];
    expect(encodeSseEvents(events)).toBe(events.map(reference).join(''));
    expect(encodeSseEvents([])).toBe('');
  });
});
