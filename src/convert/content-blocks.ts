/**
 * The content blocks of one Anthropic message as stream events: one block open at a time, indexes
 * in order, text and thinking blocks opened on demand and closed (thinking with its signature)
 * before the next one starts. What the blocks contain is decided by `stream.ts`.
 */
import type { StreamEvent } from '../anthropic/types.js';

/**
 * Signature put on every thinking block. Kiro returns reasoning as plain text with no signature,
 * but the SDK and Claude Code expect thinking blocks to carry one, so this is synthetic: opaque,
 * non-empty and constant, so that it can be recognised (and ignored) when the client sends the
 * block back in its history.
 */
export const SYNTHETIC_THINKING_SIGNATURE = Buffer.from('kiro-gateway:synthetic-thinking-signature:v1').toString('base64');

const enum Open {
  None,
  Text,
  Thinking,
}

/** Writes block events through `emit`, in order. */
export class ContentBlocks {
  private nextIndex = 0;
  private open = Open.None;
  private openIndex = -1;
  /** The open text block has no text yet, so a notice may use it. */
  private openEmpty = false;
  /** Kiro's signature of the open thinking block, from reasoningContentEvent. */
  private signature: string | undefined;
  private textSentFlag = false;
  private thinkingSentFlag = false;
  private toolSentFlag = false;

  constructor(private readonly emit: (event: StreamEvent) => void) {}

  /** Some text was sent. */
  get textSent(): boolean {
    return this.textSentFlag;
  }

  /** A thinking block was opened. */
  get thinkingSent(): boolean {
    return this.thinkingSentFlag;
  }

  /** A tool_use block was sent. */
  get toolSent(): boolean {
    return this.toolSentFlag;
  }

  /** Whether a thinking block is open. */
  get thinkingOpen(): boolean {
    return this.open === Open.Thinking;
  }

  /** Appends text to the open text block, opening one (after closing any other) if needed. */
  text(text: string): void {
    if (this.open !== Open.Text) {
      this.close();
      this.openText();
    }
    this.textSentFlag = true;
    this.openEmpty = false;
    this.emit({ type: 'content_block_delta', index: this.openIndex, delta: { type: 'text_delta', text } });
  }

  /**
   * Text in a block of its own (a notice): a text block that already holds text is closed first,
   * an empty one is reused; the block is closed after.
   */
  standaloneText(text: string): void {
    if (this.open === Open.Text && !this.openEmpty) this.close();
    this.text(text);
    this.close();
  }

  /** Closes the open block and opens a thinking block. */
  openThinking(): void {
    this.close();
    this.open = Open.Thinking;
    this.openIndex = this.nextIndex++;
    this.thinkingSentFlag = true;
    this.emit({
      type: 'content_block_start',
      index: this.openIndex,
      content_block: { type: 'thinking', thinking: '', signature: '' },
    });
  }

  /** Appends to the open thinking block. */
  thinking(text: string): void {
    this.emit({ type: 'content_block_delta', index: this.openIndex, delta: { type: 'thinking_delta', thinking: text } });
  }

  /**
   * Closes the open thinking block, if any, signed with `signature`; without one (or when no
   * thinking block is open) the signature kept is the last one given, else the synthetic one.
   */
  closeThinking(signature?: string): void {
    if (signature !== undefined) this.signature = signature;
    if (this.open === Open.Thinking) this.close();
  }

  /** A whole tool_use block: start, its input as one `input_json_delta`, stop. */
  toolUse(id: string, name: string, input: string): void {
    this.close();
    const index = this.nextIndex++;
    this.toolSentFlag = true;
    this.emit({ type: 'content_block_start', index, content_block: { type: 'tool_use', id, name, input: {} } });
    this.emit({
      type: 'content_block_delta',
      index,
      delta: { type: 'input_json_delta', partial_json: input.length > 0 ? input : '{}' },
    });
    this.emit({ type: 'content_block_stop', index });
  }

  /** Closes the open block (a thinking block gets its signature delta first). */
  close(): void {
    if (this.open === Open.None) return;
    if (this.open === Open.Thinking) {
      this.emit({
        type: 'content_block_delta',
        index: this.openIndex,
        delta: { type: 'signature_delta', signature: this.signature ?? SYNTHETIC_THINKING_SIGNATURE },
      });
      this.signature = undefined;
    }
    this.emit({ type: 'content_block_stop', index: this.openIndex });
    this.open = Open.None;
  }

  private openText(): void {
    this.open = Open.Text;
    this.openIndex = this.nextIndex++;
    this.openEmpty = true;
    this.emit({ type: 'content_block_start', index: this.openIndex, content_block: { type: 'text', text: '' } });
  }
}
