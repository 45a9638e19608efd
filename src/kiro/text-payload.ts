/**
 * The text of an assistantResponseEvent read without `JSON.parse`, for the payload Kiro sends with
 * nearly every text chunk: exactly `{"content":"…"}` whose string holds no escape. The bytes are
 * checked (the prefix, the `"}` end, no `"` `\` or control character in between), then only the
 * string's bytes are decoded: no parse, no object. About 0.2 µs less per text event (a quarter of
 * decoding one; bench/README.md).
 *
 * Anything else — other or more fields, whitespace, an escape, a control character — returns
 * undefined, and the caller parses the payload as JSON. Where this returns a string it is the
 * `content` that `JSON.parse` gives (tests compare the two over escapes, unicode and invalid UTF-8).
 */
import { decodeUtf8 } from './bytes.js';

const PREFIX = Buffer.from('{"content":"', 'latin1');
const PREFIX_LENGTH = PREFIX.length;
/** The closing `"}`. */
const SUFFIX_LENGTH = 2;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CLOSE_BRACE = 0x7d;
/** Below this, a byte is a control character JSON strings may not hold raw. */
const FIRST_PRINTABLE = 0x20;

/**
 * The `content` of a `{"content":"…"}` payload without escapes (`bytes[start..end)`, the whole of
 * `bytes` by default), else undefined: parse it as JSON.
 */
export function plainTextContent(bytes: Uint8Array, start = 0, end = bytes.length): string | undefined {
  const textStart = start + PREFIX_LENGTH;
  const textEnd = end - SUFFIX_LENGTH;
  if (textEnd < textStart || bytes[end - 1] !== CLOSE_BRACE || bytes[textEnd] !== QUOTE) return undefined;
  for (let i = 0; i < PREFIX_LENGTH; i++) if (bytes[start + i] !== PREFIX[i]) return undefined;
  for (let i = textStart; i < textEnd; i++) {
    const byte = bytes[i];
    if (byte === QUOTE || byte === BACKSLASH || byte < FIRST_PRINTABLE) return undefined;
  }
  return decodeUtf8(bytes, textStart, textEnd);
}
