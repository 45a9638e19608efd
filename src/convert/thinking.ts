/**
 * Streaming extraction of the model's inline `<thinking>…</thinking>` markup (docs/kiro-protocol.md
 * §7.3). With thinking on, Kiro sends the reasoning inside the ordinary text stream as
 * `<thinking>\n…\n</thinking>\n\n…answer…`; this splits it into thinking and text while the text is
 * still arriving, with tags split anywhere across upstream events.
 *
 * Only a small tail is ever buffered (a possible partial tag), so each chunk costs O(chunk length)
 * and plain text flows through with no added latency unless it ends in a `<`-prefix of a tag.
 */

/** Receives the extractor's output, in order. Called synchronously from `push`/`flush`. */
export interface ThinkingSink {
  /** Ordinary answer text (never empty). */
  text(text: string): void;
  /** The real opening tag was found: a thinking block starts. */
  thinkingStart(): void;
  /** Reasoning text (never empty). */
  thinking(text: string): void;
  /** The thinking block ended (closing tag, tool call or end of stream). */
  thinkingEnd(): void;
}

const OPEN_TAG = '<thinking>';
const CLOSE_TAG = '</thinking>';
/** The closing tag only counts when followed by a blank line. */
const CLOSE_SEQUENCE = CLOSE_TAG + '\n\n';
const NEWLINE = 0x0a;
/** No character (start or end of the stream): never a quote character. */
const NO_CHAR = -1;

/**
 * A tag next to one of these characters is the model quoting the tag (`` `<thinking>` ``,
 * `"<thinking>"`, `</thinking>.`), not using it.
 */
const QUOTE_CHARS = '`"\'\\#!@$%^&*()-_=+[]{};:<>,.?/';
const IS_QUOTE = new Uint8Array(128);
for (let i = 0; i < QUOTE_CHARS.length; i++) IS_QUOTE[QUOTE_CHARS.charCodeAt(i)] = 1;

function isQuote(code: number): boolean {
  return code >= 0 && code < 128 && IS_QUOTE[code] === 1;
}

function isWhitespaceOnly(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
  }
  return true;
}

/**
 * Start of the longest suffix of `buf` that could still grow into `tag` (which has its only `<` at
 * index 0), or -1. Such a suffix must be held back until the next chunk decides it.
 */
function partialTagStart(buf: string, tag: string): number {
  const lt = buf.lastIndexOf('<');
  if (lt < 0 || buf.length - lt >= tag.length) return -1;
  return tag.startsWith(buf.substring(lt)) ? lt : -1;
}

const enum Phase {
  /** No thinking block yet: looking for a real `<thinking>`. */
  Before,
  /** Inside the thinking block: looking for a real `</thinking>\n\n`. */
  Thinking,
  /** The (only) thinking block is over: everything is text. */
  After,
}

/**
 * Splits a text stream into text and one thinking block. Feed upstream text with `push`; call
 * `flush` when a tool call starts and when the stream ends.
 *
 * Rules (§7.3): a tag is real unless the character right before or after it is a quote character;
 * text before the real opening tag is dropped when it is whitespace only; the opening tag and one
 * `\n` after it are removed; the closing tag must be followed by `\n\n`, both removed; only the
 * first thinking block is extracted. Unlike the reference, no empty `thinking_delta` is produced
 * before the block ends (it carries nothing).
 *
 * @example
 * const x = new ThinkingExtractor(sink);
 * x.push('<think'); x.push('ing>\nhmm\n</thinking>\n\nHi'); x.flush();
 * // sink: thinkingStart, thinking('hmm\n'), thinkingEnd, text('Hi')
 */
export class ThinkingExtractor {
  private phase = Phase.Before;
  /** Held-back input: a possible partial tag, or leading whitespace before any text. */
  private buf = '';
  /** Last character handed to the sink in the current phase, for the quote rule across chunks. */
  private prevCode = NO_CHAR;
  /** The `\n` right after `<thinking>` is dropped, even when it arrives in the next chunk. */
  private skipNewline = false;
  /** Whitespace is held back only until the first text, so it cannot open a block of its own. */
  private textSeen = false;

  constructor(private readonly sink: ThinkingSink) {}

