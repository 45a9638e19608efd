import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { kiroEventBatches, toKiroEvent } from '../../src/kiro/events.js';
import { FrameDecoder, type FrameError } from '../../src/kiro/frames.js';
import type { KiroEvent } from '../../src/kiro/types.js';
import { createSimulator, simScript, type Script, type Simulator } from '../../src/simulator/index.js';
import { accessToken, generate, joinChunks, kiroBody, oracleDecode, readChunks } from './helpers.js';

let sim: Simulator;
let token: string;

beforeAll(async () => {
  sim = await createSimulator();
});
afterAll(() => sim.close());
beforeEach(async () => {
  sim.reset();
  token = await accessToken(sim);
});

const scripted = (script: Script, signal?: AbortSignal) => generate(sim, token, kiroBody(`Do it ${simScript(script)}`), signal);

async function scriptedBytes(script: Script): Promise<{ chunks: Uint8Array[]; bytes: Uint8Array }> {
  const res = await scripted(script);
  expect(res.statusCode).toBe(200);
  const chunks = await readChunks(res.body);
  return { chunks, bytes: joinChunks(chunks) };
}

/** Decodes with our decoder, collecting events and recoverable errors. */
function ourEvents(bytes: Uint8Array): { events: KiroEvent[]; errors: FrameError[] } {
  const errors: FrameError[] = [];
  const decoder = new FrameDecoder({ onError: (e) => errors.push(e) });
  const frames = decoder.push(bytes);
  decoder.finish();
  return { events: frames.map((f) => toKiroEvent(f)).filter((e): e is KiroEvent => e !== undefined), errors };
}

