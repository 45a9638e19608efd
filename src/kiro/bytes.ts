/**
 * Byte-level reads shared by the event-stream framing (frames.ts) and header parsing (headers.ts).
 */

// Plain byte reads instead of a DataView: constructing one costs ~90 ns, as much as decoding a
// small frame, and chunks often hold a single frame.

/** Big-endian u32 at `bytes[at..at+4)`. */
export function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

/** Big-endian signed i64 at `bytes[at..at+8)`. */
export function readInt64(bytes: Uint8Array, at: number): bigint {
  return BigInt.asIntN(64, (BigInt(readUint32(bytes, at)) << 32n) | BigInt(readUint32(bytes, at + 4)));
}

const utf8Decoder = new TextDecoder();

/** UTF-8 text of `bytes[start..end)`; Buffer's decoder is measurably faster for small strings. */
export function decodeUtf8(bytes: Uint8Array, start = 0, end = bytes.length): string {
  return Buffer.isBuffer(bytes) ? bytes.toString('utf8', start, end) : utf8Decoder.decode(bytes.subarray(start, end));
}
