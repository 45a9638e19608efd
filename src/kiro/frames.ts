/**
 * Incremental AWS event-stream decoder (docs/kiro-protocol.md §5): TCP chunks in, frames out.
 *
 * Frames that lie wholly inside a chunk are decoded in place (payloads and binary headers are views
 * into the chunk); only the partial frame at a chunk's end is copied, into a buffer sized for that
 * frame, so a stream costs one copy per chunk boundary rather than one per chunk.
 */
import type { Frame, FrameHeaderValue } from './types.js';
import { crc32 } from './crc32.js';

const UINT32_BYTES = 4;
/** Each of the two prelude members (total length, headers length) is a big-endian u32. */
export const PRELUDE_MEMBER_LENGTH = UINT32_BYTES;
/** The prelude: total length + headers length. */
export const PRELUDE_LENGTH = PRELUDE_MEMBER_LENGTH * 2;
/** Both checksums (prelude CRC, message CRC) are u32. */
export const CHECKSUM_LENGTH = UINT32_BYTES;
/** Where the headers start: after the prelude and its CRC. */
export const HEADERS_OFFSET = PRELUDE_LENGTH + CHECKSUM_LENGTH;
/** A frame with no headers and no payload. */
export const MINIMUM_MESSAGE_LENGTH = HEADERS_OFFSET + CHECKSUM_LENGTH;
/** Largest frame accepted by default (kiro.rs uses the same cap). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Errors in a row (with no good frame between) after which the stream is given up. */
export const MAX_CONSECUTIVE_ERRORS = 5;

/**
 * A resync gives up after scanning this many max-size frames' worth of bytes: a corrupted frame is at
 * most maxFrameBytes long, so the next valid prelude must be close; beyond that the body is garbage.
 */
const RESYNC_BUDGET_FRAMES = 2;

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

/** Why decoding failed; `truncated` and `too_many_errors` are fatal, the rest are recovered from. */
export type FrameErrorCode = 'prelude_crc' | 'message_crc' | 'length' | 'headers' | 'truncated' | 'too_many_errors';

/** A framing problem. Recoverable ones go to `onError`; fatal ones are thrown. */
export class FrameError extends Error {
  readonly code: FrameErrorCode;

  constructor(code: FrameErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FrameError';
    this.code = code;
  }
}

/** Options of {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Frames whose total length exceeds this are treated as corrupt. Default 16 MiB. */
  maxFrameBytes?: number;
  /** Called for every recoverable error (metrics count CRC errors here); decoding then continues. */
  onError?: (err: FrameError) => void;
  /** Called with the wire size of every frame decoded. */
  onFrame?: (bytes: number) => void;
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/**
 * Turns a byte stream into frames, whatever the chunk boundaries.
 *
 * Recovery follows §5.2: a bad prelude CRC or an impossible length skips one byte and scans forward
 * for the next valid prelude (the whole scan counts as one error, so one corrupt frame does not eat
 * the error budget byte by byte); a bad message CRC or bad headers behind a valid prelude skip that
 * frame. After {@link MAX_CONSECUTIVE_ERRORS} errors in a row (or a resync scan longer than twice `maxFrameBytes`)
 * the decoder fails with `too_many_errors`: frames already decoded from the current chunk are still
 * returned, and the error is thrown by that call if it has none, else by the next `push`/`finish`.
 *
 * Frames with the same header bytes share one frozen `headers` object; treat headers as read-only.
 *
 * @example
 * const decoder = new FrameDecoder({ onError: (e) => metrics.crcErrors.inc({ code: e.code }) });
 * for await (const chunk of body) for (const frame of decoder.push(chunk)) handle(frame);
 * decoder.finish(); // throws FrameError 'truncated' if the body ended inside a frame
 */
export class FrameDecoder {
  private readonly maxFrameBytes: number;
  private readonly onError: ((err: FrameError) => void) | undefined;
  private readonly onFrame: ((bytes: number) => void) | undefined;
  /** Own copy of an incomplete frame's first bytes, sized for the whole frame once its length is known. */
  private pending: Uint8Array | undefined;
  private pendingLength = 0;
  private consecutiveErrors = 0;
  /** True while scanning forward after a bad prelude. */
  private resyncing = false;
  private resyncSkipped = 0;
  private failure: FrameError | undefined;

