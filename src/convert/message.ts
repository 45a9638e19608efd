/**
 * Non-streaming responses (docs/kiro-protocol.md §7.6): the stream events the streaming path
 * produces are folded into one Message, so both modes share one implementation of the semantics
 * (block order, dropped tool calls, thinking signatures, stop reason, usage). The fold follows the
 * official SDK's `MessageStream` accumulator, which the tests use as the oracle.
 */

import type { Message, ResponseContentBlock, StreamError, StreamEvent, Usage } from '../anthropic/types.js';

/**
 * The folded response: the message, or (when the events contain an `error` event, or never started
 * a message) the error, from which the caller builds its HTTP error (`error.type` is an Anthropic
 * error type such as `api_error` or `overloaded_error`). Test with `'error' in result`.
 */
export type CollectedMessage = { message: Message } | { error: StreamError };

function parseToolInput(json: string): unknown {
  if (json.length === 0) return {};
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return {};
  }
}

/**
 * Folds stream events into a Message incrementally, so the non-streaming route need not keep
 * every event. `add` each batch `KiroToAnthropicStream` returns, then read `result()`.
 */
export class MessageAccumulator {
  private message: Message | null = null;
  private failure: StreamError | null = null;
  /** Concatenated `input_json_delta` fragments of tool blocks, by block index. */
  private readonly toolJson = new Map<number, string>();

  /** Folds one event. Events after an error, and `ping`s, are ignored. */
  add(event: StreamEvent): void {
    if (this.failure) return;
    switch (event.type) {
      case 'message_start': {
        const m = event.message;
        this.message = { ...m, content: m.content.slice(), usage: { ...m.usage } };
        return;
      }
      case 'error':
        this.failure = event.error;
        return;
      case 'ping':
        return;
    }
    const message = this.message;
    if (!message) return;
    switch (event.type) {
      case 'content_block_start':
        message.content[event.index] = { ...event.content_block };
        return;
      case 'content_block_delta': {
        const block = message.content[event.index];
        if (!block) return;
        const d = event.delta;
        switch (d.type) {
          case 'text_delta':
            if (block.type === 'text') block.text += d.text;
            return;
          case 'thinking_delta':
            if (block.type === 'thinking') block.thinking += d.thinking;
            return;
          case 'signature_delta':
            if (block.type === 'thinking') block.signature = d.signature;
            return;
          case 'input_json_delta':
            if (block.type === 'tool_use' || block.type === 'server_tool_use') {
              this.toolJson.set(event.index, (this.toolJson.get(event.index) ?? '') + d.partial_json);
            }
            return;
        }
        return;
      }
      case 'content_block_stop':
        this.finishToolInput(message, event.index);
        return;
      case 'message_delta':
        message.stop_reason = event.delta.stop_reason;
        message.stop_sequence = event.delta.stop_sequence;
        mergeUsage(message.usage, event.usage);
        return;
      case 'message_stop':
        return;
    }
  }

  /** Folds a batch of events. */
  addAll(events: Iterable<StreamEvent>): void {
    for (const event of events) this.add(event);
  }

  /** The message so far, or the error that ended the stream. */
  result(): CollectedMessage {
    if (this.failure) return { error: this.failure };
    const message = this.message;
    if (!message) return { error: { type: 'api_error', message: 'The upstream produced no message' } };
    for (const index of this.toolJson.keys()) this.finishToolInput(message, index);
    // Dense, in index order, even if the events skipped an index.
    message.content = message.content.filter((b): b is ResponseContentBlock => b !== undefined);
    return { message };
  }

  private finishToolInput(message: Message, index: number): void {
    const json = this.toolJson.get(index);
    if (json === undefined) return;
    this.toolJson.delete(index);
    const block = message.content[index];
    if (block && (block.type === 'tool_use' || block.type === 'server_tool_use')) block.input = parseToolInput(json);
  }
}

/** Later usage figures replace earlier ones (they are whole-message totals, as in the SDK). */
function mergeUsage(target: Usage, delta: Usage): void {
  target.output_tokens = delta.output_tokens;
  if (delta.input_tokens != null) target.input_tokens = delta.input_tokens;
  if (delta.cache_creation_input_tokens != null) target.cache_creation_input_tokens = delta.cache_creation_input_tokens;
  if (delta.cache_read_input_tokens != null) target.cache_read_input_tokens = delta.cache_read_input_tokens;
  if (delta.server_tool_use != null) target.server_tool_use = delta.server_tool_use;
}

/**
 * Folds a whole event sequence (as produced for streaming) into the non-streaming response.
 * Returns `{ error }` instead of throwing when the sequence contains an `error` event, so the
 * caller can answer with the matching HTTP error.
 *
 * @example
 * const result = collectMessage(events);
 * if ('error' in result) throw new ApiError(result.error.message, { status: 502 });
 * ctx.body = result.message;
 */
export function collectMessage(events: Iterable<StreamEvent>): CollectedMessage {
  const acc = new MessageAccumulator();
  acc.addAll(events);
  return acc.result();
}
