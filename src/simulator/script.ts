/**
 * Per-request scripting: a test puts `<sim>{…json…}</sim>` in the user message text
 * (`currentMessage.userInputMessage.content`) and the simulator answers as the Script says.
 *
 * @example
 * const prompt = `Write it ${simScript({ events: [{ text: 'Sure.' }, { toolUse: { name: 'Write', input: { path: 'a' }, fragments: 3 } }] })}`;
 */

/** One thing to emit. Each `ScriptEvent` becomes one or more frames (`fragments`). */
export type ScriptEvent =
  /**
   * assistantResponseEvent(s) carrying `text`, split into `fragments` pieces (default 1); with
   * `repeat`, all of that `repeat` times over (a long answer without a long request).
   */
  | { text: string; fragments?: number; repeat?: number }
  /** Reasoning, emitted inline as text `<thinking>\n…\n</thinking>\n\n`, the way Kiro does. */
  | { thinking: string; fragments?: number }
  /**
   * A tool call. `input` (an object, or a raw string sent as is) is split into `fragments`
   * toolUseEvents (default 1). With one fragment and `stop` (default true) a single event carries the
   * whole input and `stop: true`; with more, a final `{stop: true}` event without input follows.
   * `id` defaults to a random `tooluse_…`.
   */
  | { toolUse: { name: string; input?: unknown; id?: string; fragments?: number; stop?: boolean } }
  /**
   * reasoningContentEvent(s) (Opus 4.8 / Sonnet 5): `{text}` deltas in `fragments` pieces, then one
   * `{signature}` frame when `signature` is given.
   */
  | { reasoning: string; signature?: string; fragments?: number }
  /** contextUsageEvent with this `contextUsagePercentage`. */
  | { contextUsage: number }
  /** meteringEvent with this `usage` (credits). */
  | { metering: number }
  /** An exception frame (`:message-type: exception`), e.g. ContentLengthExceededException. */
  | { exception: { type: string; message: string } }
  /** An error frame (`:message-type: error`). */
  | { error: { code: string; message: string } }
  /** Any other event type with this JSON payload (e.g. an unknown one the gateway must ignore). */
  | { event: { type: string; payload: unknown } };

/** Something going wrong on the wire. `afterFrames` counts frames already sent, usage frames included. */
export type ScriptFault =
  /**
   * Send `afterFrames` frames, then half of the next one, then close: `destroy` (default) kills the
   * socket (the client sees a network error), `end` finishes the HTTP response cleanly (the client
   * sees a body that stops mid-frame).
   */
  | { kind: 'cut'; afterFrames: number; mode?: 'destroy' | 'end' }
  /** Insert a corrupt text frame (prelude CRC wrong) after `afterFrames` frames, then carry on. */
  | { kind: 'bad-prelude-crc'; afterFrames: number }
  /** Insert a text frame whose message CRC is wrong after `afterFrames` frames, then carry on. */
  | { kind: 'bad-message-crc'; afterFrames: number }
  /** Send `afterFrames` frames, then nothing, never closing (until the client gives up). */
  | { kind: 'stall'; afterFrames: number }
  /** Destroy the socket before any response. */
  | { kind: 'reset' }
  /**
   * Kiro's long-output cut (§12.1): after the events, a tool call whose fragments stop mid-JSON, with
   * no `stop: true` and no contextUsageEvent/meteringEvent, then (if `exception`, default true) a
   * ContentLengthExceededException frame. `keepFraction` (default 0.5) of the input JSON is sent in
   * `fragments` pieces (default 4). Defaults: name `Write`, a large file-writing input.
   */
  | {
      kind: 'truncated-tool-use';
      name?: string;
      input?: unknown;
      id?: string;
      fragments?: number;
      keepFraction?: number;
      exception?: boolean;
    };

/** What the simulator does with one generateAssistantResponse request. */
export interface Script {
  /** Frames to emit, in order. Default: the simulator's default reply text. */
  events?: ScriptEvent[];
  /**
   * Append a contextUsageEvent (derived from the request size) and a meteringEvent after the events,
   * as Kiro does. Default: true unless `events` already has a contextUsage or metering event.
   */
  usage?: boolean;
  /** Answer with this HTTP status instead of a stream (also applies to `/mcp`). */
  status?: number;
  /** Body of the `status` answer: a string is sent as is, anything else as JSON. */
  body?: unknown;
  /** Extra response headers of the `status` answer. */
  headers?: Record<string, string>;
  fault?: ScriptFault;
  /** Overrides the simulator's `chunkDelayMs` for this request. */
  chunkDelayMs?: number;
  /** Overrides the simulator's `firstByteLatencyMs` for this request. */
  firstByteLatencyMs?: number;
  /**
   * Write every frame in several TCP writes, cut inside the length prefix, the prelude CRC, the
   * headers and the payload, with `chunkDelayMs` (at least 1 ms) between writes.
   */
  splitFrames?: boolean;
}

