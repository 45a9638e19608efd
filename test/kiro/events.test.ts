import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeErrorFrame, encodeEventFrame, encodeExceptionFrame, encodeFrame, stringHeader } from '../../src/kiro/encoder.js';
import { EventPayloadError, kiroEventBatches, toKiroEvent, unknownEventType } from '../../src/kiro/events.js';
import { FrameDecoder, FrameError } from '../../src/kiro/frames.js';
import type { Frame, KiroEvent } from '../../src/kiro/types.js';
import { concatBytes, fixture, splitAt } from '../fixtures/kiro/oracle.js';

function frameOf(bytes: Uint8Array): Frame {
  const [frame] = new FrameDecoder().push(bytes);
  return frame;
}

const event = (type: string, payload: unknown) => toKiroEvent(frameOf(encodeEventFrame(type, payload)));

const NEGATIVE = (
  JSON.parse(readFileSync(new URL('../fixtures/kiro/manifest.json', import.meta.url), 'utf8')) as { negative: Record<string, string> }
).negative;

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

  it('refuses toolUseEvents without a name or a toolUseId, or with a non-string input: the call would be lost', () => {
    expect(() => event('toolUseEvent', { toolUseId: 'tooluse_1', input: '{}' })).toThrow(EventPayloadError);
    expect(() => event('toolUseEvent', { name: 'Read', input: '{}' })).toThrow(EventPayloadError);
    expect(() => event('toolUseEvent', { name: 'Read', toolUseId: 'tooluse_1', input: { a: 1 } })).toThrow(/input/);
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

  it('ignores unknown event types and unreadable contextUsage/metering payloads', () => {
    expect(event('messageMetadataEvent', { conversationId: 'c' })).toBeUndefined();
    expect(event('metricsEvent', { text: 'hmm' })).toBeUndefined();
    expect(event('contextUsageEvent', 'not an object')).toBeUndefined();
    expect(event('meteringEvent', 42)).toBeUndefined();
  });

  it('refuses a text event whose payload is not a JSON object or whose content is not a string: the text would be lost', () => {
    const notJson = encodeFrame(
      { ':event-type': stringHeader('assistantResponseEvent'), ':message-type': stringHeader('event') },
      new TextEncoder().encode('{"content":'),
    );
    expect(() => toKiroEvent(frameOf(notJson))).toThrow(EventPayloadError);
    expect(() => event('assistantResponseEvent', 'just a string')).toThrow(/assistantResponseEvent/);
    expect(() => event('assistantResponseEvent', { content: 42 })).toThrow(/content/);
    expect(() => event('assistantResponseEvent', ['an', 'array'])).toThrow(/not a JSON object/);
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

  it('fails on the first corrupt frame, after yielding the events before it, and reports it through the callbacks', async () => {
    const errors: FrameError[] = [];
    const sizes: number[] = [];
    const bad = fixture('negative', 'bad-message-crc.bin');
    const good = fixture('positive', 'assistant-response-event.bin');
    const seen: KiroEvent[][] = [];
    const run = async () => {
      for await (const batch of kiroEventBatches(chunks(concatBytes(good, bad, good)), {
        onFrameError: (e) => errors.push(e),
        onFrame: (n) => sizes.push(n),
      })) {
        seen.push(batch);
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'FrameError', code: 'message_crc' });
    expect(seen).toEqual([[{ kind: 'text', content: 'Hi' }]]);
    expect(errors.map((e) => e.code)).toEqual(['message_crc']);
    expect(sizes).toEqual([good.length]);
  });

  for (const [name, code] of Object.entries(NEGATIVE)) {
    it(`fails with code ${code} on the negative vector ${name} between good frames, never skipping it`, async () => {
      const bad = fixture('negative', name);
      const good = fixture('positive', 'assistant-response-event.bin');
      const run = () => collect(kiroEventBatches(chunks(good, bad, good)));
      // A truncated frame followed by more bytes is a frame whose length no longer matches: whatever
      // the decoder calls it, it must fail.
      await expect(run()).rejects.toMatchObject({ name: 'FrameError', code: code === 'truncated' ? expect.any(String) : code });
    });
  }

  it('fails on an unreadable content event after yielding the events before it in the same chunk', async () => {
    const good = fixture('positive', 'assistant-response-event.bin');
    const broken = encodeEventFrame('assistantResponseEvent', 'not an object');
    const seen: KiroEvent[][] = [];
    const run = async () => {
      for await (const batch of kiroEventBatches(chunks(concatBytes(good, broken, good)))) seen.push(batch);
    };
    await expect(run()).rejects.toBeInstanceOf(EventPayloadError);
    expect(seen).toEqual([[{ kind: 'text', content: 'Hi' }]]);
  });

  it('reports each frame of an unknown type to onUnknownEvent by type only, and drops it', async () => {
    const secret = { text: 'the user wrote something private' };
    const reported: string[] = [];
    const batches = await collect(
      kiroEventBatches(
        chunks(
          encodeEventFrame('assistantResponseEvent', { content: 'Hi' }),
          encodeEventFrame('citationEvent', secret),
          encodeEventFrame('citationEvent', secret),
          // Known types are never reported, even when unreadable (they carry no answer content).
          encodeEventFrame('contextUsageEvent', { contextUsagePercentage: 'x' }),
          encodeFrame({ ':message-type': stringHeader('notice'), ':content-type': stringHeader('application/json') }, new TextEncoder().encode('{}')),
          encodeEventFrame('meteringEvent', { usage: 0.01 }),
        ),
        { onUnknownEvent: (type) => reported.push(type) },
      ),
    );
    expect(batches.flat().map((e) => e.kind)).toEqual(['text', 'metering']);
    expect(reported).toEqual(['citationEvent', 'citationEvent', 'message-type:notice']);
  });

  it('names the unknown type of a frame, and nothing for known event, exception and error frames', () => {
    expect(unknownEventType(frameOf(encodeEventFrame('followupPromptEvent', {})))).toBe('followupPromptEvent');
    for (const type of ['assistantResponseEvent', 'toolUseEvent', 'contextUsageEvent', 'meteringEvent', 'reasoningContentEvent']) {
      expect(unknownEventType(frameOf(encodeEventFrame(type, {})))).toBeUndefined();
    }
    expect(unknownEventType(frameOf(encodeExceptionFrame('ThrottlingException', 'slow down')))).toBeUndefined();
    expect(unknownEventType(frameOf(encodeErrorFrame('InternalError', 'oops')))).toBeUndefined();
  });
});
