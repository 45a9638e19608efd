/**
 * AWS event-stream encoder (docs/kiro-protocol.md §5), used by the Kiro simulator and the tests.
 * Header order is the object's key order; the Kiro helpers reproduce the §13.1/§13.2 vectors exactly.
 */
import type { FrameHeaderValue } from './types.js';
import { crc32 } from './crc32.js';
import {
  CHECKSUM_LENGTH,
  HEADER_TYPE,
  HEADER_VALUE_LENGTH_BYTES,
  HEADERS_OFFSET,
  MAX_HEADER_NAME_BYTES,
  MAX_HEADER_VALUE_BYTES,
  MINIMUM_MESSAGE_LENGTH,
  PRELUDE_LENGTH,
  PRELUDE_MEMBER_LENGTH,
  UUID_BYTES,
} from './frames.js';

const NAME_LENGTH_BYTES = 1;
const TYPE_BYTES = 1;
const INTEGER_BYTES = { byte: 1, short: 2, integer: 4 } as const;
const utf8 = new TextEncoder();

/** Shorthand for a string header value. */
export function stringHeader(value: string): FrameHeaderValue {
  return { type: 'string', value };
}

/** Serialises headers in key order into the wire's header block. */
export function encodeHeaders(headers: Record<string, FrameHeaderValue>): Uint8Array {
  const parts: Array<{ name: Uint8Array; header: FrameHeaderValue; value: Uint8Array | undefined }> = [];
  let size = 0;
  for (const [nameText, header] of Object.entries(headers)) {
    const name = utf8.encode(nameText);
    if (name.length === 0 || name.length > MAX_HEADER_NAME_BYTES) {
      throw new RangeError(`header name must be 1..${MAX_HEADER_NAME_BYTES} bytes: ${JSON.stringify(nameText)}`);
    }
    let value: Uint8Array | undefined;
    let valueSize: number;
    switch (header.type) {
      case 'boolean':
        valueSize = 0;
        break;
      case 'byte':
      case 'short':
      case 'integer':
        valueSize = INTEGER_BYTES[header.type];
        const limit = 2 ** (valueSize * 8 - 1);
        if (!Number.isInteger(header.value) || header.value < -limit || header.value >= limit) {
          throw new RangeError(`${header.type} header ${nameText} out of range: ${header.value}`);
        }
        break;
      case 'long':
      case 'timestamp':
        valueSize = 8;
        break;
      case 'uuid':
        if (header.value.length !== UUID_BYTES) throw new RangeError(`uuid header ${nameText} must be ${UUID_BYTES} bytes`);
        valueSize = UUID_BYTES;
        break;
      case 'binary':
      case 'string':
        value = header.type === 'string' ? utf8.encode(header.value) : header.value;
        if (value.length > MAX_HEADER_VALUE_BYTES) {
          throw new RangeError(`header ${nameText} value exceeds ${MAX_HEADER_VALUE_BYTES} bytes`);
        }
        valueSize = HEADER_VALUE_LENGTH_BYTES + value.length;
        break;
    }
    parts.push({ name, header, value });
    size += NAME_LENGTH_BYTES + name.length + TYPE_BYTES + valueSize;
  }

  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let p = 0;
  for (const { name, header, value } of parts) {
    out[p++] = name.length;
    out.set(name, p);
    p += name.length;
    switch (header.type) {
      case 'boolean':
        out[p++] = header.value ? HEADER_TYPE.boolTrue : HEADER_TYPE.boolFalse;
        break;
      case 'byte':
        out[p++] = HEADER_TYPE.byte;
        view.setInt8(p, header.value);
        p += 1;
        break;
      case 'short':
        out[p++] = HEADER_TYPE.short;
        view.setInt16(p, header.value);
        p += 2;
        break;
      case 'integer':
        out[p++] = HEADER_TYPE.integer;
        view.setInt32(p, header.value);
        p += 4;
        break;
      case 'long':
      case 'timestamp':
        out[p++] = header.type === 'long' ? HEADER_TYPE.long : HEADER_TYPE.timestamp;
        view.setBigInt64(p, header.value);
        p += 8;
        break;
      case 'uuid':
        out[p++] = HEADER_TYPE.uuid;
        out.set(header.value, p);
        p += UUID_BYTES;
        break;
      case 'binary':
      case 'string': {
        const bytes = value as Uint8Array;
        out[p++] = header.type === 'string' ? HEADER_TYPE.string : HEADER_TYPE.binary;
        view.setUint16(p, bytes.length);
        p += HEADER_VALUE_LENGTH_BYTES;
        out.set(bytes, p);
        p += bytes.length;
        break;
      }
    }
  }
  return out;
}