  constructor(opts: FrameDecoderOptions = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!(this.maxFrameBytes >= MINIMUM_MESSAGE_LENGTH)) {
      throw new RangeError(`maxFrameBytes must be at least ${MINIMUM_MESSAGE_LENGTH}`);
    }
    this.onError = opts.onError;
    this.onFrame = opts.onFrame;
  }

  /** Bytes held back, waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.pendingLength;
  }

  /** Decodes every frame completed by `chunk`. Payloads are views; copy them to keep them past the chunk. */
  push(chunk: Uint8Array): Frame[] {
    if (this.failure) throw this.failure;
    const frames: Frame[] = [];
    if (this.pendingLength === 0) this.scan(chunk, 0, frames);
    else this.completePending(chunk, frames);
    if (this.failure && frames.length === 0) throw this.failure;
    return frames;
  }

  /** Declares the end of the stream: throws `truncated` if it ended inside a frame. */
  finish(): void {
    if (this.failure) throw this.failure;
    if (this.pendingLength > 0) {
      const need =
        this.pendingLength >= HEADERS_OFFSET && this.pending
          ? `of a ${readUint32(this.pending, 0)}-byte frame`
          : 'of a frame prelude';
      throw new FrameError('truncated', `Truncated event message: stream ended with ${this.pendingLength} bytes ${need}`);
    }
  }

  /** Tops up the carried-over partial frame from `chunk`, decodes it when whole, then the rest of the chunk. */
  private completePending(chunk: Uint8Array, frames: Frame[]): void {
    let pending = this.pending as Uint8Array;
    let offset = 0;
    if (this.pendingLength < HEADERS_OFFSET) {
      offset = Math.min(HEADERS_OFFSET - this.pendingLength, chunk.length);
      pending.set(chunk.subarray(0, offset), this.pendingLength);
      this.pendingLength += offset;
      if (this.pendingLength < HEADERS_OFFSET) return;
      const total = this.saneTotalLength(pending);
      if (total < 0) {
        // Bad prelude: let scan() report it and resync over the joined bytes (rare path, so copy).
        const joined = Buffer.allocUnsafe(this.pendingLength + chunk.length - offset);
        joined.set(pending.subarray(0, this.pendingLength));
        joined.set(chunk.subarray(offset), this.pendingLength);
        this.clearPending();
        this.scan(joined, 0, frames);
        return;
      }
      if (pending.length < total) {
        const grown = Buffer.allocUnsafe(total);
        grown.set(pending.subarray(0, this.pendingLength));
        this.pending = pending = grown;
      }
    }
    const total = readUint32(pending, 0);
    const take = Math.min(total - this.pendingLength, chunk.length - offset);
    pending.set(chunk.subarray(offset, offset + take), this.pendingLength);
    this.pendingLength += take;
    offset += take;
    if (this.pendingLength < total) return;
    this.clearPending();
    this.scan(pending.subarray(0, total), 0, frames);
    if (offset < chunk.length && !this.failure) this.scan(chunk, offset, frames);
  }

  /** The frame length a prelude announces, or -1 when its CRC or length is bad. */
  private saneTotalLength(bytes: Uint8Array): number {
    const total = readUint32(bytes, 0);
    if (total < MINIMUM_MESSAGE_LENGTH || total > this.maxFrameBytes) return -1;
    return crc32(bytes, 0, PRELUDE_LENGTH) === readUint32(bytes, PRELUDE_LENGTH) ? total : -1;
  }

  private clearPending(): void {
    this.pending = undefined;
    this.pendingLength = 0;
  }

  /** Decodes frames from `bytes[start..]`, keeping an incomplete tail in `pending`. */
  private scan(bytes: Uint8Array, start: number, frames: Frame[]): void {
    const end = bytes.length;
    let p = start;
    while (end - p >= HEADERS_OFFSET) {
      const total = readUint32(bytes, p);
      const preludeCrc = crc32(bytes, p, p + PRELUDE_LENGTH);
      const expectedPreludeCrc = readUint32(bytes, p + PRELUDE_LENGTH);
      if (preludeCrc !== expectedPreludeCrc || total < MINIMUM_MESSAGE_LENGTH || total > this.maxFrameBytes) {
        if (!this.resyncing) {
          this.resyncing = true;
          this.resyncSkipped = 0;
          this.report(
            preludeCrc !== expectedPreludeCrc
              ? new FrameError(
                  'prelude_crc',
                  `prelude checksum mismatch: expected ${hex(expectedPreludeCrc)}, computed ${hex(preludeCrc)}`,
                )
              : new FrameError(
                  'length',
                  `frame length ${total} outside ${MINIMUM_MESSAGE_LENGTH}..${this.maxFrameBytes}`,
                ),
          );
          if (this.failure) return;
        }
        p++;
        if (++this.resyncSkipped > this.maxFrameBytes * RESYNC_BUDGET_FRAMES) {
          this.fail(`no valid frame prelude found in ${this.resyncSkipped} bytes`);
          return;
        }
        continue;
      }
      this.resyncing = false;
      if (end - p < total) break;

      const frameEnd = p + total;
      const crcOffset = frameEnd - CHECKSUM_LENGTH;
      const messageCrc = crc32(bytes, p + PRELUDE_LENGTH, crcOffset, preludeCrc);
      const expectedMessageCrc = readUint32(bytes, crcOffset);
      if (messageCrc !== expectedMessageCrc) {
        this.report(
          new FrameError(
            'message_crc',
            `message checksum mismatch: expected ${hex(expectedMessageCrc)}, computed ${hex(messageCrc)}`,
          ),
        );
        if (this.failure) return;
        p = frameEnd;
        continue;
      }
      const headersLength = readUint32(bytes, p + PRELUDE_MEMBER_LENGTH);
      const headersStart = p + HEADERS_OFFSET;
      const headers =
        headersLength > total - MINIMUM_MESSAGE_LENGTH
          ? `headers length ${headersLength} exceeds the ${total}-byte frame`
          : headersOf(bytes, headersStart, headersStart + headersLength);
      if (typeof headers === 'string') {
        this.report(new FrameError('headers', `header parse error: ${headers}`));
        if (this.failure) return;
        p = frameEnd;
        continue;
      }
      frames.push({ headers, payload: bytes.subarray(headersStart + headersLength, crcOffset) });
      this.consecutiveErrors = 0;
      this.onFrame?.(total);
      p = frameEnd;
    }
    if (p < end) this.keepTail(bytes, p, end);
  }

  private keepTail(bytes: Uint8Array, p: number, end: number): void {
    const rest = end - p;
    // With a whole prelude here, scan() has validated it, so its length is trustworthy.
    const capacity = rest >= HEADERS_OFFSET && !this.resyncing ? readUint32(bytes, p) : HEADERS_OFFSET;
    // allocUnsafe: small tails come from node's pooled slab, with no zero-fill (this runs per chunk).
    const tail = Buffer.allocUnsafe(Math.max(capacity, rest));
    tail.set(bytes.subarray(p, end));
    this.pending = tail;
    this.pendingLength = rest;
  }

  private report(err: FrameError): void {
    this.onError?.(err);
    if (++this.consecutiveErrors >= MAX_CONSECUTIVE_ERRORS) {
      this.fail(`${this.consecutiveErrors} consecutive frame errors, last: ${err.message}`, err);
    }
  }

  private fail(message: string, cause?: FrameError): void {
    this.failure = new FrameError('too_many_errors', message, { cause });
    this.clearPending();
  }
}

// Plain byte reads instead of a DataView: constructing one costs ~90 ns, as much as decoding a
// small frame, and chunks often hold a single frame.
function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

function readInt64(bytes: Uint8Array, at: number): bigint {
  return BigInt.asIntN(64, (BigInt(readUint32(bytes, at)) << 32n) | BigInt(readUint32(bytes, at + 4)));
}

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

function headersOf(bytes: Uint8Array, start: number, end: number): Record<string, FrameHeaderValue> | string {
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

const utf8Decoder = new TextDecoder();

/** UTF-8 text of `bytes[start..end)`; Buffer's decoder is measurably faster for small strings. */
export function decodeUtf8(bytes: Uint8Array, start = 0, end = bytes.length): string {
  return Buffer.isBuffer(bytes) ? bytes.toString('utf8', start, end) : utf8Decoder.decode(bytes.subarray(start, end));
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
