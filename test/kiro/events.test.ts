import { describe, expect, it } from 'vitest';
import { encodeErrorFrame, encodeEventFrame, encodeExceptionFrame, encodeFrame, stringHeader } from '../../src/kiro/encoder.js';
import { kiroEventBatches, toKiroEvent } from '../../src/kiro/events.js';
import { FrameDecoder, FrameError } from '../../src/kiro/frames.js';
import type { Frame, KiroEvent } from '../../src/kiro/types.js';
import { concatBytes, fixture, splitAt } from '../fixtures/kiro/oracle.js';

function frameOf(bytes: Uint8Array): Frame {
  const [frame] = new FrameDecoder().push(bytes);
  return frame;
}

const event = (type: string, payload: unknown) => toKiroEvent(frameOf(encodeEventFrame(type, payload)));

async function* chunks(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part;
}

async function collect(source: AsyncIterable<KiroEvent[]>): Promise<KiroEvent[][]> {
  const out: KiroEvent[][] = [];
  for await (const batch of source) out.push(batch);
  return out;
}

describe('toKiroEvent', () => {
  it('turns assistantResponseEvent into text, defaulting missing content to ""', () => {
    expect(event('assistantResponseEvent', { content: 'Hi', modelId: 'x' })).toEqual({ kind: 'text', content: 'Hi' });
    expect(event('assistantResponseEvent', {})).toEqual({ kind: 'text', content: '' });
  });

  it('turns toolUseEvent into toolUse with input defaulting to "" and stop to false', () => {
    expect(event('toolUseEvent', { name: 'Read', toolUseId: 'tooluse_1', input: '{"a"' })).toEqual({
      kind: 'toolUse',
      toolUseId: 'tooluse_1',
      name: 'Read',
      input: '{"a"',
      stop: false,
    });
    expect(event('toolUseEvent', { name: 'Read', toolUseId: 'tooluse_1', stop: true })).toEqual({
      kind: 'toolUse',
      toolUseId: 'tooluse_1',
      name: 'Read',
      input: '',
      stop: true,
    });
  });

  it('ignores toolUseEvents without a name or a toolUseId', () => {
    expect(event('toolUseEvent', { toolUseId: 'tooluse_1', input: '{}' })).toBeUndefined();
    expect(event('toolUseEvent', { name: 'Read', input: '{}' })).toBeUndefined();
  });

  it('reads contextUsagePercentage and metering usage', () => {
    expect(event('contextUsageEvent', { contextUsagePercentage: 12.34 })).toEqual({ kind: 'contextUsage', percentage: 12.34 });
    expect(event('contextUsageEvent', {})).toBeUndefined();
    expect(event('meteringEvent', { unit: 'credit', usage: 0.0123 })).toEqual({ kind: 'metering', usage: 0.0123 });
    expect(event('meteringEvent', { unit: 'credit' })).toEqual({ kind: 'metering', usage: undefined });
  });

  it('turns reasoningContentEvent into reasoning text and Kiro\'s signature (newer notes §5)', () => {
    expect(event('reasoningContentEvent', { text: 'hmm' })).toEqual({ kind: 'reasoning', text: 'hmm', signature: undefined });
    expect(event('reasoningContentEvent', { signature: 'c2ln' })).toEqual({ kind: 'reasoning', text: '', signature: 'c2ln' });
    expect(event('reasoningContentEvent', {})).toBeUndefined();
  });

  it('ignores unknown event types and payloads that are not JSON objects', () => {
    expect(event('messageMetadataEvent', { conversationId: 'c' })).toBeUndefined();
    expect(event('metricsEvent', { text: 'hmm' })).toBeUndefined();
    const notJson = encodeFrame(
      { ':event-type': stringHeader('assistantResponseEvent'), ':message-type': stringHeader('event') },
      new TextEncoder().encode('{"content":'),
    );
    expect(toKiroEvent(frameOf(notJson))).toBeUndefined();
    expect(event('assistantResponseEvent', 'just a string')).toBeUndefined();
  });

  it('treats a frame without :message-type as an event', () => {
    const bytes = encodeFrame({ ':event-type': stringHeader('assistantResponseEvent') }, new TextEncoder().encode('{"content":"x"}'));
    expect(toKiroEvent(frameOf(bytes))).toEqual({ kind: 'text', content: 'x' });
  });

  it('turns exception and error frames into exception and error events with their message', () => {
    expect(toKiroEvent(frameOf(encodeExceptionFrame('ContentLengthExceededException', 'too long')))).toEqual({
      kind: 'exception',
      exceptionType: 'ContentLengthExceededException',
      message: 'too long',
    });
    expect(toKiroEvent(frameOf(encodeErrorFrame('InternalError', 'boom')))).toEqual({
      kind: 'error',
      errorCode: 'InternalError',
      message: 'boom',
    });
  });

  it('takes an exception message from plain text payloads and from :error-message when the payload is empty', () => {
    const plain = encodeFrame(
      { ':exception-type': stringHeader('ThrottlingException'), ':message-type': stringHeader('exception') },
      new TextEncoder().encode('slow down'),
    );
    expect(toKiroEvent(frameOf(plain))).toMatchObject({ exceptionType: 'ThrottlingException', message: 'slow down' });
    const headerOnly = encodeFrame(
      { ':error-code': stringHeader('E'), ':error-message': stringHeader('from header'), ':message-type': stringHeader('error') },
      new Uint8Array(0),
    );
    expect(toKiroEvent(frameOf(headerOnly))).toEqual({ kind: 'error', errorCode: 'E', message: 'from header' });
  });

  it('decodes payloads delivered in Buffers as undici does', () => {
    const [frame] = new FrameDecoder().push(Buffer.from(encodeEventFrame('assistantResponseEvent', { content: 'é✓' })));
    expect(toKiroEvent(frame)).toEqual({ kind: 'text', content: 'é✓' });
  });
});