  /** Feeds the next upstream text fragment. */
  push(chunk: string): void {
    if (chunk.length === 0) return;
    switch (this.phase) {
      case Phase.After:
        this.sink.text(chunk);
        return;
      case Phase.Before:
        this.buf += chunk;
        this.scanBefore();
        return;
      case Phase.Thinking:
        if (this.skipNewline) {
          this.skipNewline = false;
          if (chunk.charCodeAt(0) === NEWLINE) {
            if (chunk.length === 1) return;
            chunk = chunk.substring(1);
          }
        }
        this.buf += chunk;
        this.scanThinking();
        return;
    }
  }

  /**
   * Releases everything held back, because a tool call starts or the stream ends. Inside the
   * thinking block, a `</thinking>` followed only by whitespace counts as the end tag; otherwise
   * all that is held is reasoning; either way the thinking block is closed.
   */
  flush(): void {
    const buf = this.buf;
    this.buf = '';
    if (this.phase === Phase.Before) {
      if (!isWhitespaceOnly(buf)) this.emitText(buf);
      return;
    }
    if (this.phase === Phase.Thinking) {
      let end = buf.length;
      const i = buf.lastIndexOf(CLOSE_TAG);
      if (
        i >= 0 &&
        !isQuote(i > 0 ? buf.charCodeAt(i - 1) : this.prevCode) &&
        isWhitespaceOnly(buf.substring(i + CLOSE_TAG.length))
      ) {
        end = i;
      }
      if (end > 0) this.sink.thinking(buf.substring(0, end));
      this.sink.thinkingEnd();
      this.phase = Phase.After;
    }
  }

  private emitText(text: string): void {
    this.textSeen = true;
    this.prevCode = text.charCodeAt(text.length - 1);
    this.sink.text(text);
  }

  private scanBefore(): void {
    const buf = this.buf;
    let from = 0;
    for (;;) {
      const i = buf.indexOf(OPEN_TAG, from);
      if (i < 0) break;
      from = i + 1;
      if (isQuote(i > 0 ? buf.charCodeAt(i - 1) : this.prevCode)) continue;
      const after = i + OPEN_TAG.length;
      if (after === buf.length) {
        // The character after the tag decides; wait for it.
        this.releaseText(i);
        return;
      }
      if (isQuote(buf.charCodeAt(after))) continue;

      const before = buf.substring(0, i);
      if (!isWhitespaceOnly(before)) this.emitText(before);
      this.buf = '';
      this.phase = Phase.Thinking;
      this.prevCode = NO_CHAR;
      this.skipNewline = true;
      this.sink.thinkingStart();
      this.push(buf.substring(after));
      return;
    }
    const partial = partialTagStart(buf, OPEN_TAG);
    this.releaseText(partial < 0 ? buf.length : partial);
  }

  /** Emits `buf[0, end)` as text unless it is leading whitespace, keeping the rest buffered. */
  private releaseText(end: number): void {
    if (end === 0) return;
    const text = this.buf.substring(0, end);
    if (!this.textSeen && isWhitespaceOnly(text)) return;
    this.buf = this.buf.substring(end);
    this.emitText(text);
  }

  private scanThinking(): void {
    const buf = this.buf;
    let from = 0;
    for (;;) {
      const i = buf.indexOf(CLOSE_TAG, from);
      if (i < 0) break;
      from = i + 1;
      if (isQuote(i > 0 ? buf.charCodeAt(i - 1) : this.prevCode)) continue;
      const after = i + CLOSE_TAG.length;
      if (after < buf.length && buf.charCodeAt(after) !== NEWLINE) continue;
      if (after + 1 < buf.length && buf.charCodeAt(after + 1) !== NEWLINE) continue;
      if (after + 2 > buf.length) {
        // `</thinking>` or `</thinking>\n` at the end: the next chunk decides.
        this.releaseThinking(i);
        return;
      }
      if (i > 0) this.sink.thinking(buf.substring(0, i));
      this.sink.thinkingEnd();
      this.buf = '';
      this.phase = Phase.After;
      const rest = buf.substring(after + 2);
      if (rest.length > 0) this.sink.text(rest);
      return;
    }
    const partial = partialTagStart(buf, CLOSE_SEQUENCE);
    this.releaseThinking(partial < 0 ? buf.length : partial);
  }

  private releaseThinking(end: number): void {
    if (end === 0) return;
    const buf = this.buf;
    this.prevCode = buf.charCodeAt(end - 1);
    this.buf = buf.substring(end);
    this.sink.thinking(end === buf.length ? buf : buf.substring(0, end));
  }
}
