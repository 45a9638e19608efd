/**
 * Responses API answers from the pipeline's Anthropic events: the Responses event stream for
 * `stream: true`, one `response` object otherwise. Each Anthropic content block becomes one output
 * item: text → a `message` item with one `output_text` part, thinking → a `reasoning` item with one
 * `reasoning_text` part, tool_use → a `function_call` item (its `call_id` is the tool_use id).
 *
 * Stream: `response.created`, `response.in_progress`, then per item `response.output_item.added`,
 * its part's `content_part.added` / deltas / `…done` (or `function_call_arguments.delta` / `.done`),
 * `response.output_item.done`; last `response.completed`, or `response.incomplete` when the output
 * was cut off (Kiro's output limit, the context window) or refused. A stream that fails after it
 * started ends with `response.failed` (status `failed`, `error.code` and `error.message`) and never
 * with `response.completed`.
 */
import { randomUUID } from 'node:crypto';
import type { AnswerFormat, SseEncoder } from '../anthropic/answer-format.js';
import type { Message, StopReason, StreamError, StreamEvent, Usage } from '../anthropic/types.js';
import { SSE_COMMENT_PING } from './chat-answer.js';
import type { ResponseEcho } from './responses-request.js';

type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

interface OutputText {
  type: 'output_text';
  text: string;
  annotations: [];
}

type OutputItem =
  | { id: string; type: 'message'; status: 'in_progress' | 'completed'; role: 'assistant'; content: OutputText[] }
  | { id: string; type: 'reasoning'; summary: []; content?: Array<{ type: 'reasoning_text'; text: string }> }
  | { id: string; type: 'function_call'; status: 'in_progress' | 'completed'; call_id: string; name: string; arguments: string };

interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

function usageOf(usage: Usage): ResponsesUsage {
  return {
    input_tokens: usage.input_tokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: usage.output_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.input_tokens + usage.output_tokens,
  };
}

/** How the message ended, as a Response status: cut off → `incomplete` with OpenAI's reason. */
function endOf(stop: StopReason | null): { status: ResponseStatus; incomplete_details: { reason: string } | null } {
  switch (stop) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
    case 'refusal':
      return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
    default:
      return { status: 'completed', incomplete_details: null };
  }
}

/** The Response object around its output. */
class ResponseShell {
  readonly id: string;
  private readonly itemPrefix: string;
  private items = 0;
  private readonly createdAt = Math.floor(Date.now() / 1000);

  constructor(
    messageId: string | undefined,
    private readonly echo: ResponseEcho,
  ) {
    const hex = messageId?.replace(/^msg_/, '') || randomUUID().replaceAll('-', '');
    this.id = `resp_${hex}`;
    this.itemPrefix = hex;
  }

  /** A fresh item id: `msg_…`, `rs_…` or `fc_…` with the response's hex and a counter. */
  itemId(kind: 'msg' | 'rs' | 'fc'): string {
    return `${kind}_${this.itemPrefix}${(this.items++).toString(16).padStart(4, '0')}`;
  }

  object(status: ResponseStatus, output: OutputItem[], extra: { usage?: Usage; error?: StreamError; incomplete_details?: { reason: string } | null } = {}) {
    return {
      id: this.id,
      object: 'response',
      created_at: this.createdAt,
      status,
      error: extra.error ? { code: 'server_error', message: extra.error.message } : null,
      incomplete_details: extra.incomplete_details ?? null,
      instructions: this.echo.instructions,
      max_output_tokens: this.echo.max_output_tokens,
      model: this.echo.model,
      output,
      parallel_tool_calls: this.echo.parallel_tool_calls,
      previous_response_id: null,
      reasoning: this.echo.reasoning,
      store: false,
      temperature: this.echo.temperature,
      text: { format: { type: 'text' } },
      tool_choice: this.echo.tool_choice,
      tools: this.echo.tools,
      top_p: this.echo.top_p,
      truncation: 'disabled',
      usage: extra.usage ? usageOf(extra.usage) : null,
      metadata: this.echo.metadata,
    };
  }
}

const textPart = (text: string): OutputText => ({ type: 'output_text', text, annotations: [] });

/** The output item an Anthropic block is building, with the text or arguments gathered so far. */
interface OpenItem {
  index: number;
  item: OutputItem;
  text: string;
}

/** Encodes one stream as Responses events, numbered by `sequence_number`. */
export class ResponsesEventEncoder implements SseEncoder {
  readonly ping = SSE_COMMENT_PING;
  private shell: ResponseShell | undefined;
  private sequence = 0;
  /** Finished output items, in order. */
  private readonly output: OutputItem[] = [];
  /** The item of each open Anthropic block, by block index. */
  private readonly open = new Map<number, OpenItem>();
  private end: { stop: StopReason | null; usage: Usage } | undefined;

  constructor(private readonly echo: ResponseEcho) {}

  encode(events: readonly StreamEvent[]): string {
    let out = '';
    for (const event of events) out += this.encodeOne(event);
    return out;
  }

