import { describe, expect, it } from 'vitest';
import { crc32 as oracleCrc32 } from '@aws-crypto/crc32';
import { crc32, crc32Js } from '../../src/kiro/crc32.js';
import { FrameDecoder, FrameError, MAX_CONSECUTIVE_ERRORS, MINIMUM_MESSAGE_LENGTH } from '../../src/kiro/frames.js';
import type { Frame } from '../../src/kiro/types.js';
import {
  comparable,
  concatBytes,
  fixture,
  fromHex,
  fromOracleHeaders,
  manifest,
  oracle,
  oracleFrames,
  prng,
  splitAt,
  toOracleHeaders,
} from '../fixtures/kiro/oracle.js';

const VECTOR_13_1 = fromHex(`
0000007c0000005c3bddcf780b3a6576656e742d747970650700166173736973
74616e74526573706f6e73654576656e740d3a636f6e74656e742d7479706507
00106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d74797065
0700056576656e747b22636f6e74656e74223a224869227db02babdc`);
const VECTOR_13_2 = fromHex(`
000000bd00000052081023140b3a6576656e742d7479706507000c746f6f6c55
73654576656e740d3a636f6e74656e742d747970650700106170706c69636174
696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22
6e616d65223a226765745f77656174686572222c22746f6f6c5573654964223a
22746f6f6c7573655f616263222c22696e707574223a227b5c22636974795c22
3a5c2250617269735c227d222c2273746f70223a747275657d77df8670`);

const utf8 = new TextDecoder();
const STREAM = fixture('positive', 'kiro-stream.bin');
const GOOD = fixture('positive', 'assistant-response-event.bin');

/** Feeds chunks through a fresh decoder, collecting frames (copied) and recoverable errors. */
function decodeChunks(chunks: Uint8Array[], opts: { maxFrameBytes?: number } = {}) {
  const errors: FrameError[] = [];
  const decoder = new FrameDecoder({ ...opts, onError: (e) => errors.push(e) });
  const frames: ReturnType<typeof comparable>[] = [];
  for (const chunk of chunks) for (const f of decoder.push(chunk)) frames.push(comparable(f));
  decoder.finish();
  return { frames, errors };
}

function bytewise(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
}

function caught(fn: () => unknown): FrameError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FrameError);
    return e as FrameError;
  }
  throw new Error('expected a FrameError');
}

