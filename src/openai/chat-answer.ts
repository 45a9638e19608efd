/**
 * Chat Completions answers from the pipeline's Anthropic events: `chat.completion.chunk` SSE for
 * `stream: true`, one `chat.completion` otherwise.
 *
 * Stream: a first chunk with the role, then one chunk per text, reasoning or tool-call delta, a
 * chunk with the finish reason, (with `stream_options.include_usage`) a chunk with the usage and no
 * choices, and `data: [DONE]`. A stream that fails after it started ends with
 * `data: {"error":{…}}` and no `[DONE]`: the SDKs raise on that record, and a stream without
 * `[DONE]` is never mistaken for a complete one.
 */
import type { AnswerFormat, SseEncoder } from '../anthropic/answer-format.js';
import type { Message, StopReason, StreamEvent, Usage } from '../anthropic/types.js';
import { streamErrorOf } from './errors.js';

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

/** An SSE comment: ignored by OpenAI clients, enough to keep proxies from closing an idle stream. */
export const SSE_COMMENT_PING = ': keep-alive\n\n';

const DONE = 'data: [DONE]\n\n';

/** Anthropic's stop reason as OpenAI's finish reason. */
export function finishReasonOf(stop: StopReason | null): FinishReason {
  switch (stop) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function chatUsageOf(usage: Usage): ChatUsage {
  return { prompt_tokens: usage.input_tokens, completion_tokens: usage.output_tokens, total_tokens: usage.input_tokens + usage.output_tokens };
}

/** `chatcmpl-…` from the message id, so logs and answers can be matched. */
function completionId(messageId: string): string {
  return `chatcmpl-${messageId.replace(/^msg_/, '')}`;
}

const now = () => Math.floor(Date.now() / 1000);

/**
 * Encodes one stream. Each chunk is a fixed head and tail around its delta, written by hand: the
 * deltas are the per-token path, and their text is still escaped by JSON.stringify.
 */
export class ChatChunkEncoder implements SseEncoder {
  readonly ping = SSE_COMMENT_PING;
  private head = '';
  private tail = '';
  private identity = '';
  /** The tool-call index of each Anthropic tool_use block, by block index. */
  private readonly toolIndexes = new Map<number, number>();
  private usage: Usage | undefined;

  constructor(private readonly includeUsage: boolean) {}

  encode(events: readonly StreamEvent[]): string {
    let out = '';
    for (const event of events) out += this.encodeOne(event);
    return out;
  }

  private chunk(delta: string, finishReason: FinishReason | null = null): string {
    return finishReason === null ? this.head + delta + this.tail : `${this.head}${delta},"logprobs":null,"finish_reason":"${finishReason}"}]${this.includeUsage ? ',"usage":null' : ''}}\n\n`;
  }

  private encodeOne(event: StreamEvent): string {
    switch (event.type) {
      case 'message_start': {
        const m = event.message;
        this.identity = `{"id":${JSON.stringify(completionId(m.id))},"object":"chat.completion.chunk","created":${now()},"model":${JSON.stringify(m.model)}`;
        this.head = `data: ${this.identity},"choices":[{"index":0,"delta":`;
        this.tail = `,"logprobs":null,"finish_reason":null}]${this.includeUsage ? ',"usage":null' : ''}}\n\n`;
        return this.chunk('{"role":"assistant","content":""}');
      }
      case 'content_block_start': {
        const block = event.content_block;
        if (block.type !== 'tool_use') return '';
        const index = this.toolIndexes.size;
        this.toolIndexes.set(event.index, index);
        const call = { index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } };
        return this.chunk(`{"tool_calls":[${JSON.stringify(call)}]}`);
      }
      case 'content_block_delta': {
        const d = event.delta;
        switch (d.type) {
          case 'text_delta':
            return this.chunk(`{"content":${JSON.stringify(d.text)}}`);
          case 'thinking_delta':
            return this.chunk(`{"reasoning_content":${JSON.stringify(d.thinking)}}`);
          case 'input_json_delta': {
            const index = this.toolIndexes.get(event.index);
            if (index === undefined) return '';
            return this.chunk(`{"tool_calls":[{"index":${index},"function":{"arguments":${JSON.stringify(d.partial_json)}}}]}`);
          }
          default:
            return '';
        }
      }
      case 'message_delta':
        this.usage = event.usage;
        return this.chunk('{}', finishReasonOf(event.delta.stop_reason));
      case 'message_stop': {
        if (!this.includeUsage || !this.usage) return DONE;
        return `data: ${this.identity},"choices":[],"usage":${JSON.stringify(chatUsageOf(this.usage))}}\n\n${DONE}`;
      }
      case 'error':
        return `data: ${JSON.stringify({ error: streamErrorOf(event.error) })}\n\n`;
      default:
        return '';
    }
  }
}

/** One tool call of a non-streaming answer. */
interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** The non-streaming answer: a `chat.completion` object. */
export function chatCompletionOf(message: Message): unknown {
  let text: string | null = null;
  let reasoning: string | undefined;
  const toolCalls: ChatToolCall[] = [];
  for (const block of message.content) {
    if (block.type === 'text') text = (text ?? '') + block.text;
    else if (block.type === 'thinking') reasoning = (reasoning ?? '') + block.thinking;
    else if (block.type === 'tool_use') toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input) } });
  }
  const answer: Record<string, unknown> = { role: 'assistant', content: text, refusal: null };
  if (reasoning !== undefined) answer.reasoning_content = reasoning;
  if (toolCalls.length > 0) answer.tool_calls = toolCalls;
  return {
    id: completionId(message.id),
    object: 'chat.completion',
    created: now(),
    model: message.model,
    choices: [{ index: 0, message: answer, logprobs: null, finish_reason: finishReasonOf(message.stop_reason) }],
    usage: chatUsageOf(message.usage),
  };
}

/** The answer format of `POST /v1/chat/completions`. */
export function chatCompletionsFormat(includeUsage: boolean): AnswerFormat {
  return { sseEncoder: () => new ChatChunkEncoder(includeUsage), jsonBody: chatCompletionOf, webSearch: false };
}
