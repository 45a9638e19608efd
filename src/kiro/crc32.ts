/**
 * CRC-32/ISO-HDLC (the zlib/PNG CRC; reflected polynomial 0xEDB88320), as used by both checksums of
 * the AWS event-stream format (docs/kiro-protocol.md §5, §13).
 *
 * Why not just one implementation: event-stream frames are mostly small (8-byte preludes, ~150-byte
 * Kiro events). For those a slicing-by-8 table loop in JS beats node's native `zlib.crc32`, whose
 * per-call overhead dominates; above ~256 bytes the native one wins (~3x at 1 KiB). `@aws-crypto/crc32`
 * is ~10x slower than either, so it is only the tests' oracle.
 */
import zlib from 'node:zlib';

const POLYNOMIAL = 0xedb88320;
const BYTE_VALUES = 256;
const SLICES = 8;
/** Below this many bytes the JS loop is faster than the native call (measured on Node 20). */
const NATIVE_THRESHOLD_BYTES = 256;

/** TABLE[s * 256 + b]: CRC contribution of byte b followed by s zero bytes (slicing-by-8). */
const TABLE = buildTable();

function buildTable(): Int32Array {
  const table = new Int32Array(BYTE_VALUES * SLICES);
  for (let n = 0; n < BYTE_VALUES; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? POLYNOMIAL ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  for (let n = 0; n < BYTE_VALUES; n++) {
    let c = table[n];
    for (let s = 1; s < SLICES; s++) {
      c = table[c & 0xff] ^ (c >>> 8);
      table[s * BYTE_VALUES + n] = c;
    }
  }
  return table;
}

const nativeCrc32: ((data: Uint8Array, value?: number) => number) | undefined =
  typeof zlib.crc32 === 'function' ? zlib.crc32 : undefined;

/** Table-driven CRC-32 in JS; exported so tests can compare it with the native path. */
export function crc32Js(data: Uint8Array, start = 0, end = data.length, previous = 0): number {
  const t = TABLE;
  let c = ~previous;
  let i = start;
  for (const last8 = end - 8; i <= last8; i += 8) {
    const a = c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    c =
      t[1792 + (a & 0xff)] ^
      t[1536 + ((a >>> 8) & 0xff)] ^
      t[1280 + ((a >>> 16) & 0xff)] ^
      t[1024 + (a >>> 24)] ^
      t[768 + data[i + 4]] ^
      t[512 + data[i + 5]] ^
      t[256 + data[i + 6]] ^
      t[data[i + 7]];
  }
  for (; i < end; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * CRC-32 of `data[start..end)`, continuing from `previous` (the CRC of the bytes before, 0 for none),
 * as an unsigned 32-bit number. `crc32(utf8('123456789')) === 0xcbf43926`.
 */
export function crc32(data: Uint8Array, start = 0, end = data.length, previous = 0): number {
  if (nativeCrc32 !== undefined && end - start >= NATIVE_THRESHOLD_BYTES) {
    return nativeCrc32(start === 0 && end === data.length ? data : data.subarray(start, end), previous);
  }
  return crc32Js(data, start, end, previous);
}