describe('crc32', () => {
  it('computes the CRC-32/ISO-HDLC check value and 0 for no bytes', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('matches @aws-crypto/crc32 on both the JS and the native path, including continuation', () => {
    const rand = prng(7);
    for (const size of [1, 7, 8, 9, 63, 255, 256, 257, 1000, 70_000]) {
      const data = Uint8Array.from({ length: size }, () => Math.floor(rand() * 256));
      const expected = oracleCrc32(data);
      expect(crc32(data)).toBe(expected);
      expect(crc32Js(data)).toBe(expected);
      const cut = Math.floor(size / 3);
      expect(crc32(data, cut, size, crc32(data, 0, cut))).toBe(expected);
      expect(crc32Js(data, cut, size, crc32Js(data, 0, cut))).toBe(expected);
    }
  });
});

describe('FrameDecoder', () => {
  it('decodes the §13.1 assistantResponseEvent vector', () => {
    const frames = new FrameDecoder().push(VECTOR_13_1);
    expect(frames).toHaveLength(1);
    expect(frames[0].headers).toEqual({
      ':event-type': { type: 'string', value: 'assistantResponseEvent' },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    });
    expect(utf8.decode(frames[0].payload)).toBe('{"content":"Hi"}');
  });

  it('decodes the §13.2 toolUseEvent vector split at offsets 5 and 50 only once it is complete', () => {
    const decoder = new FrameDecoder();
    const [a, b, c] = splitAt(VECTOR_13_2, 5, 50);
    expect(decoder.push(a)).toEqual([]);
    expect(decoder.push(b)).toEqual([]);
    const frames = decoder.push(c);
    expect(frames).toHaveLength(1);
    expect(JSON.parse(utf8.decode(frames[0].payload))).toEqual({
      name: 'get_weather',
      toolUseId: 'tooluse_abc',
      input: '{"city":"Paris"}',
      stop: true,
    });
    decoder.finish();
  });

  it.each(manifest.positive)('decodes positive vector %s exactly as the smithy codec does', (name) => {
    const bytes = fixture('positive', name);
    expect(decodeChunks([bytes]).frames).toEqual(oracleFrames(bytes));
  });

  it.each(manifest.positive)('decodes %s identically when split in two at every byte boundary', (name) => {
    const bytes = fixture('positive', name);
    const expected = oracleFrames(bytes);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { frames, errors } = decodeChunks(splitAt(bytes, cut));
      expect(errors).toEqual([]);
      expect(frames, `cut at ${cut}`).toEqual(expected);
    }
  });

  it('decodes a multi-frame stream fed one byte at a time', () => {
    expect(decodeChunks(bytewise(STREAM)).frames).toEqual(oracleFrames(STREAM));
  });

  it('decodes a multi-frame stream under 200 random chunkings, including splits inside the length prefix', () => {
    const expected = oracleFrames(STREAM);
    const rand = prng(42);
    for (let run = 0; run < 200; run++) {
      const cuts = new Set<number>();
      const count = 1 + Math.floor(rand() * 12);
      for (let i = 0; i < count; i++) cuts.add(1 + Math.floor(rand() * (STREAM.length - 1)));
      const chunks = splitAt(STREAM, ...[...cuts].sort((x, y) => x - y));
      expect(decodeChunks(chunks).frames).toEqual(expected);
    }
  });

  it('returns every frame of a chunk that holds many frames', () => {
    const frames = new FrameDecoder().push(STREAM);
    expect(frames).toHaveLength(8);
    expect(frames.map((f) => (f.headers[':event-type'] as { value: string }).value)).toEqual([
      'assistantResponseEvent',
      'assistantResponseEvent',
      'toolUseEvent',
      'toolUseEvent',
      'toolUseEvent',
      'messageMetadataEvent',
      'contextUsageEvent',
      'meteringEvent',
    ]);
  });

  it('hands out payloads as views into the chunk when frames are whole', () => {
    const chunk = new Uint8Array(STREAM);
    const frames = new FrameDecoder().push(chunk);
    for (const f of frames) expect(f.payload.buffer).toBe(chunk.buffer);
  });

  it('keeps payloads of frames completed from a carried-over tail valid after later pushes', () => {
    const decoder = new FrameDecoder();
    const first = decoder.push(STREAM.subarray(0, 150));
    const second: Frame[] = decoder.push(STREAM.subarray(150, 400));
    const third = decoder.push(STREAM.subarray(400));
    const all = [...first, ...second, ...third].map(comparable);
    expect(all).toEqual(oracleFrames(STREAM));
  });

  it('decodes frames that the smithy codec encoded with every header type', () => {
    const headers = fromOracleHeaders(oracle.decode(fixture('positive', 'all-header-types.bin')).headers);
    const bytes = oracle.encode({ headers: toOracleHeaders(headers), body: new Uint8Array([1, 2, 3]) });
    const [frame] = new FrameDecoder().push(bytes);
    expect(comparable(frame)).toEqual(oracleFrames(bytes)[0]);
    expect(frame.headers.long).toEqual({ type: 'long', value: -1234567890123n });
    expect(frame.headers.ts).toEqual({ type: 'timestamp', value: 1735689600123n });
    expect(frame.headers.str).toEqual({ type: 'string', value: 'héllo wörld ✓' });
  });

  it('accepts the minimum 16-byte frame with no headers and no payload', () => {
    const frames = new FrameDecoder().push(fixture('positive', 'empty-frame.bin'));
    expect(frames).toHaveLength(1);
    expect(frames[0].headers).toEqual({});
    expect(frames[0].payload.length).toBe(0);
    expect(MINIMUM_MESSAGE_LENGTH).toBe(16);
  });

  describe('strict mode', () => {
    const GOOD = fixture('positive', 'assistant-response-event.bin');
    const faulty = Object.entries(manifest.negative).filter(([, code]) => code !== 'truncated');

    it.each(faulty)('fails on %s with %s, returning the frames before it and nothing after', (name, code) => {
      const errors: FrameError[] = [];
      const decoder = new FrameDecoder({ strict: true, onError: (e) => errors.push(e) });
      const frames = decoder.push(concatBytes(GOOD, fixture('negative', name), GOOD)).map(comparable);
      expect(frames).toEqual(oracleFrames(GOOD));
      expect(errors.map((e) => e.code)).toEqual([code]);
      expect(() => decoder.push(GOOD)).toThrow(expect.objectContaining({ name: 'FrameError', code }));
      expect(() => decoder.finish()).toThrow(expect.objectContaining({ code }));
    });

    it.each(faulty)('throws %s from the push that decoded nothing, also when fed byte by byte', (name, code) => {
      const decoder = new FrameDecoder({ strict: true });
      const run = () => {
        for (const chunk of bytewise(concatBytes(fixture('negative', name), GOOD))) decoder.push(chunk);
      };
      expect(run).toThrow(expect.objectContaining({ code }));
    });
  });

  describe('recovery', () => {
    const NEXT = fixture('positive', 'tool-use-event.bin');
    const recoverable = Object.entries(manifest.negative).filter(([, code]) => code !== 'truncated');

    it.each(recoverable)('reports %s as %s once and still decodes the frame after it', (name, code) => {
      const bytes = concatBytes(fixture('negative', name), NEXT);
      for (const chunks of [[bytes], bytewise(bytes)]) {
        const { frames, errors } = decodeChunks(chunks);
        expect(errors.map((e) => e.code)).toEqual([code]);
        expect(frames).toEqual(oracleFrames(NEXT));
      }
    });

    it('skips a frame whose message CRC is wrong and names both checksums in the error', () => {
      const { frames, errors } = decodeChunks([concatBytes(GOOD, fixture('negative', 'bad-message-crc.bin'), NEXT)]);
      expect(frames).toHaveLength(2);
      expect(errors[0].message).toMatch(/message checksum mismatch: expected 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}/);
    });

    it('names the expected and computed prelude checksums when the prelude CRC is wrong', () => {
      const { errors } = decodeChunks([concatBytes(fixture('negative', 'bad-prelude-crc.bin'), NEXT)]);
      expect(errors[0].code).toBe('prelude_crc');
      expect(errors[0].message).toMatch(/prelude checksum mismatch: expected 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}/);
    });

    it('resynchronises after a bad prelude even when the next frame starts mid-chunk', () => {
      const bytes = concatBytes(GOOD, fixture('negative', 'bad-prelude-crc.bin'), GOOD, NEXT);
      for (let cut = 1; cut < bytes.length; cut += 7) {
        const { frames, errors } = decodeChunks(splitAt(bytes, cut));
        expect(errors).toHaveLength(1);
        expect(frames).toHaveLength(3);
      }
    });

    it('treats frames longer than maxFrameBytes as a length error', () => {
      const { frames, errors } = decodeChunks([concatBytes(NEXT, GOOD)], { maxFrameBytes: 150 });
      expect(errors.map((e) => e.code)).toEqual(['length']);
      expect(frames).toEqual(oracleFrames(GOOD));
    });

    it(`throws too_many_errors at the ${MAX_CONSECUTIVE_ERRORS}th consecutive error`, () => {
      const bad = fixture('negative', 'bad-message-crc.bin');
      const errors: FrameError[] = [];
      const decoder = new FrameDecoder({ onError: (e) => errors.push(e) });
      for (let i = 0; i < MAX_CONSECUTIVE_ERRORS - 1; i++) expect(decoder.push(bad)).toEqual([]);
      const err = caught(() => decoder.push(bad));
      expect(err.code).toBe('too_many_errors');
      expect(err.cause).toBeInstanceOf(FrameError);
      expect(errors).toHaveLength(MAX_CONSECUTIVE_ERRORS);
      expect(caught(() => decoder.push(GOOD)).code).toBe('too_many_errors');
      expect(caught(() => decoder.finish()).code).toBe('too_many_errors');
    });

    it('returns the good frames of the chunk that hits the error limit and throws on the next call', () => {
      const bad = fixture('negative', 'bad-message-crc.bin');
      const decoder = new FrameDecoder();
      const frames = decoder.push(concatBytes(GOOD, bad, bad, bad, bad, bad, GOOD));
      expect(frames).toHaveLength(1);
      expect(caught(() => decoder.finish()).code).toBe('too_many_errors');
    });

    it('resets the consecutive error count after a good frame', () => {
      const bad = fixture('negative', 'unknown-header-type.bin');
      const pattern = [bad, bad, bad, bad, GOOD, bad, bad, bad, bad, GOOD];
      const { frames, errors } = decodeChunks([concatBytes(...pattern)]);
      expect(frames).toHaveLength(2);
      expect(errors).toHaveLength(8);
    });

    it('gives up with too_many_errors when no valid prelude appears within twice maxFrameBytes of garbage', () => {
      const garbage = Uint8Array.from({ length: 5000 }, (_, i) => (i * 37 + 11) & 0xff);
      const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
      const err = caught(() => {
        for (const chunk of splitAt(garbage, 1000, 2000, 3000, 4000)) decoder.push(chunk);
      });
      expect(err.code).toBe('too_many_errors');
      expect(err.message).toContain('no valid frame prelude');
    });
  });

  describe('end of stream', () => {
    it('throws truncated from finish() when the stream ends inside a frame', () => {
      const decoder = new FrameDecoder();
      decoder.push(fixture('negative', 'truncated.bin'));
      const err = caught(() => decoder.finish());
      expect(err.code).toBe('truncated');
      expect(err.message).toContain('Truncated event message');
      expect(err.message).toContain('124-byte frame');
    });

    it('throws truncated from finish() when the stream ends inside the length prefix', () => {
      const decoder = new FrameDecoder();
      expect(decoder.push(concatBytes(GOOD, GOOD.subarray(0, 3)))).toHaveLength(1);
      expect(decoder.bufferedBytes).toBe(3);
      expect(caught(() => decoder.finish()).code).toBe('truncated');
    });

    it('finishes cleanly when the stream ends on a frame boundary', () => {
      const decoder = new FrameDecoder();
      decoder.push(STREAM.subarray(0, 200));
      decoder.push(STREAM.subarray(200));
      expect(() => decoder.finish()).not.toThrow();
    });
  });
});
