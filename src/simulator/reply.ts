/**
 * What the simulator answers to generateAssistantResponse: the default reply (encoded once) or the
 * frames a Script asks for, with its faults applied.
 */
import { randomBytes } from 'node:crypto';
import { encodeErrorFrame, encodeEventFrame, encodeExceptionFrame } from '../kiro/encoder.js';
import { CHECKSUM_LENGTH, PRELUDE_LENGTH } from '../kiro/frames.js';
import type { Script, ScriptEvent, ScriptFault } from './script.js';

/** Frames to stream and how the stream ends. */
export interface StreamPlan {
  frames: Uint8Array[];
  ending: { kind: 'end' } | { kind: 'stall' } | { kind: 'cut'; partial: Uint8Array; mode: 'destroy' | 'end' };
  chunkDelayMs: number;
  firstByteLatencyMs: number;
  splitFrames: boolean;
}

/** The simulator's answer to one request. */
export type Reply =
  | { kind: 'stream'; plan: StreamPlan }
  | { kind: 'http'; status: number; body: string; headers: Record<string, string>; firstByteLatencyMs: number }
  | { kind: 'reset' };

/** Context window of a Kiro model id, as the gateway computes input tokens from it (§6.1). */
export function contextWindow(modelId: string): number {
  return modelId.includes('4.6') || modelId.includes('4-6') ? 1_000_000 : 200_000;
}

/** contextUsagePercentage for a request of this size: ~4 bytes per token, 3 decimals. */
export function contextUsageFor(bodyBytes: number, modelId: string): number {
  return Math.round(((bodyBytes / 4) * 100 * 1000) / contextWindow(modelId)) / 1000;
}

