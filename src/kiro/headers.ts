/**
 * Event-stream header block parsing (docs/kiro-protocol.md §5): the typed header values after the
 * prelude, as smithy's HeaderMarshaller. Recently seen header blocks and header strings are cached,
 * since Kiro repeats the same headers in every frame.
 */
import type { FrameHeaderValue } from './types.js';
import { decodeUtf8, readInt64, readUint32 } from './bytes.js';

/** Header value type tags (the byte after the header name). */
export const HEADER_TYPE = {
  boolTrue: 0,
  boolFalse: 1,
  byte: 2,
  short: 3,
  integer: 4,
  long: 5,
  binary: 6,
  string: 7,
  timestamp: 8,
  uuid: 9,
} as const;
/** Length prefix of binary and string header values (u16). */
export const HEADER_VALUE_LENGTH_BYTES = 2;
/** Size of a uuid header value. */
export const UUID_BYTES = 16;
/** Largest header name (its length is one byte). */
export const MAX_HEADER_NAME_BYTES = 0xff;
/** Largest binary/string header value (i16 max, as the AWS SDKs enforce). */
export const MAX_HEADER_VALUE_BYTES = 0x7fff;

// Every Kiro frame of one event type carries the very same header block, so the parsed headers of
// recently seen blocks are kept per block length and reused after a byte compare: cheaper than
// parsing, and nothing is allocated. Reused header objects are frozen because frames share them.
const BLOCK_CACHE_SLOTS = 64;
const BLOCK_CACHE_MAX_BYTES = 512;
const cachedBlocks: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(BLOCK_CACHE_SLOTS);
const cachedHeaders: Array<Record<string, FrameHeaderValue>> = new Array<Record<string, FrameHeaderValue>>(
  BLOCK_CACHE_SLOTS,
);

/** Whether `bytes[start..]` begins with `expected`; unrolled, as this runs once per frame. */
function sameBytes(expected: Uint8Array, bytes: Uint8Array, start: number): boolean {
  const length = expected.length;
  let i = 0;
  for (const last4 = length - 4; i <= last4; i += 4) {
    const p = start + i;
    if (
      expected[i] !== bytes[p] ||
      expected[i + 1] !== bytes[p + 1] ||
      expected[i + 2] !== bytes[p + 2] ||
      expected[i + 3] !== bytes[p + 3]
    ) {
      return false;
    }
  }
  for (; i < length; i++) if (expected[i] !== bytes[start + i]) return false;
  return true;
}

/**
 * The headers of the block `bytes[start..end)`, or a reason string if it is malformed. Blocks without
 * binary or uuid values are cached and shared between frames, frozen: treat the result as read-only.
 */
export function headersOf(bytes: Uint8Array, start: number, end: number): Record<string, FrameHeaderValue> | string {
  const length = end - start;
  if (length === 0 || length > BLOCK_CACHE_MAX_BYTES) return parseHeaders(bytes, start, end);
  const slot = length & (BLOCK_CACHE_SLOTS - 1);
  const cached = cachedBlocks[slot];
  if (cached !== undefined && cached.length === length && sameBytes(cached, bytes, start)) return cachedHeaders[slot];
  const headers = parseHeaders(bytes, start, end);
  if (typeof headers === 'string') return headers;
  // Binary and uuid values are views into the chunk; caching them would pin it and alias it.
  for (const name in headers) {
    const type = headers[name].type;
    if (type === 'binary' || type === 'uuid') return headers;
  }
  for (const name in headers) Object.freeze(headers[name]);
  cachedBlocks[slot] = new Uint8Array(bytes.subarray(start, end));
  cachedHeaders[slot] = Object.freeze(headers);
  return headers;
}