describe('kiroEventBatches', () => {
  const stream = fixture('positive', 'kiro-stream.bin');

  it('yields one batch per chunk holding all known events of that chunk', async () => {
    const batches = await collect(kiroEventBatches(chunks(stream)));
    expect(batches).toHaveLength(1);
    expect(batches[0].map((e) => e.kind)).toEqual(['text', 'text', 'toolUse', 'toolUse', 'toolUse', 'contextUsage', 'metering']);
  });

  it('yields nothing for chunks that complete no known event', async () => {
    const cut = 60; // inside the first frame
    const batches = await collect(kiroEventBatches(chunks(...splitAt(stream, cut, cut + 1))));
    expect(batches).toHaveLength(1);
    expect(batches.flat()).toHaveLength(7);
  });

  it('throws FrameError truncated after the last complete batch when the body ends mid-frame', async () => {
    const seen: KiroEvent[][] = [];
    const run = async () => {
      for await (const batch of kiroEventBatches(chunks(stream.subarray(0, stream.length - 10)))) seen.push(batch);
    };
    await expect(run()).rejects.toMatchObject({ name: 'FrameError', code: 'truncated' });
    expect(seen.flat()).toHaveLength(6);
  });

  it('reports recoverable frame errors and frame sizes through the callbacks', async () => {
    const errors: FrameError[] = [];
    const sizes: number[] = [];
    const bad = fixture('negative', 'bad-message-crc.bin');
    const good = fixture('positive', 'assistant-response-event.bin');
    const batches = await collect(
      kiroEventBatches(chunks(concatBytes(bad, good)), { onFrameError: (e) => errors.push(e), onFrame: (n) => sizes.push(n) }),
    );
    expect(batches).toEqual([[{ kind: 'text', content: 'Hi' }]]);
    expect(errors.map((e) => e.code)).toEqual(['message_crc']);
    expect(sizes).toEqual([good.length]);
  });
});
