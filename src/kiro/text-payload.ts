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

/** The `content` of a `{"content":"…"}` payload without escapes, else undefined (parse it as JSON). */
export function plainTextContent(payload: Uint8Array): string | undefined {
  const length = payload.length;
  const end = length - SUFFIX_LENGTH;
  if (end < PREFIX_LENGTH || payload[length - 1] !== CLOSE_BRACE || payload[end] !== QUOTE) return undefined;
  for (let i = 0; i < PREFIX_LENGTH; i++) if (payload[i] !== PREFIX[i]) return undefined;
  for (let i = PREFIX_LENGTH; i < end; i++) {
    const byte = payload[i];
    if (byte === QUOTE || byte === BACKSLASH || byte < FIRST_PRINTABLE) return undefined;
  }
  return decodeUtf8(payload, PREFIX_LENGTH, end);
}