const waitFor = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('scripted events', () => {
  it('emits text, thinking, tool use, usage, exception, error and custom events as scripted', async () => {
    const { bytes } = await scriptedBytes({
      events: [
        { thinking: 'Let me think.' },
        { text: 'Hello world', fragments: 2 },
        { toolUse: { name: 'Write', id: 'tooluse_fixed', input: { path: 'a.txt', content: 'hi' }, fragments: 3 } },
        { toolUse: { name: 'Read', id: 'tooluse_one', input: '{"path":"b"}' } },
        { event: { type: 'messageMetadataEvent', payload: { conversationId: 'c' } } },
        { contextUsage: 42.5 },
        { metering: 0.5 },
        { exception: { type: 'ThrottlingException', message: 'slow down' } },
        { error: { code: 'InternalError', message: 'boom' } },
      ],
    });
    const events = oracleDecode(bytes);
    expect(events.map((e) => `${e.messageType}:${e.type}`)).toEqual([
      'event:assistantResponseEvent',
      'event:assistantResponseEvent',
      'event:assistantResponseEvent',
      'event:toolUseEvent',
      'event:toolUseEvent',
      'event:toolUseEvent',
      'event:toolUseEvent',
      'event:toolUseEvent',
      'event:messageMetadataEvent',
      'event:contextUsageEvent',
      'event:meteringEvent',
      'exception:ThrottlingException',
      'error:InternalError',
    ]);
    expect(events[0].payload.content).toBe('<thinking>\nLet me think.\n</thinking>\n\n');
    expect(events[1].payload.content + events[2].payload.content).toBe('Hello world');
    const write = events.slice(3, 7).map((e) => e.payload);
    expect(write.slice(0, 3).every((p) => p.toolUseId === 'tooluse_fixed' && p.name === 'Write' && p.stop === false)).toBe(true);
    expect(JSON.parse(write.slice(0, 3).map((p) => p.input).join(''))).toEqual({ path: 'a.txt', content: 'hi' });
    expect(write[3]).toEqual({ name: 'Write', toolUseId: 'tooluse_fixed', stop: true });
    expect(events[7].payload).toEqual({ name: 'Read', toolUseId: 'tooluse_one', input: '{"path":"b"}', stop: true });
    expect(events[9].payload).toEqual({ contextUsagePercentage: 42.5 });
    expect(events[11].payload).toEqual({ message: 'slow down' });
  });

  it('appends contextUsage and metering after the events unless the script has its own or says usage: false', async () => {
    const types = async (script: Script) => oracleDecode((await scriptedBytes(script)).bytes).map((e) => e.type);
    expect(await types({ events: [{ text: 'a' }] })).toEqual(['assistantResponseEvent', 'contextUsageEvent', 'meteringEvent']);
    expect(await types({ events: [{ text: 'a' }, { contextUsage: 100 }] })).toEqual(['assistantResponseEvent', 'contextUsageEvent']);
    expect(await types({ events: [{ text: 'a' }], usage: false })).toEqual(['assistantResponseEvent']);
  });

  it('repeats a text event `repeat` times over, each copy split into its fragments', async () => {
    const events = oracleDecode((await scriptedBytes({ events: [{ text: 'abcd', fragments: 2, repeat: 3 }], usage: false })).bytes);
    expect(events.map((e) => e.payload.content)).toEqual(['ab', 'cd', 'ab', 'cd', 'ab', 'cd']);
    const res = await generate(sim, token, kiroBody('<sim>{"events": [{"text": "a", "repeat": 0}]}</sim>'));
    expect(res.statusCode).toBe(400);
    expect(((await res.body.json()) as { message: string }).message).toContain('events[0].repeat');
  });

  it('generates Kiro-looking tool use ids when the script gives none', async () => {
    const events = oracleDecode((await scriptedBytes({ events: [{ toolUse: { name: 'Read', input: {} } }] })).bytes);
    expect(events[0].payload.toolUseId).toMatch(/^tooluse_[A-Za-z0-9]{22}$/);
  });

  it('answers with the scripted HTTP status and body instead of a stream', async () => {
    const res = await scripted({ status: 400, body: { message: 'Improperly formed request.', reason: 'REQUEST_BODY_INVALID' } });
    expect(res.statusCode).toBe(400);
    expect(await res.body.json()).toEqual({ message: 'Improperly formed request.', reason: 'REQUEST_BODY_INVALID' });
    const text = await scripted({ status: 502, body: 'upstream said no' });
    expect(text.statusCode).toBe(502);
    expect(await text.body.text()).toBe('upstream said no');
  });

  it('answers 400 naming the problem when the script is malformed', async () => {
    const res = await generate(sim, token, kiroBody('<sim>{"events": [{"nope": 1}]}</sim>'));
    expect(res.statusCode).toBe(400);
    const body = (await res.body.json()) as { message: string; reason: string };
    expect(body.reason).toBe('SIMULATOR_SCRIPT');
    expect(body.message).toContain('events[0]');
  });

  it('paces frames by chunkDelayMs and delays the head by firstByteLatencyMs', async () => {
    const started = Date.now();
    const res = await scripted({ events: [{ text: 'abc', fragments: 3 }], usage: false, chunkDelayMs: 30, firstByteLatencyMs: 50 });
    const headAt = Date.now() - started;
    const chunks = await readChunks(res.body);
    const total = Date.now() - started;
    expect(headAt).toBeGreaterThanOrEqual(45);
    expect(total).toBeGreaterThanOrEqual(45 + 2 * 28);
    expect(chunks.length).toBe(3);
  });

  it('splits frames across chunks at awkward boundaries with splitFrames, still decodable', async () => {
    const { chunks, bytes } = await scriptedBytes({ events: [{ text: 'one' }, { text: 'two' }], usage: false, splitFrames: true });
    expect(chunks.length).toBeGreaterThan(4);
    expect(chunks.some((c) => c.length < 4)).toBe(true);
    expect(oracleDecode(bytes).map((e) => e.payload.content)).toEqual(['one', 'two']);
  });
});

