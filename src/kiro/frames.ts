/**
 * Incremental AWS event-stream decoder (docs/kiro-protocol.md §5): TCP chunks in, frames out.
 *
 * Frames that lie wholly inside a chunk are decoded in place (payloads and binary headers are views
 * into the chunk); only the partial frame at a chunk's end is copied, into a buffer sized for that
 * frame, so a stream costs one copy per chunk boundary rather than one per chunk. This file does the
 * framing, both CRC checks and error recovery; header blocks are parsed in headers.ts (whose wire
 * constants, and `decodeUtf8`, are re-exported here).
 */
import type { Frame, FrameHeaderValue } from './types.js';
import { crc32 } from './crc32.js';
import { readUint32 } from './bytes.js';
import { headersOf } from './headers.js';

export { decodeUtf8 } from './bytes.js';
export {
  HEADER_TYPE,
  HEADER_VALUE_LENGTH_BYTES,
  MAX_HEADER_NAME_BYTES,
  MAX_HEADER_VALUE_BYTES,
  UUID_BYTES,
} from './headers.js';

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

/**
 * Why decoding failed; `truncated` and `too_many_errors` are always fatal, the rest are recovered
 * from unless the decoder is `strict`.
 */
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
  /**
   * Every framing error is fatal (thrown with its own code) instead of skipped: a skipped frame is
   * lost content, so a consumer that must never pass on a silently shortened answer sets this.
   * Default false (the reference's recovery, §5.2).
   */
  strict?: boolean;
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/**
 * Receives one decoded frame: its headers (shared and frozen, as in {@link Frame}) and where its
 * payload lies in `bytes`. The bytes are the decoder's or the chunk's: read them during the call.
 */
export type FrameVisitor = (headers: Record<string, FrameHeaderValue>, bytes: Uint8Array, payloadStart: number, payloadEnd: number) => void;

/**
 * Turns a byte stream into frames, whatever the chunk boundaries.
 *
 * With `strict`, the first framing error ends decoding: frames decoded before it are returned, and
 * the error itself is thrown (by that `push` if it decoded nothing, else by the next call).
 *
 * Otherwise recovery follows §5.2: a bad prelude CRC or an impossible length skips one byte and scans forward
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
  private readonly strict: boolean;
  /** Own copy of an incomplete frame's first bytes, sized for the whole frame once its length is known. */
  private pending: Uint8Array | undefined;
  private pendingLength = 0;
  private consecutiveErrors = 0;
  /** True while scanning forward after a bad prelude. */
  private resyncing = false;
  private resyncSkipped = 0;
  private failure: FrameError | undefined;
  /** Frames visited by the `pushEach` call in progress. */
  private visited = 0;

  constructor(opts: FrameDecoderOptions = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!(this.maxFrameBytes >= MINIMUM_MESSAGE_LENGTH)) {
      throw new RangeError(`maxFrameBytes must be at least ${MINIMUM_MESSAGE_LENGTH}`);
    }
    this.onError = opts.onError;
    this.onFrame = opts.onFrame;
    this.strict = opts.strict ?? false;
  }

  /** Bytes held back, waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.pendingLength;
  }

  /** Decodes every frame completed by `chunk`. Payloads are views; copy them to keep them past the chunk. */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    this.pushEach(chunk, (headers, bytes, start, end) => frames.push({ headers, payload: bytes.subarray(start, end) }));
    return frames;
  }

  /**
   * {@link push} without a Frame or a payload view per frame: `visit` gets each frame completed by
   * `chunk`, in order; returns how many. Errors are thrown as by `push` (after the frames before
   * them were visited, by the next call).
   */
  pushEach(chunk: Uint8Array, visit: FrameVisitor): number {
    if (this.failure) throw this.failure;
    this.visited = 0;
    if (this.pendingLength === 0) this.scan(chunk, 0, visit);
    else this.completePending(chunk, visit);
    if (this.failure && this.visited === 0) throw this.failure;
    return this.visited;
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
  private completePending(chunk: Uint8Array, visit: FrameVisitor): void {
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
        this.scan(joined, 0, visit);
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
    this.scan(pending.subarray(0, total), 0, visit);
    if (offset < chunk.length && !this.failure) this.scan(chunk, offset, visit);
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
  private scan(bytes: Uint8Array, start: number, visit: FrameVisitor): void {
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
      this.consecutiveErrors = 0;
      this.onFrame?.(total);
      this.visited++;
      p = frameEnd;
      visit(headers, bytes, headersStart + headersLength, crcOffset);
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
    if (this.strict) {
      this.failure = err;
      this.clearPending();
    } else if (++this.consecutiveErrors >= MAX_CONSECUTIVE_ERRORS) {
      this.fail(`${this.consecutiveErrors} consecutive frame errors, last: ${err.message}`, err);
    }
  }

  private fail(message: string, cause?: FrameError): void {
    this.failure = new FrameError('too_many_errors', message, { cause });
    this.clearPending();
  }
}