  private emit(type: string, fields: Record<string, unknown>): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: this.sequence++, ...fields })}\n\n`;
  }

  private encodeOne(event: StreamEvent): string {
    switch (event.type) {
      case 'message_start': {
        this.shell = new ResponseShell(event.message.id, this.echo);
        const response = this.shell.object('in_progress', []);
        return this.emit('response.created', { response }) + this.emit('response.in_progress', { response });
      }
      case 'content_block_start':
        return this.startItem(event.index, event.content_block);
      case 'content_block_delta':
        return this.delta(event.index, event.delta);
      case 'content_block_stop':
        return this.finishItem(event.index);
      case 'message_delta':
        this.end = { stop: event.delta.stop_reason, usage: event.usage };
        return '';
      case 'message_stop': {
        const { status, incomplete_details } = endOf(this.end?.stop ?? null);
        const response = this.shell!.object(status, this.output, { usage: this.end?.usage, incomplete_details });
        return this.emit(status === 'completed' ? 'response.completed' : 'response.incomplete', { response });
      }
      case 'error':
        // A failure before anything was sent still ends in response.failed, never in silence.
        this.shell ??= new ResponseShell(undefined, this.echo);
        return this.emit('response.failed', { response: this.shell.object('failed', this.output, { error: event.error }) });
      default:
        return '';
    }
  }

  private startItem(index: number, block: Extract<StreamEvent, { type: 'content_block_start' }>['content_block']): string {
    const shell = this.shell!;
    const outputIndex = this.output.length + this.open.size;
    let item: OutputItem;
    let part = '';
    if (block.type === 'text') {
      item = { id: shell.itemId('msg'), type: 'message', status: 'in_progress', role: 'assistant', content: [] };
      part = 'content_part.added';
    } else if (block.type === 'thinking') {
      item = { id: shell.itemId('rs'), type: 'reasoning', summary: [] };
      part = 'content_part.added';
    } else if (block.type === 'tool_use') {
      item = { id: shell.itemId('fc'), type: 'function_call', status: 'in_progress', call_id: block.id, name: block.name, arguments: '' };
    } else {
      return '';
    }
    this.open.set(index, { index: outputIndex, item, text: '' });
    let out = this.emit('response.output_item.added', { output_index: outputIndex, item });
    if (part) {
      const added = item.type === 'message' ? textPart('') : { type: 'reasoning_text', text: '' };
      out += this.emit('response.content_part.added', { item_id: item.id, output_index: outputIndex, content_index: 0, part: added });
    }
    return out;
  }

  private delta(index: number, delta: Extract<StreamEvent, { type: 'content_block_delta' }>['delta']): string {
    const open = this.open.get(index);
    if (!open) return '';
    const at = { item_id: open.item.id, output_index: open.index };
    switch (delta.type) {
      case 'text_delta':
        open.text += delta.text;
        return this.emit('response.output_text.delta', { ...at, content_index: 0, delta: delta.text, logprobs: [] });
      case 'thinking_delta':
        open.text += delta.thinking;
        return this.emit('response.reasoning_text.delta', { ...at, content_index: 0, delta: delta.thinking });
      case 'input_json_delta':
        open.text += delta.partial_json;
        return this.emit('response.function_call_arguments.delta', { ...at, delta: delta.partial_json });
      default:
        return '';
    }
  }

  private finishItem(index: number): string {
    const open = this.open.get(index);
    if (!open) return '';
    this.open.delete(index);
    const { item, text } = open;
    const at = { item_id: item.id, output_index: open.index };
    let out = '';
    let done: OutputItem;
    if (item.type === 'message') {
      out += this.emit('response.output_text.done', { ...at, content_index: 0, text, logprobs: [] });
      out += this.emit('response.content_part.done', { ...at, content_index: 0, part: textPart(text) });
      done = { ...item, status: 'completed', content: [textPart(text)] };
    } else if (item.type === 'reasoning') {
      out += this.emit('response.reasoning_text.done', { ...at, content_index: 0, text });
      out += this.emit('response.content_part.done', { ...at, content_index: 0, part: { type: 'reasoning_text', text } });
      done = { ...item, content: [{ type: 'reasoning_text', text }] };
    } else {
      out += this.emit('response.function_call_arguments.done', { ...at, name: item.name, arguments: text });
      done = { ...item, status: 'completed', arguments: text };
    }
    this.output.push(done);
    return out + this.emit('response.output_item.done', { output_index: open.index, item: done });
  }
}

/** The non-streaming answer: a `response` object. */
export function responseOf(message: Message, echo: ResponseEcho): unknown {
  const shell = new ResponseShell(message.id, echo);
  const output: OutputItem[] = [];
  for (const block of message.content) {
    if (block.type === 'text') {
      output.push({ id: shell.itemId('msg'), type: 'message', status: 'completed', role: 'assistant', content: [textPart(block.text)] });
    } else if (block.type === 'thinking') {
      output.push({ id: shell.itemId('rs'), type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text: block.thinking }] });
    } else if (block.type === 'tool_use') {
      output.push({ id: shell.itemId('fc'), type: 'function_call', status: 'completed', call_id: block.id, name: block.name, arguments: JSON.stringify(block.input) });
    }
  }
  const { status, incomplete_details } = endOf(message.stop_reason);
  return shell.object(status, output, { usage: message.usage, incomplete_details });
}

/** The answer format of `POST /v1/responses`. */
export function responsesFormat(echo: ResponseEcho): AnswerFormat {
  return { sseEncoder: () => new ResponsesEventEncoder(echo), jsonBody: (message) => responseOf(message, echo), webSearch: false };
}