describe('faults', () => {
  it('cut/destroy: sends the first frames and half of the next, then kills the connection', async () => {
    const res = await scripted({ events: [{ text: 'a' }, { text: 'b' }, { text: 'c' }], fault: { kind: 'cut', afterFrames: 2 } });
    const chunks: Uint8Array[] = [];
    await expect(
      (async () => {
        for await (const c of res.body) chunks.push(new Uint8Array(c));
      })(),
    ).rejects.toThrow();
    const decoder = new FrameDecoder();
    expect(decoder.push(joinChunks(chunks))).toHaveLength(2);
    expect(decoder.bufferedBytes).toBeGreaterThan(0);
    await waitFor(() => sim.stats.streamsInFlight === 0);
    expect(sim.stats.streamsAborted).toBe(0);
  });

  it('cut/end: ends the body cleanly mid-frame, so the decoder reports truncated', async () => {
    const res = await scripted({ events: [{ text: 'a' }, { text: 'b' }], fault: { kind: 'cut', afterFrames: 1, mode: 'end' } });
    const seen: KiroEvent[] = [];
    await expect(
      (async () => {
        for await (const batch of kiroEventBatches(res.body)) seen.push(...batch);
      })(),
    ).rejects.toMatchObject({ code: 'truncated' });
    expect(seen).toEqual([{ kind: 'text', content: 'a' }]);
  });

  it.each([
    ['bad-prelude-crc', 'prelude_crc'],
    ['bad-message-crc', 'message_crc'],
  ] as const)('%s: inserts one corrupt frame that the decoder skips, keeping every real event', async (kind, code) => {
    const { bytes } = await scriptedBytes({ events: [{ text: 'a' }, { text: 'b' }], usage: false, fault: { kind, afterFrames: 1 } });
    const { events, errors } = ourEvents(bytes);
    expect(errors.map((e) => e.code)).toEqual([code]);
    expect(events).toEqual([
      { kind: 'text', content: 'a' },
      { kind: 'text', content: 'b' },
    ]);
  });

  it('stall: sends the first frames then nothing; a client abort is counted as an aborted stream', async () => {
    const ac = new AbortController();
    const res = await scripted({ events: [{ text: 'a' }, { text: 'b' }], fault: { kind: 'stall', afterFrames: 1 } }, ac.signal);
    const iterator = res.body[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(new FrameDecoder().push(new Uint8Array(first.value))).toHaveLength(1);
    const next = iterator.next();
    const raced = await Promise.race([next.then(() => 'data'), new Promise((r) => setTimeout(() => r('silent'), 100))]);
    expect(raced).toBe('silent');
    expect(sim.stats.streamsInFlight).toBe(1);
    ac.abort();
    await next.catch(() => {});
    await waitFor(() => sim.stats.streamsAborted === 1);
    expect(sim.stats.streamsInFlight).toBe(0);
  });

  it('reset: destroys the socket before any response', async () => {
    await expect(scripted({ fault: { kind: 'reset' } })).rejects.toThrow();
    expect(sim.stats.requests.at(-1)?.status).toBe(0);
  });

  it('truncated-tool-use: tool fragments stop mid-JSON, with no stop, no usage, then ContentLengthExceededException', async () => {
    const { bytes } = await scriptedBytes({
      events: [{ text: 'Writing the file.' }],
      fault: { kind: 'truncated-tool-use', fragments: 3 },
    });
    const events = oracleDecode(bytes);
    expect(events.map((e) => e.type)).toEqual([
      'assistantResponseEvent',
      'toolUseEvent',
      'toolUseEvent',
      'toolUseEvent',
      'ContentLengthExceededException',
    ]);
    const tools = events.slice(1, 4).map((e) => e.payload);
    expect(tools.every((p) => p.name === 'Write' && p.stop === false)).toBe(true);
    const json = tools.map((p) => p.input).join('');
    expect(json.startsWith('{"file_path":')).toBe(true);
    expect(() => JSON.parse(json)).toThrow();
    const quiet = oracleDecode((await scriptedBytes({ fault: { kind: 'truncated-tool-use', exception: false } })).bytes);
    expect(quiet.at(-1)?.type).toBe('toolUseEvent');
  });
});

describe('client disconnects', () => {
  it('counts a stream the client abandons mid-way as aborted, not completed', async () => {
    const ac = new AbortController();
    const res = await scripted({ events: [{ text: 'x', fragments: 1 }, { text: 'y' }, { text: 'z' }], chunkDelayMs: 200 }, ac.signal);
    const iterator = res.body[Symbol.asyncIterator]();
    await iterator.next();
    ac.abort();
    await iterator.next().catch(() => {});
    await waitFor(() => sim.stats.streamsAborted === 1);
    expect(sim.stats).toMatchObject({ streamsInFlight: 0, streamsCompleted: 0, streamsAborted: 1 });
  });
});
