/**
 * Frames → Kiro events (docs/kiro-protocol.md §6), and the stream stage that turns an upstream body
 * into batches of events.
 */
import type { Frame, KiroEvent } from './types.js';
import { decodeUtf8, FrameDecoder, type FrameError } from './frames.js';
import { plainTextContent } from './text-payload.js';

type Headers = Frame['headers'];

function stringHeader(headers: Headers, name: string): string | undefined {
  const header = headers[name];
  return header !== undefined && header.type === 'string' ? header.value : undefined;
}

function parseJsonObject(bytes: Uint8Array, start: number, end: number): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(decodeUtf8(bytes, start, end));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Exception/error payloads are usually `{"message": …}` but may be bare text (or empty). */
function messageOf(headers: Headers, bytes: Uint8Array, start: number, end: number, headerFallback: string): string {
  const text = decodeUtf8(bytes, start, end);
  if (text.length === 0) return stringHeader(headers, headerFallback) ?? '';
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

/** Event types the gateway reads (§6.1, newer notes §5); any other is reported by {@link unknownEventType}. */
const KNOWN_EVENT_TYPES: ReadonlySet<string> = new Set([
  'assistantResponseEvent',
  'toolUseEvent',
  'contextUsageEvent',
  'meteringEvent',
  'reasoningContentEvent',
]);
const KNOWN_MESSAGE_TYPES: ReadonlySet<string> = new Set(['event', 'exception', 'error']);

/**
 * The type of a frame the gateway does not know — an event type outside §6.1, or a `:message-type`
 * other than event/exception/error (reported as `message-type:<name>`) — or undefined for a known one.
 */
export function unknownEventType(frame: Pick<Frame, 'headers'>): string | undefined {
  const messageType = stringHeader(frame.headers, ':message-type') ?? 'event';
  if (!KNOWN_MESSAGE_TYPES.has(messageType)) return `message-type:${messageType}`;
  if (messageType !== 'event') return undefined;
  const eventType = stringHeader(frame.headers, ':event-type') ?? '';
  return KNOWN_EVENT_TYPES.has(eventType) ? undefined : eventType;
}

/**
 * A frame that passed both CRCs but whose event cannot be read: an assistantResponseEvent or
 * toolUseEvent whose payload is not a JSON object, whose `content`/`input` is not a string, or a
 * toolUseEvent without `name`/`toolUseId`. Skipping it would silently drop part of the answer.
 */
export class EventPayloadError extends Error {
  constructor(
    readonly eventType: string,
    reason: string,
  ) {
    super(`undecodable ${eventType}: ${reason}`);
    this.name = 'EventPayloadError';
  }
}

/**
 * The event a frame carries, or undefined for frames the gateway ignores: unknown event types
 * (reported through `onUnknownEvent` by {@link kiroEventBatches}), and
 * contextUsage/metering events it cannot read (they carry no answer content; input tokens then come
 * from the local estimate). A missing `:message-type` means event.
 * Throws {@link EventPayloadError} for a content event (text, tool use) it cannot read.
 */
export function toKiroEvent(frame: Frame): KiroEvent | undefined {
  return kiroEventOf(frame.headers, frame.payload, 0, frame.payload.length);
}

/** {@link toKiroEvent} of a frame whose payload is `bytes[start..end)`. */
export function kiroEventOf(headers: Headers, bytes: Uint8Array, start: number, end: number): KiroEvent | undefined {
  const messageType = stringHeader(headers, ':message-type') ?? 'event';
  if (messageType === 'exception') {
    return {
      kind: 'exception',
      exceptionType: stringHeader(headers, ':exception-type') ?? 'UnknownException',
      message: messageOf(headers, bytes, start, end, ':error-message'),
    };
  }
  if (messageType === 'error') {
    return {
      kind: 'error',
      errorCode: stringHeader(headers, ':error-code') ?? 'UnknownError',
      message: messageOf(headers, bytes, start, end, ':error-message'),
    };
  }
  if (messageType !== 'event') return undefined;

  switch (stringHeader(headers, ':event-type')) {
    case 'assistantResponseEvent': {
      const plain = plainTextContent(bytes, start, end);
      if (plain !== undefined) return { kind: 'text', content: plain };
      const body = parseJsonObject(bytes, start, end);
      if (body === undefined) throw new EventPayloadError('assistantResponseEvent', 'payload is not a JSON object');
      if (body.content !== undefined && typeof body.content !== 'string') {
        throw new EventPayloadError('assistantResponseEvent', '`content` is not a string');
      }
      return { kind: 'text', content: body.content ?? '' };
    }
    case 'toolUseEvent': {
      const body = parseJsonObject(bytes, start, end);
      if (body === undefined) throw new EventPayloadError('toolUseEvent', 'payload is not a JSON object');
      if (typeof body.name !== 'string' || typeof body.toolUseId !== 'string') {
        throw new EventPayloadError('toolUseEvent', '`name` or `toolUseId` missing');
      }
      if (body.input !== undefined && typeof body.input !== 'string') throw new EventPayloadError('toolUseEvent', '`input` is not a string');
      return { kind: 'toolUse', toolUseId: body.toolUseId, name: body.name, input: body.input ?? '', stop: body.stop === true };
    }
    case 'contextUsageEvent': {
      const body = parseJsonObject(bytes, start, end);
      const percentage = body?.contextUsagePercentage;
      return typeof percentage === 'number' ? { kind: 'contextUsage', percentage } : undefined;
    }
    case 'meteringEvent': {
      const body = parseJsonObject(bytes, start, end);
      if (body === undefined) return undefined;
      return { kind: 'metering', usage: typeof body.usage === 'number' ? body.usage : undefined };
    }
    case 'reasoningContentEvent': {
      const body = parseJsonObject(bytes, start, end);
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
  /** Every frame of a type the gateway does not know (dropped): its type, never its payload. */
  onUnknownEvent?: (eventType: string) => void;
}

/** What one chunk decoded into: its events, and the fault that ended decoding, if any (after those events). */
interface DecodedChunk {
  events: KiroEvent[];
  fault?: unknown;
}

/**
 * Chunks of an upstream body in, Kiro events out, synchronously: the frame decoder (strict: a
 * skipped frame would be lost content) and {@link toKiroEvent}, for readers that are handed chunks
 * (kiro/upstream-stream.ts) as well as for {@link kiroEventBatches}.
 *
 * Nothing is skipped silently: a corrupt frame (either CRC, bad length, bad headers) is a
 * FrameError, an unreadable content event an EventPayloadError, and a body ending inside a frame
 * a FrameError `truncated` from `finish`. Events decoded before a fault come with it, so the
 * caller passes on what really arrived and then ends the answer as failed, never as complete. A
 * frame of an unknown type carries nothing the client can be given; it is dropped and reported
 * to `onUnknownEvent`.
 */
export class KiroEventDecoder {
  private readonly frames: FrameDecoder;
  /** The `decode` call in progress: its events, and the fault that stopped converting its frames. */
  private events: KiroEvent[] = [];
  private fault: unknown;

  constructor(private readonly opts: KiroEventBatchesOptions = {}) {
    this.frames = new FrameDecoder({ onError: opts.onFrameError, onFrame: opts.onFrame, strict: true });
  }

  /** The events `chunk` completes (often none), and the fault met after them, if any. */
  decode(chunk: Uint8Array): DecodedChunk {
    const events: KiroEvent[] = (this.events = []);
    this.fault = undefined;
    try {
      this.frames.pushEach(chunk, this.onFrame);
    } catch (fault) {
      return { events, fault };
    }
    return this.fault === undefined ? { events } : { events, fault: this.fault };
  }

  // Each frame read in place: no Frame object or payload view (about 0.1 µs and 150 bytes per event).
  private readonly onFrame = (headers: Headers, bytes: Uint8Array, start: number, end: number): void => {
    if (this.fault !== undefined) return;
    let event: KiroEvent | undefined;
    try {
      event = kiroEventOf(headers, bytes, start, end);
    } catch (fault) {
      this.fault = fault;
      return;
    }
    if (event !== undefined) this.events.push(event);
    else if (this.opts.onUnknownEvent) {
      const unknown = unknownEventType({ headers });
      if (unknown !== undefined) this.opts.onUnknownEvent(unknown);
    }
  };

  /** The body is over: throws FrameError `truncated` when it ended inside a frame (or the last fault). */
  finish(): void {
    this.frames.finish();
  }
}

/**
 * Decodes an upstream body into Kiro events, one non-empty batch per chunk that completes at least
 * one known event (see {@link KiroEventDecoder}); a fault is thrown after the events before it.
 *
 * @example
 * for await (const batch of kiroEventBatches(res.body, { onFrameError: countCrcError })) converter.push(batch);
 */
export async function* kiroEventBatches(
  source: AsyncIterable<Uint8Array>,
  opts: KiroEventBatchesOptions = {},
): AsyncGenerator<KiroEvent[]> {
  const decoder = new KiroEventDecoder(opts);
  for await (const chunk of source) {
    const { events, fault } = decoder.decode(chunk);
    if (events.length > 0) yield events;
    if (fault !== undefined) throw fault;
  }
  decoder.finish();
}
