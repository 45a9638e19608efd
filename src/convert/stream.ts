/**
 * Kiro events → Anthropic stream events (docs/kiro-protocol.md §7.1–§7.4, §12.1): a plain state
 * machine with no I/O. The streaming route encodes its output with `sse.ts`; the non-streaming
 * route folds the same output with `message.ts`, so both modes share one set of semantics.
 * Tool-call buffering and the notices replacing cut-off calls live in `tool-calls.ts`, the order
 * and indexes of content blocks in `content-blocks.ts`.
 */

import { estimateTextOutputTokens } from './tokens.js';
import { newMessageId } from './message-id.js';
import type { StopReason, StreamError, StreamEvent } from '../anthropic/types.js';
import type { KiroEvent } from '../kiro/types.js';
import { ThinkingExtractor, type ThinkingSink } from './thinking.js';
import { ContentBlocks } from './content-blocks.js';
import { emptyCompletionError } from './empty-completion.js';
import { isCompleteInput, malformedToolNotice, ToolCallBuffer, truncatedToolNotice } from './tool-calls.js';

/** Options of one converted response. */
export interface KiroToAnthropicStreamOptions {
  /** The model as the client requested it; echoed back. */
  model: string;
  /** Defaults to a fresh `msg_<32 hex>`. */
  messageId?: string;
  /** Whether the request enabled extended thinking. */
  thinking: boolean;
  /** Local input estimate (§8), used until a contextUsageEvent gives the real figure. */
  inputTokensEstimate: number;
  /** Context window of the upstream model, for contextUsageEvent percentages (§6.1). */
  windowSize: number;
  /** Kiro tool name → the client's original name (names are shortened upstream). */
  toolNameMap: ReadonlyMap<string, string>;
  /** Split `<thinking>` markup out of the text when thinking is on (config `extractThinking`). */
  extractThinking?: boolean;
}

/**
 * Converts one Kiro response into Anthropic stream events. Call `start()` once the upstream
 * answered 200, `push()` for each decoded Kiro event, and `finish()` when the upstream ends (or
 * fails); each returns the events to send, in order (often none).
 *
 * - Text is streamed as it arrives; with thinking on, `<thinking>` markup becomes a thinking block
 *   (see `ThinkingExtractor`) carrying `SYNTHETIC_THINKING_SIGNATURE`.
 * - Tool calls are buffered until their `stop:true` and only sent when their input is a complete
 *   JSON object, as one block (start, one `input_json_delta`, stop). A call the upstream cut off
 *   (§12.1) is replaced by a text notice telling the model what to do, and the stop reason becomes
 *   `max_tokens`: a broken `Write` passed through makes Claude Code retry it forever.
 * - Exceptions: `ContentLengthExceededException` means the output was truncated (`max_tokens`,
 *   the stream goes on). Any other exception or error event ends the message at once with an
 *   `error` event (`overloaded_error` for `ThrottlingException`, else `api_error`), as Anthropic's
 *   API does mid-stream; `ended` becomes true so the caller can stop reading the upstream.
 * - Stop reason: context usage ≥ 100 % → `model_context_window_exceeded`; else truncation (the
 *   exception, a dropped tool call, or thinking-only output) → `max_tokens`; else `tool_use` if a
 *   tool call was sent; else `end_turn`.
 *
 * Once ended (by `finish` or an error event), every call returns [].
 */
export class KiroToAnthropicStream {
  private readonly model: string;
  private readonly messageId: string;
  private readonly inputTokensEstimate: number;
  private readonly windowSize: number;
  /** Present when thinking is on and extraction enabled. */
  private readonly extractor: ThinkingExtractor | undefined;

  /** Events produced by the call in progress (the sink methods append here). */
  private out: StreamEvent[] = [];
  private started = false;
  private endedFlag = false;
  private errorValue: StreamError | null = null;
  private readonly blocks = new ContentBlocks((event) => this.out.push(event));
  /** Tool calls whose input is still arriving. */
  private readonly tools: ToolCallBuffer;
  private truncated = false;
  private contextPercentage: number | undefined;
  private output = 0;
  private finalStopReason: StopReason | null = null;
  /** The request asked for thinking (reasoningContentEvent is passed on only then). */
  private readonly thinkingWanted: boolean;
  private creditsUsed = 0;