/** Parses `bytes[start..end)` as headers; returns a reason string instead of throwing on bad input. */
function parseHeaders(bytes: Uint8Array, start: number, end: number): Record<string, FrameHeaderValue> | string {
  const headers: Record<string, FrameHeaderValue> = {};
  let p = start;
  while (p < end) {
    const nameLength = bytes[p++];
    if (nameLength === 0) return 'empty header name';
    if (p + nameLength >= end) return 'header name overruns the headers';
    const name = decodeShortString(bytes, p, nameLength);
    p += nameLength;
    const type = bytes[p++];
    let value: FrameHeaderValue;
    let size: number;
    switch (type) {
      case HEADER_TYPE.boolTrue:
      case HEADER_TYPE.boolFalse:
        size = 0;
        value = { type: 'boolean', value: type === HEADER_TYPE.boolTrue };
        break;
      case HEADER_TYPE.byte:
        size = 1;
        if (p + size > end) return `header ${name} overruns the headers`;
        value = { type: 'byte', value: (bytes[p] << 24) >> 24 };
        break;
      case HEADER_TYPE.short:
        size = 2;
        if (p + size > end) return `header ${name} overruns the headers`;
        value = { type: 'short', value: (((bytes[p] << 8) | bytes[p + 1]) << 16) >> 16 };
        break;
      case HEADER_TYPE.integer:
        size = 4;
        if (p + size > end) return `header ${name} overruns the headers`;
        value = { type: 'integer', value: readUint32(bytes, p) | 0 };
        break;
      case HEADER_TYPE.long:
      case HEADER_TYPE.timestamp:
        size = 8;
        if (p + size > end) return `header ${name} overruns the headers`;
        value = { type: type === HEADER_TYPE.long ? 'long' : 'timestamp', value: readInt64(bytes, p) };
        break;
      case HEADER_TYPE.uuid:
        size = UUID_BYTES;
        if (p + size > end) return `header ${name} overruns the headers`;
        value = { type: 'uuid', value: bytes.subarray(p, p + size) };
        break;
      case HEADER_TYPE.binary:
      case HEADER_TYPE.string: {
        if (p + HEADER_VALUE_LENGTH_BYTES > end) return `header ${name} overruns the headers`;
        const length = (bytes[p] << 8) | bytes[p + 1];
        p += HEADER_VALUE_LENGTH_BYTES;
        size = length;
        if (p + size > end) return `header ${name} overruns the headers`;
        value =
          type === HEADER_TYPE.string
            ? { type: 'string', value: decodeShortString(bytes, p, length) }
            : { type: 'binary', value: bytes.subarray(p, p + length) };
        break;
      }
      default:
        return `unknown header value type ${type} for ${name}`;
    }
    p += size;
    headers[name] = value;
  }
  return headers;
}

// Kiro repeats the same dozen header names and values in every frame, so decoded strings are kept in
// a small direct-mapped cache and reused when the bytes match: a byte compare is ~4x cheaper than a
// UTF-8 decode, and it saves an allocation per header.
const INTERN_SLOTS = 256;
const INTERN_MAX_BYTES = 64;
const internedBytes: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(INTERN_SLOTS);
const internedStrings: string[] = new Array<string>(INTERN_SLOTS).fill('');

function decodeShortString(bytes: Uint8Array, start: number, length: number): string {
  if (length === 0) return '';
  if (length > INTERN_MAX_BYTES) return decodeUtf8(bytes, start, start + length);
  const slot =
    (length * 31 + bytes[start] * 7 + bytes[start + length - 1] * 3 + bytes[start + (length >> 1)]) &
    (INTERN_SLOTS - 1);
  const cached = internedBytes[slot];
  if (cached !== undefined && cached.length === length) {
    let i = 0;
    while (i < length && cached[i] === bytes[start + i]) i++;
    if (i === length) return internedStrings[slot];
  }
  const value = decodeUtf8(bytes, start, start + length);
  internedBytes[slot] = new Uint8Array(bytes.subarray(start, start + length));
  internedStrings[slot] = value;
  return value;
}
