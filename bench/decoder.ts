/**
 * Event-stream decoding throughput: the gateway's FrameDecoder vs @smithy/eventstream-codec (the
 * AWS SDK's codec) on the same bytes: a realistic Kiro answer (assistantResponseEvent text chunks, a
 * tool call in fragments, usage events) repeated. The gateway decoder gets 16 KiB chunks as a socket
 * delivers them and does framing + CRCs + headers; smithy's codec decodes whole messages only (in the
 * SDK, getChunkedStream splits the bytes first, with its own copies), so it gets the messages already
 * split, outside the timing: a comparison in smithy's favour. Both must decode the same number of
 * frames; MB/s is wire bytes over wall time, best of N rounds.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { encodeEventFrame } from '../src/kiro/encoder.js';
import { FrameDecoder } from '../src/kiro/frames.js';

export interface DecoderResult {
  bytes: number;
  frames: number;
  chunkBytes: number;
  gatewayMBps: number;
  smithyMBps: number;
  ratio: number;
}

function answerFrames(): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < 60; i++) frames.push(encodeEventFrame('assistantResponseEvent', { content: `token ${i} of a streamed answer, `.repeat(1 + (i % 3)) }));
  for (let i = 0; i < 8; i++) frames.push(encodeEventFrame('toolUseEvent', { name: 'Write', toolUseId: 'tooluse_bench', input: `{"path":"src/x${i}.ts","content":"${'x'.repeat(200)}` }));
  frames.push(encodeEventFrame('toolUseEvent', { name: 'Write', toolUseId: 'tooluse_bench', stop: true }));
  frames.push(encodeEventFrame('contextUsageEvent', { contextUsagePercentage: 12.5 }));
  frames.push(encodeEventFrame('meteringEvent', { unit: 'credit', unitPlural: 'credits', usage: 0.25 }));
  return frames;
}

function concat(parts: Uint8Array[], times: number): Uint8Array {
  const one = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(one * times);
  let at = 0;
  for (let t = 0; t < times; t++) for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}

function chunks(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, Math.min(bytes.length, i + size)));
  return out;
}

function timeBest(rounds: number, run: () => number): { ms: number; frames: number } {
  let best = Number.POSITIVE_INFINITY;
  let frames = 0;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    frames = run();
    best = Math.min(best, performance.now() - t);
  }
  return { ms: best, frames };
}

export function benchDecoder(opts: { megabytes?: number; chunkBytes?: number; rounds?: number } = {}): DecoderResult {
  const parts = answerFrames();
  const oneAnswer = parts.reduce((s, p) => s + p.length, 0);
  const times = Math.ceil(((opts.megabytes ?? 32) * 1e6) / oneAnswer);
  const stream = concat(parts, times);
  const chunkBytes = opts.chunkBytes ?? 16 * 1024;
  const input = chunks(stream, chunkBytes);
  const rounds = opts.rounds ?? 5;

  const ours = timeBest(rounds, () => {
    const d = new FrameDecoder();
    let n = 0;
    for (const c of input) n += d.push(c).length;
    d.finish();
    return n;
  });
  const messages: Uint8Array[] = [];
  for (let at = 0; at < stream.length; ) {
    const length = new DataView(stream.buffer, stream.byteOffset + at, 4).getUint32(0);
    messages.push(stream.subarray(at, at + length));
    at += length;
  }
  const theirs = timeBest(rounds, () => {
    const codec = new EventStreamCodec(toUtf8, fromUtf8);
    let n = 0;
    for (const m of messages) n += codec.decode(m).body.length >= 0 ? 1 : 0;
    return n;
  });
  if (ours.frames !== theirs.frames || ours.frames !== parts.length * times) {
    throw new Error(`decoders disagree: gateway ${ours.frames} frames, smithy ${theirs.frames}, expected ${parts.length * times}`);
  }
  const mbps = (ms: number) => stream.length / 1e6 / (ms / 1000);
  return {
    bytes: stream.length,
    frames: ours.frames,
    chunkBytes,
    gatewayMBps: mbps(ours.ms),
    smithyMBps: mbps(theirs.ms),
    ratio: mbps(ours.ms) / mbps(theirs.ms),
  };
}