/** Splits text into exactly `n` pieces by code point (the last ones may be empty for short texts). */
export function splitText(text: string, n: number): string[] {
  const chars = Array.from(text);
  const pieces: string[] = [];
  for (let i = 0; i < n; i++) {
    pieces.push(chars.slice(Math.floor((i * chars.length) / n), Math.floor(((i + 1) * chars.length) / n)).join(''));
  }
  return pieces;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A Kiro-looking tool use id: `tooluse_` + 22 alphanumerics. */
export function newToolUseId(): string {
  let id = 'tooluse_';
  for (const b of randomBytes(22)) id += ALPHANUMERIC[b % ALPHANUMERIC.length];
  return id;
}

const DEFAULT_METERING = 0.0123;
const METERING_PAYLOAD = (usage: number) => ({ unit: 'credit', unitPlural: 'credits', usage });
const CACHE_LIMIT = 1024;

function concat(parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

/** Builds replies; the default one is encoded once and cached per context-usage value. */
export class ReplyBuilder {
  private readonly defaultTextFrames: Uint8Array[];
  private readonly meteringFrame: Uint8Array;
  private readonly defaultBodies = new Map<number, Buffer>();
  private readonly contextUsageFrames = new Map<number, Uint8Array>();

  constructor(
    defaultText: string,
    defaultChunks: number,
    private readonly timing: { chunkDelayMs: number; firstByteLatencyMs: number },
  ) {
    this.defaultTextFrames = splitText(defaultText, Math.max(1, defaultChunks)).map((content) =>
      encodeEventFrame('assistantResponseEvent', { content }),
    );
    this.meteringFrame = encodeEventFrame('meteringEvent', METERING_PAYLOAD(DEFAULT_METERING));
  }

  private contextUsageFrame(percentage: number): Uint8Array {
    let frame = this.contextUsageFrames.get(percentage);
    if (frame === undefined) {
      frame = encodeEventFrame('contextUsageEvent', { contextUsagePercentage: percentage });
      if (this.contextUsageFrames.size < CACHE_LIMIT) this.contextUsageFrames.set(percentage, frame);
    }
    return frame;
  }

  /** Frames of the default reply: the text, then contextUsage, then metering. */
  defaultFrames(percentage: number): Uint8Array[] {
    return [...this.defaultTextFrames, this.contextUsageFrame(percentage), this.meteringFrame];
  }

  /** The whole default reply as one buffer, for answering without delays in a single write. */
  defaultBody(percentage: number): Buffer {
    let body = this.defaultBodies.get(percentage);
    if (body === undefined) {
      body = concat(this.defaultFrames(percentage));
      if (this.defaultBodies.size < CACHE_LIMIT) this.defaultBodies.set(percentage, body);
    }
    return body;
  }

  /** The default reply as a stream plan (used when there are delays to honour). */
  defaultPlan(percentage: number): StreamPlan {
    return {
      frames: this.defaultFrames(percentage),
      ending: { kind: 'end' },
      chunkDelayMs: this.timing.chunkDelayMs,
      firstByteLatencyMs: this.timing.firstByteLatencyMs,
      splitFrames: false,
    };
  }

  /** Turns a script into a reply; `percentage` is the derived context usage for the usage frames. */
  compile(script: Script, percentage: number): Reply {
    const firstByteLatencyMs = script.firstByteLatencyMs ?? this.timing.firstByteLatencyMs;
    if (script.fault?.kind === 'reset') return { kind: 'reset' };
    if (script.status !== undefined) {
      const body =
        typeof script.body === 'string'
          ? script.body
          : JSON.stringify(script.body ?? { message: `Simulated ${script.status}`, reason: null });
      return { kind: 'http', status: script.status, body, headers: script.headers ?? {}, firstByteLatencyMs };
    }

    const fault = script.fault;
    const frames: Uint8Array[] = script.events ? script.events.flatMap(eventFrames) : [...this.defaultTextFrames];
    const truncated = fault?.kind === 'truncated-tool-use';
    if (truncated) frames.push(...truncatedToolUseFrames(fault));
    const hasUsage = script.events?.some((e) => 'contextUsage' in e || 'metering' in e) ?? false;
    if (!truncated && (script.usage ?? !hasUsage)) frames.push(this.contextUsageFrame(percentage), this.meteringFrame);

    const plan: StreamPlan = {
      frames,
      ending: { kind: 'end' },
      chunkDelayMs: script.chunkDelayMs ?? this.timing.chunkDelayMs,
      firstByteLatencyMs,
      splitFrames: script.splitFrames ?? false,
    };
    if (fault) applyFault(plan, fault);
    return { kind: 'stream', plan };
  }
}

function textFrames(text: string, fragments = 1): Uint8Array[] {
  return splitText(text, fragments).map((content) => encodeEventFrame('assistantResponseEvent', { content }));
}

function eventFrames(e: ScriptEvent): Uint8Array[] {
  if ('text' in e) {
    const once = textFrames(e.text, e.fragments);
    // The same encoded frames again: cheap, however long the answer.
    return e.repeat === undefined ? once : Array.from({ length: e.repeat }, () => once).flat();
  }
  if ('thinking' in e) return textFrames(`<thinking>\n${e.thinking}\n</thinking>\n\n`, e.fragments);
  if ('toolUse' in e) {
    const { name, input, fragments = 1, stop = true } = e.toolUse;
    const toolUseId = e.toolUse.id ?? newToolUseId();
    const json = typeof input === 'string' ? input : JSON.stringify(input ?? {});
    if (fragments === 1) return [encodeEventFrame('toolUseEvent', { name, toolUseId, input: json, stop })];
    const frames = splitText(json, fragments).map((piece) =>
      encodeEventFrame('toolUseEvent', { name, toolUseId, input: piece, stop: false }),
    );
    if (stop) frames.push(encodeEventFrame('toolUseEvent', { name, toolUseId, stop: true }));
    return frames;
  }
  if ('reasoning' in e) {
    // Kiro's separate reasoning channel (newer notes §5): text deltas, then the signature alone.
    const frames = splitText(e.reasoning, e.fragments ?? 1).map((text) => encodeEventFrame('reasoningContentEvent', { text }));
    if (e.signature !== undefined) frames.push(encodeEventFrame('reasoningContentEvent', { signature: e.signature }));
    return frames;
  }
  if ('contextUsage' in e) return [encodeEventFrame('contextUsageEvent', { contextUsagePercentage: e.contextUsage })];
  if ('metering' in e) return [encodeEventFrame('meteringEvent', METERING_PAYLOAD(e.metering))];
  if ('exception' in e) return [encodeExceptionFrame(e.exception.type, e.exception.message)];
  if ('error' in e) return [encodeErrorFrame(e.error.code, e.error.message)];
  return [encodeEventFrame(e.event.type, e.event.payload)];
}

/** A big Write call, like the ones Kiro cuts off (§12.1). */
function defaultTruncatedInput(): unknown {
  const lines = Array.from({ length: 400 }, (_, i) => `export const line${i} = ${i}; // generated by the Kiro simulator`);
  return { file_path: '/tmp/kiro-simulator/large-file.ts', content: lines.join('\n') };
}

function truncatedToolUseFrames(fault: Extract<ScriptFault, { kind: 'truncated-tool-use' }>): Uint8Array[] {
  const name = fault.name ?? 'Write';
  const toolUseId = fault.id ?? newToolUseId();
  const input = fault.input ?? defaultTruncatedInput();
  const json = typeof input === 'string' ? input : JSON.stringify(input);
  const kept = json.slice(0, Math.max(1, Math.floor(json.length * (fault.keepFraction ?? 0.5))));
  const frames = splitText(kept, fault.fragments ?? 4).map((piece) =>
    encodeEventFrame('toolUseEvent', { name, toolUseId, input: piece, stop: false }),
  );
  if (fault.exception ?? true) {
    frames.push(encodeExceptionFrame('ContentLengthExceededException', 'Response exceeded the maximum allowed length.'));
  }
  return frames;
}

function corruptFrame(kind: 'bad-prelude-crc' | 'bad-message-crc'): Uint8Array {
  const frame = encodeEventFrame('assistantResponseEvent', { content: `[simulator: this frame has a ${kind}]` });
  // Flip a bit of the checksum itself, so the rest of the frame is intact.
  frame[kind === 'bad-prelude-crc' ? PRELUDE_LENGTH : frame.length - CHECKSUM_LENGTH] ^= 0x01;
  return frame;
}

function applyFault(plan: StreamPlan, fault: ScriptFault): void {
  switch (fault.kind) {
    case 'bad-prelude-crc':
    case 'bad-message-crc':
      plan.frames.splice(Math.min(fault.afterFrames, plan.frames.length), 0, corruptFrame(fault.kind));
      break;
    case 'stall':
      plan.frames = plan.frames.slice(0, fault.afterFrames);
      plan.ending = { kind: 'stall' };
      break;
    case 'cut': {
      const next = plan.frames[fault.afterFrames] ?? encodeEventFrame('assistantResponseEvent', { content: 'cut here' });
      plan.frames = plan.frames.slice(0, fault.afterFrames);
      plan.ending = { kind: 'cut', partial: next.subarray(0, Math.max(1, next.length >> 1)), mode: fault.mode ?? 'destroy' };
      break;
    }
    case 'reset':
    case 'truncated-tool-use':
      break;
  }
}
