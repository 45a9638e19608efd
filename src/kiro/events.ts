/**
 * Frames → Kiro events (docs/kiro-protocol.md §6), and the stream stage that turns an upstream body
 * into batches of events.
 */
import type { Frame, KiroEvent } from './types.js';
import { decodeUtf8, FrameDecoder, type FrameError } from './frames.js';

function stringHeader(frame: Frame, name: string): string | undefined {
  const header = frame.headers[name];
  return header !== undefined && header.type === 'string' ? header.value : undefined;
}

function parseJsonObject(payload: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(decodeUtf8(payload));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Exception/error payloads are usually `{"message": …}` but may be bare text (or empty). */
function messageOf(frame: Frame, headerFallback: string): string {
  const text = decodeUtf8(frame.payload);
  if (text.length === 0) return stringHeader(frame, headerFallback) ?? '';
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null) {
      const message = (value as Record<string, unknown>).message ?? (value as Record<string, unknown>).Message;
      if (typeof message === 'string') return message;
    }
    return typeof value === 'string' ? value : text;
  } catch {
    return text;
  }
}

/**
 * The event a frame carries, or undefined for frames the gateway ignores (unknown event types,
 * unparsable JSON, toolUseEvents without `name`/`toolUseId`). A missing `:message-type` means event.
 */
export function toKiroEvent(frame: Frame): KiroEvent | undefined {
  const messageType = stringHeader(frame, ':message-type') ?? 'event';
  if (messageType === 'exception') {
    return {
      kind: 'exception',
      exceptionType: stringHeader(frame, ':exception-type') ?? 'UnknownException',
      message: messageOf(frame, ':error-message'),
    };
  }
  if (messageType === 'error') {
    return {
      kind: 'error',
      errorCode: stringHeader(frame, ':error-code') ?? 'UnknownError',
      message: messageOf(frame, ':error-message'),
    };
  }
  if (messageType !== 'event') return undefined;

  switch (stringHeader(frame, ':event-type')) {
    case 'assistantResponseEvent': {
      const body = parseJsonObject(frame.payload);
      if (body === undefined) return undefined;
      return { kind: 'text', content: typeof body.content === 'string' ? body.content : '' };
    }
    case 'toolUseEvent': {
      const body = parseJsonObject(frame.payload);
      if (body === undefined || typeof body.name !== 'string' || typeof body.toolUseId !== 'string') return undefined;
      return {
        kind: 'toolUse',
        toolUseId: body.toolUseId,
        name: body.name,
        input: typeof body.input === 'string' ? body.input : '',
        stop: body.stop === true,
      };
    }
    case 'contextUsageEvent': {
      const body = parseJsonObject(frame.payload);
      const percentage = body?.contextUsagePercentage;
      return typeof percentage === 'number' ? { kind: 'contextUsage', percentage } : undefined;
    }
    case 'meteringEvent': {
      const body = parseJsonObject(frame.payload);
      if (body === undefined) return undefined;
      return { kind: 'metering', usage: typeof body.usage === 'number' ? body.usage : undefined };
    }
    case 'reasoningContentEvent': {
      const body = parseJsonObject(frame.payload);
      if (body === undefined) return undefined;
      const text = typeof body.text === 'string' ? body.text : typeof body.reasoningText === 'string' ? body.reasoningText : '';
      const signature = typeof body.signature === 'string' && body.signature !== '' ? body.signature : undefined;
      return text === '' && signature === undefined ? undefined : { kind: 'reasoning', text, signature };
    }
    default:
      return undefined;
  }
}

/** Options of {@link kiroEventBatches}. */
export interface KiroEventBatchesOptions {
  /** Every recoverable framing error (CRC mismatch, bad headers…), e.g. for metrics. */
  onFrameError?: (e: FrameError) => void;
  /** Wire size of every frame decoded. */
  onFrame?: (bytes: number) => void;
}

/**
 * Decodes an upstream body into Kiro events, one non-empty batch per chunk that completes at least
 * one known event, so the pipeline awaits once per TCP chunk rather than once per frame.
 * Throws FrameError `truncated` if the body ends inside a frame and `too_many_errors` if it is garbage.
 *
 * @example
 * for await (const batch of kiroEventBatches(res.body, { onFrameError: countCrcError })) converter.push(batch);
 */
export async function* kiroEventBatches(
  source: AsyncIterable<Uint8Array>,
  opts: KiroEventBatchesOptions = {},
): AsyncGenerator<KiroEvent[]> {
  const decoder = new FrameDecoder({ onError: opts.onFrameError, onFrame: opts.onFrame });
  for await (const chunk of source) {
    const frames = decoder.push(chunk);
    if (frames.length === 0) continue;
    const batch: KiroEvent[] = [];
    for (const frame of frames) {
      const event = toKiroEvent(frame);
      if (event !== undefined) batch.push(event);
    }
    if (batch.length > 0) yield batch;
  }
  decoder.finish();
}