  constructor(opts: KiroToAnthropicStreamOptions) {
    this.model = opts.model;
    this.messageId = opts.messageId ?? newMessageId();
    this.inputTokensEstimate = opts.inputTokensEstimate;
    this.windowSize = opts.windowSize;
    this.tools = new ToolCallBuffer(opts.toolNameMap);
    this.thinkingWanted = opts.thinking;
    if (opts.thinking && opts.extractThinking !== false) {
      const sink: ThinkingSink = {
        text: (text) => this.blocks.text(text),
        thinkingStart: () => this.blocks.openThinking(),
        thinking: (text) => this.blocks.thinking(text),
        thinkingEnd: () => this.blocks.closeThinking(),
      };
      this.extractor = new ThinkingExtractor(sink);
    }
  }

  /** Input tokens as reported at the end: from contextUsageEvent when seen, else the estimate. */
  get inputTokens(): number {
    return this.contextInputTokens ?? this.inputTokensEstimate;
  }

  /** Kiro credits of this request: the sum of its meteringEvents (newer notes §5). Not tokens. */
  get credits(): number {
    return this.creditsUsed;
  }

  /** Running output estimate (§7.4). */
  get outputTokens(): number {
    return this.output;
  }

  /** The stop reason sent in `message_delta`; null before `finish` or when ended by an error. */
  get stopReason(): StopReason | null {
    return this.finalStopReason;
  }

  /**
   * Input tokens derived from the last contextUsageEvent (floor(pct × window / 100)), if any; the
   * buffered `/cc/v1` mode patches `message_start` with it (§7.5).
   */
  get contextInputTokens(): number | undefined {
    return this.contextPercentage === undefined
      ? undefined
      : Math.floor((this.contextPercentage * this.windowSize) / 100);
  }

  /** True once the message is over (finished, or ended by an error event): stop reading upstream. */
  get ended(): boolean {
    return this.endedFlag;
  }

  /** The error that ended the stream (error event pushed, or `finish({ error })`), else null. */
  get error(): StreamError | null {
    return this.errorValue;
  }

