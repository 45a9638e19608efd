import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/anthropic/types.js';
import { ContentBlocks, SYNTHETIC_THINKING_SIGNATURE } from '../../src/convert/content-blocks.js';

function blocks(): { blocks: ContentBlocks; events: StreamEvent[] } {
  const events: StreamEvent[] = [];
  return { blocks: new ContentBlocks((e) => events.push(e)), events };
}

describe('ContentBlocks', () => {
  it('opens one block at a time, indexes in order, and closes the open one before the next', () => {
    const { blocks: b, events } = blocks();
    b.openThinking();
    b.thinking('hm');
    b.text('hi');
    b.toolUse('t1', 'Read', '');
    b.close();
    expect(events).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hm' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: SYNTHETIC_THINKING_SIGNATURE } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'hi' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 't1', name: 'Read', input: {} } },
      { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{}' } },
      { type: 'content_block_stop', index: 2 },
    ]);
    expect([b.thinkingSent, b.textSent, b.toolSent]).toEqual([true, true, true]);
  });

  it("signs a thinking block with Kiro's signature when one is given", () => {
    const { blocks: b, events } = blocks();
    b.openThinking();
    b.closeThinking('sig-from-kiro');
    expect(events).toContainEqual({ type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig-from-kiro' } });
    expect(b.thinkingOpen).toBe(false);
  });

  it('puts standalone text in a block of its own, after text already sent', () => {
    const { blocks: b, events } = blocks();
    b.text('a');
    b.standaloneText('notice');
    b.text('b');
    const starts = events.filter((e) => e.type === 'content_block_start').map((e) => (e as { index: number }).index);
    expect(starts).toEqual([0, 1, 2]);
  });
});
