import { describe, expect, it } from 'vitest';
import {
  encodeErrorFrame,
  encodeEventFrame,
  encodeExceptionFrame,
  encodeFrame,
  stringHeader,
} from '../../src/kiro/encoder.js';
import { FrameDecoder } from '../../src/kiro/frames.js';
import type { FrameHeaderValue } from '../../src/kiro/types.js';
import { comparable, fixture, fromHex, fromOracleHeaders, oracle, oracleFrames, toOracleHeaders } from '../fixtures/kiro/oracle.js';

const utf8 = new TextEncoder();
const ALL_TYPES: Record<string, FrameHeaderValue> = fromOracleHeaders(
  oracle.decode(fixture('positive', 'all-header-types.bin')).headers,
);

describe('encodeEventFrame', () => {
  it('reproduces the §13.1 assistantResponseEvent vector byte for byte', () => {
    const expected = fromHex(`
      0000007c0000005c3bddcf780b3a6576656e742d747970650700166173736973
      74616e74526573706f6e73654576656e740d3a636f6e74656e742d7479706507
      00106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d74797065
      0700056576656e747b22636f6e74656e74223a224869227db02babdc`);
    expect(encodeEventFrame('assistantResponseEvent', { content: 'Hi' })).toEqual(expected);
  });

  it('reproduces the §13.2 toolUseEvent vector byte for byte', () => {
    const expected = fromHex(`
      000000bd00000052081023140b3a6576656e742d7479706507000c746f6f6c55
      73654576656e740d3a636f6e74656e742d747970650700106170706c69636174
      696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22
      6e616d65223a226765745f77656174686572222c22746f6f6c5573654964223a
      22746f6f6c7573655f616263222c22696e707574223a227b5c22636974795c22
      3a5c2250617269735c227d222c2273746f70223a747275657d77df8670`);
    const frame = encodeEventFrame('toolUseEvent', {
      name: 'get_weather',
      toolUseId: 'tooluse_abc',
      input: '{"city":"Paris"}',
      stop: true,
    });
    expect(frame).toEqual(expected);
  });

  it('produces frames the smithy codec decodes, whatever the payload', () => {
    const payload = { content: 'naïve 日本語 🎉 "q" \\ \n', n: 1.5 };
    const message = oracle.decode(encodeEventFrame('assistantResponseEvent', payload));
    expect(message.headers[':event-type']).toEqual({ type: 'string', value: 'assistantResponseEvent' });
    expect(JSON.parse(new TextDecoder().decode(message.body))).toEqual(payload);
  });
});

describe('encodeFrame', () => {
  it('encodes every header type exactly as the smithy codec does', () => {
    const payload = utf8.encode('{"ok":true}');
    const ours = encodeFrame(ALL_TYPES, payload);
    expect(ours).toEqual(oracle.encode({ headers: toOracleHeaders(ALL_TYPES), body: payload }));
    expect(ours).toEqual(fixture('positive', 'all-header-types.bin'));
  });

  it('round-trips through our decoder with all header types and an empty payload', () => {
    const bytes = encodeFrame(ALL_TYPES, new Uint8Array(0));
    const [frame] = new FrameDecoder().push(bytes);
    expect(comparable(frame)).toEqual(oracleFrames(bytes)[0]);
    expect(frame.headers).toEqual(ALL_TYPES);
  });

  it('encodes the 16-byte minimum frame', () => {
    expect(encodeFrame({}, new Uint8Array(0))).toEqual(fixture('positive', 'empty-frame.bin'));
  });

  it('rejects empty header names, oversized string values, wrong-size uuids and out-of-range integers', () => {
    expect(() => encodeFrame({ '': stringHeader('x') }, new Uint8Array(0))).toThrow('header name');
    expect(() => encodeFrame({ a: stringHeader('x'.repeat(40_000)) }, new Uint8Array(0))).toThrow('exceeds');
    expect(() => encodeFrame({ u: { type: 'uuid', value: new Uint8Array(3) } }, new Uint8Array(0))).toThrow('uuid');
    expect(() => encodeFrame({ b: { type: 'byte', value: 128 } }, new Uint8Array(0))).toThrow('out of range');
    expect(() => encodeFrame({ s: { type: 'short', value: -32769 } }, new Uint8Array(0))).toThrow('out of range');
    expect(() => encodeFrame({ i: { type: 'integer', value: 1.5 } }, new Uint8Array(0))).toThrow('out of range');
    expect(() => encodeFrame({ b: { type: 'byte', value: -128 }, i: { type: 'integer', value: 2 ** 31 - 1 } }, new Uint8Array(0))).not.toThrow();
  });
});

describe('exception and error frames', () => {
  it('marks exceptions with :exception-type and :message-type exception', () => {
    const message = oracle.decode(encodeExceptionFrame('ContentLengthExceededException', 'too long'));
    expect(message.headers).toEqual({
      ':exception-type': { type: 'string', value: 'ContentLengthExceededException' },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'exception' },
    });
    expect(JSON.parse(new TextDecoder().decode(message.body))).toEqual({ message: 'too long' });
  });

  it('marks errors with :error-code and :message-type error', () => {
    const message = oracle.decode(encodeErrorFrame('InternalError', 'boom'));
    expect(message.headers[':error-code']).toEqual({ type: 'string', value: 'InternalError' });
    expect(message.headers[':message-type']).toEqual({ type: 'string', value: 'error' });
    expect(JSON.parse(new TextDecoder().decode(message.body))).toEqual({ message: 'boom' });
  });
});