  /** `message_start`, plus the initial empty text block at index 0 when thinking is not extracted. */
  start(): StreamEvent[] {
    if (this.started || this.endedFlag) return [];
    this.started = true;
    this.out = [
      {
        type: 'message_start',
        message: {
          id: this.messageId,
          type: 'message',
          role: 'assistant',
          content: [],
          model: this.model,
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: this.inputTokensEstimate, output_tokens: 1 },
        },
      },
    ];
    // Blocks open on demand (kiro.rs opens an empty text block here at once): a tool-only answer
    // then starts with its tool_use, with no empty text block for clients to echo back in history
    // (Anthropic's API rejects empty text blocks).
    return this.out;
  }

  /** Converts one Kiro event. */
  push(event: KiroEvent): StreamEvent[] {
    if (this.endedFlag) return [];
    if (!this.started) this.start();
    else this.out = [];
    this.convert(event);
    return this.out;
  }

  /**
   * Converts the Kiro events of one upstream chunk: what `push` of each would return, in one
   * array (none is converted once an event ended the message).
   */
  pushAll(events: readonly KiroEvent[]): StreamEvent[] {
    if (this.endedFlag) return [];
    if (!this.started) this.start();
    else this.out = [];
    for (let i = 0; i < events.length && !this.endedFlag; i++) this.convert(events[i]!);
    return this.out;
  }

  private convert(event: KiroEvent): void {
    switch (event.kind) {
      case 'text':
        if (event.content.length === 0) break;
        this.output += estimateTextOutputTokens(event.content);
        if (this.extractor) this.extractor.push(event.content);
        else this.blocks.text(event.content);
        break;
      case 'toolUse':
        this.onToolUse(event.toolUseId, event.name, event.input, event.stop);
        break;
      case 'contextUsage':
        this.contextPercentage = event.percentage;
        break;
      case 'exception':
        if (event.exceptionType === 'ContentLengthExceededException') this.truncated = true;
        else
          this.fail({
            type: event.exceptionType === 'ThrottlingException' ? 'overloaded_error' : 'api_error',
            message: `Upstream ${event.exceptionType}: ${event.message}`,
          });
        break;
      case 'error':
        this.fail({ type: 'api_error', message: `Upstream error ${event.errorCode}: ${event.message}` });
        break;
      case 'metering':
        if (event.usage !== undefined && Number.isFinite(event.usage)) this.creditsUsed += event.usage;
        break;
      case 'reasoning':
        this.onReasoning(event.text, event.signature);
        break;
    }
  }

  /**
   * Ends the message. Without an error: releases held text, replaces unfinished tool calls with
   * notices, closes the open block and sends `message_delta` and `message_stop`. With an error (the
   * upstream failed mid-stream): only the `error` event, as Anthropic's API does.
   */
  finish(outcome?: { error?: StreamError }): StreamEvent[] {
    if (this.endedFlag) return [];
    if (outcome?.error) {
      this.out = [];
      this.fail(outcome.error);
      return this.out;
    }
    if (!this.started) this.start();
    else this.out = [];
    this.extractor?.flush();
    for (const tool of this.tools.unfinished()) this.emitNotice(truncatedToolNotice(tool.name));
    this.tools.clear();
    const { blocks } = this;
    if (blocks.thinkingSent && !blocks.textSent && !blocks.toolSent) {
      // Thinking-only output (§7.3): the answer was cut off; clients need some text.
      this.truncated = true;
      blocks.text(' ');
    }
    blocks.close();

    const stopReason: StopReason =
      this.contextPercentage !== undefined && this.contextPercentage >= 100
        ? 'model_context_window_exceeded'
        : this.truncated
          ? 'max_tokens'
          : blocks.toolSent
            ? 'tool_use'
            : 'end_turn';
    const empty = emptyCompletionError(this.model, {
      hasContent: blocks.textSent || blocks.thinkingSent || blocks.toolSent,
      outputTokens: this.output,
      stopReason,
    });
    if (empty) {
      this.fail(empty);
      return this.out;
    }
    this.finalStopReason = stopReason;
    this.endedFlag = true;
    this.out.push(
      {
        type: 'message_delta',
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { input_tokens: this.inputTokens, output_tokens: this.output },
      },
      { type: 'message_stop' },
    );
    return this.out;
  }

  private fail(error: StreamError): void {
    this.errorValue = error;
    this.endedFlag = true;
    this.tools.clear();
    this.out.push({ type: 'error', error });
  }

  private onToolUse(id: string, name: string, input: string, stop: boolean): void {
    // Thinking cannot continue past a tool call (§7.3 boundary rule).
    this.extractor?.flush();
    if (this.tools.isDone(id)) return;
    if (input.length > 0) this.output += Math.floor((Buffer.byteLength(input, 'utf8') + 3) / 4);

    const tool = this.tools.add(id, name, input, stop);
    if (!tool) return;

    if (!isCompleteInput(tool.input)) {
      this.emitNotice(malformedToolNotice(tool.name));
      return;
    }
    this.blocks.toolUse(id, tool.name, tool.input);
  }

  /** A dropped tool call's explanation, in a text block of its own; the output counts as cut off. */
  private emitNotice(text: string): void {
    this.truncated = true;
    this.output += estimateTextOutputTokens(text);
    this.blocks.standaloneText(text);
  }

  /**
   * reasoningContentEvent: thinking in its own channel, with Kiro's real signature at the end
   * (newer notes §5). Dropped when the request did not ask for thinking.
   */
  private onReasoning(text: string, signature: string | undefined): void {
    if (!this.thinkingWanted) return;
    if (text.length > 0) {
      if (!this.blocks.thinkingOpen) this.blocks.openThinking();
      this.output += estimateTextOutputTokens(text);
      this.blocks.thinking(text);
    }
    if (signature !== undefined) this.blocks.closeThinking(signature);
  }
}