/** Builds one frame from an already encoded header block. */
function frameFromHeaderBlock(headerBlock: Uint8Array, payload: Uint8Array): Uint8Array {
  const total = MINIMUM_MESSAGE_LENGTH + headerBlock.length + payload.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, total);
  view.setUint32(PRELUDE_MEMBER_LENGTH, headerBlock.length);
  const preludeCrc = crc32(out, 0, PRELUDE_LENGTH);
  view.setUint32(PRELUDE_LENGTH, preludeCrc);
  out.set(headerBlock, HEADERS_OFFSET);
  out.set(payload, HEADERS_OFFSET + headerBlock.length);
  const crcOffset = total - CHECKSUM_LENGTH;
  view.setUint32(crcOffset, crc32(out, PRELUDE_LENGTH, crcOffset, preludeCrc));
  return out;
}

/** Encodes one event-stream message; headers are written in the object's key order. */
export function encodeFrame(headers: Record<string, FrameHeaderValue>, payload: Uint8Array): Uint8Array {
  return frameFromHeaderBlock(encodeHeaders(headers), payload);
}

const JSON_CONTENT_TYPE = stringHeader('application/json');

// The simulator encodes the same few event types over and over; their header blocks never change.
const EVENT_HEADER_CACHE_LIMIT = 64;
const eventHeaderBlocks = new Map<string, Uint8Array>();

function eventHeaderBlock(eventType: string): Uint8Array {
  let block = eventHeaderBlocks.get(eventType);
  if (block === undefined) {
    block = encodeHeaders({
      ':event-type': stringHeader(eventType),
      ':content-type': JSON_CONTENT_TYPE,
      ':message-type': stringHeader('event'),
    });
    if (eventHeaderBlocks.size < EVENT_HEADER_CACHE_LIMIT) eventHeaderBlocks.set(eventType, block);
  }
  return block;
}

/**
 * A Kiro event frame: headers `:event-type`, `:content-type: application/json`, `:message-type: event`
 * (this order, as Kiro sends them) and the JSON of `payload`.
 *
 * @example
 * encodeEventFrame('assistantResponseEvent', { content: 'Hi' }); // the 124-byte §13.1 vector
 */
export function encodeEventFrame(eventType: string, payload: unknown): Uint8Array {
  return frameFromHeaderBlock(eventHeaderBlock(eventType), utf8.encode(JSON.stringify(payload)));
}

/** A Kiro exception frame (e.g. `ContentLengthExceededException`); payload `{"message": …}`. */
export function encodeExceptionFrame(exceptionType: string, message: string): Uint8Array {
  return encodeFrame(
    {
      ':exception-type': stringHeader(exceptionType),
      ':content-type': JSON_CONTENT_TYPE,
      ':message-type': stringHeader('exception'),
    },
    utf8.encode(JSON.stringify({ message })),
  );
}

/** A Kiro error frame; the code goes in `:error-code`, the payload is `{"message": …}`. */
export function encodeErrorFrame(errorCode: string, message: string): Uint8Array {
  return encodeFrame(
    {
      ':error-code': stringHeader(errorCode),
      ':content-type': JSON_CONTENT_TYPE,
      ':message-type': stringHeader('error'),
    },
    utf8.encode(JSON.stringify({ message })),
  );
}