const OPEN = '<sim>';
const CLOSE = '</sim>';

/** Wraps a script for embedding in a user message. */
export function simScript(script: Script): string {
  return `${OPEN}${JSON.stringify(script)}${CLOSE}`;
}

/** A `<sim>` block that is not a valid Script; answered 400 so the test author sees why. */
export class ScriptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScriptError';
  }
}

/** The script embedded in `content`, or undefined if there is none. Throws ScriptError if malformed. */
export function extractScript(content: string): Script | undefined {
  const start = content.indexOf(OPEN);
  if (start < 0) return undefined;
  const end = content.indexOf(CLOSE, start + OPEN.length);
  if (end < 0) throw new ScriptError(`${OPEN} without ${CLOSE}`);
  let value: unknown;
  try {
    value = JSON.parse(content.slice(start + OPEN.length, end));
  } catch (err) {
    throw new ScriptError(`script is not JSON: ${(err as Error).message}`);
  }
  checkScript(value);
  return value;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): boolean => v === undefined || (Number.isInteger(v) && (v as number) >= 0);
const FAULT_KINDS = new Set(['cut', 'bad-prelude-crc', 'bad-message-crc', 'stall', 'reset', 'truncated-tool-use']);

function checkScript(value: unknown): asserts value is Script {
  if (!isObject(value)) throw new ScriptError('script must be a JSON object');
  const { events, status, fault } = value;
  if (events !== undefined) {
    if (!Array.isArray(events)) throw new ScriptError('events must be an array');
    events.forEach((e, i) => checkEvent(e, i));
  }
  if (status !== undefined && !(Number.isInteger(status) && (status as number) >= 100 && (status as number) <= 599)) {
    throw new ScriptError('status must be an HTTP status code');
  }
  for (const key of ['chunkDelayMs', 'firstByteLatencyMs'] as const) {
    if (value[key] !== undefined && !(typeof value[key] === 'number' && value[key] >= 0)) {
      throw new ScriptError(`${key} must be a non-negative number`);
    }
  }
  if (fault !== undefined) {
    if (!isObject(fault) || !FAULT_KINDS.has(fault.kind as string)) {
      throw new ScriptError(`fault.kind must be one of ${[...FAULT_KINDS].join(', ')}`);
    }
    const needsAfter = fault.kind !== 'reset' && fault.kind !== 'truncated-tool-use';
    if (needsAfter && !(Number.isInteger(fault.afterFrames) && (fault.afterFrames as number) >= 0)) {
      throw new ScriptError(`fault ${String(fault.kind)} needs afterFrames (a non-negative integer)`);
    }
    if (fault.kind === 'truncated-tool-use') {
      const keep = fault.keepFraction;
      if (keep !== undefined && !(typeof keep === 'number' && keep >= 0 && keep < 1)) {
        throw new ScriptError('keepFraction must be in [0, 1)');
      }
      if (!isCount(fault.fragments) || fault.fragments === 0) throw new ScriptError('fragments must be a positive integer');
    }
  }
}

function checkEvent(e: unknown, i: number): void {
  const where = `events[${i}]`;
  if (!isObject(e)) throw new ScriptError(`${where} must be an object`);
  if ((e.fragments !== undefined && !isCount(e.fragments)) || e.fragments === 0) {
    throw new ScriptError(`${where}.fragments must be a positive integer`);
  }
  if (typeof e.text === 'string') {
    if (!isCount(e.repeat) || e.repeat === 0) throw new ScriptError(`${where}.repeat must be a positive integer`);
    return;
  }
  if (typeof e.thinking === 'string') return;
  if (typeof e.reasoning === 'string' && (e.signature === undefined || typeof e.signature === 'string')) return;
  if (typeof e.contextUsage === 'number' || typeof e.metering === 'number') return;
  if (isObject(e.toolUse)) {
    const t = e.toolUse;
    if (typeof t.name !== 'string') throw new ScriptError(`${where}.toolUse.name must be a string`);
    if (t.id !== undefined && typeof t.id !== 'string') throw new ScriptError(`${where}.toolUse.id must be a string`);
    if (!isCount(t.fragments) || t.fragments === 0) throw new ScriptError(`${where}.toolUse.fragments must be a positive integer`);
    return;
  }
  if (isObject(e.exception) && typeof e.exception.type === 'string' && typeof e.exception.message === 'string') return;
  if (isObject(e.error) && typeof e.error.code === 'string' && typeof e.error.message === 'string') return;
  if (isObject(e.event) && typeof e.event.type === 'string') return;
  throw new ScriptError(
    `${where} must be one of {text}, {thinking}, {reasoning}, {toolUse}, {contextUsage}, {metering}, {exception}, {error}, {event}`,
  );
}
