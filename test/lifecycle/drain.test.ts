/**
 * SIGTERM on the real process (`node dist/src/main.js`) with 100 slow streams open: readiness turns
 * 503 first (seen over a keep-alive connection opened before the signal, while the listener stays
 * open for KIRO_SHUTDOWN_READINESS_DELAY_MS), every stream then either completes with message_stop
 * or, when the grace period is shorter than the streams, ends with a clean SSE `error` event —
 * never a cut connection or a half-written event — and the process exits 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { createSimulator, simScript, type Script, type Simulator } from '../../src/simulator/index.js';
import { API_KEY, refreshTokenFor, writeCredentials } from '../helpers/stack.js';
import { startReplica, type Replica } from '../helpers/replicas.js';
import { parseSse, type SseRecord } from '../e2e/sse.js';

const STREAMS = 100;
const MODEL = 'claude-sonnet-4-6';
const RT = refreshTokenFor('drain');

/** `events` text events `delayMs` apart (plus the two usage frames): a stream of about (events + 2) × delayMs. */
const slow = (events: number, delayMs: number): Script => ({
  events: Array.from({ length: events }, (_, i) => ({ text: `part${i} ` })),
  chunkDelayMs: delayMs,
});

interface StreamResult {
  status: number;
  /** The body, read to its end; undefined when the connection was cut. */
  text?: string;
  error?: unknown;
  records?: SseRecord[];
  endedAt: number;
}

let sim: Simulator;
let credentialsPath: string;

beforeAll(async () => {
  sim = await createSimulator();
  credentialsPath = writeCredentials([{ refreshToken: RT, authMethod: 'social' }]);
});
afterAll(async () => {
  await sim?.close();
});

/** Starts `STREAMS` streaming requests; resolves once every one has its headers and message_start. */
async function openStreams(url: string, script: Script): Promise<Promise<StreamResult>[]> {
  const started: Promise<void>[] = [];
  const results: Promise<StreamResult>[] = [];
  for (let i = 0; i < STREAMS; i++) {
    let markStarted!: () => void;
    started.push(new Promise<void>((resolve) => (markStarted = resolve)));
    results.push(
      (async (): Promise<StreamResult> => {
        const res = await fetch(`${url}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
          body: JSON.stringify({
            model: MODEL,
            max_tokens: 256,
            stream: true,
            messages: [{ role: 'user', content: `stream ${i} ${simScript(script)}` }],
          }),
        });
        const reader = res.body!.getReader();
        const decoder = new TextDecoder();
        let text = '';
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            text += decoder.decode(value, { stream: true });
            if (text.includes('event: message_start')) markStarted();
          }
        } catch (error) {
          markStarted();
          return { status: res.status, error, endedAt: Date.now() };
        }
        markStarted();
        return { status: res.status, text, records: parseSse(text), endedAt: Date.now() };
      })().catch((error: unknown) => ({ status: 0, error, endedAt: Date.now() })),
    );
  }
  await Promise.all(started);
  return results;
}

/** A keep-alive connection opened now, to ask /readyz after the listener stops accepting new ones. */
async function readinessProbe(url: string): Promise<{ status(): Promise<number>; close(): Promise<void> }> {
  const client = new Client(url, { keepAliveTimeout: 60_000, pipelining: 1 });
  const status = async () => {
    const res = await client.request({ path: '/readyz', method: 'GET' });
    await res.body.text();
    return res.statusCode;
  };
  expect(await status()).toBe(200);
  return { status, close: () => client.close() };
}

function exitOf(replica: Replica): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = replica.child;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * SIGTERM, then polls readiness over the pre-opened connection until it answers 503. Returns when
 * that happened and how many streams had ended by then.
 */
async function terminateAndWatchReadiness(replica: Replica, probe: Awaited<ReturnType<typeof readinessProbe>>, ended: () => number) {
  const signalledAt = Date.now();
  replica.child.kill('SIGTERM');
  for (;;) {
    const status = await probe.status();
    if (status === 503) return { notReadyAfterMs: Date.now() - signalledAt, streamsEnded: ended() };
    expect(status).toBe(200);
    if (Date.now() - signalledAt > 2_000) throw new Error('readiness did not turn 503 within 2 s of SIGTERM');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function track(results: Promise<StreamResult>[]): () => number {
  let n = 0;
  for (const r of results) void r.then(() => n++);
  return () => n;
}

describe('SIGTERM drain of the real process', () => {
  it('turns unready first, lets 100 open streams finish with message_stop, exits 0', async () => {
    const replica = await startReplica({
      simUrl: sim.url,
      credentialsPath,
      env: { KIRO_SHUTDOWN_GRACE_MS: '15000', KIRO_SHUTDOWN_READINESS_DELAY_MS: '400' },
    });
    const exited = exitOf(replica);
    const probe = await readinessProbe(replica.url);
    // ~1.5 s per stream from its first byte.
    const results = await openStreams(replica.url, slow(13, 100));
    const ended = track(results);
    expect(sim.stats.streamsInFlight).toBe(STREAMS);

    const readiness = await terminateAndWatchReadiness(replica, probe, ended);
    expect(readiness.notReadyAfterMs).toBeLessThan(400);
    expect(readiness.streamsEnded).toBe(0);
    // After the readiness delay the listener refuses new connections, while the streams go on.
    await expect
      .poll(
        async () =>
          fetch(`${replica.url}/healthz`).then(
            () => 'accepted',
            (err: { cause?: { code?: string } }) => err.cause?.code ?? 'error',
          ),
        { timeout: 2_000, interval: 50 },
      )
      .toBe('ECONNREFUSED');
    expect(ended()).toBeLessThan(STREAMS);

    const all = await Promise.all(results);
    const { code, signal } = await exited;
    await probe.close().catch(() => undefined);
    for (const r of all) {
      expect(r.error, String(r.error)).toBeUndefined();
      expect(r.status).toBe(200);
      expect(r.records!.at(-1)?.event).toBe('message_stop');
      expect(r.records!.filter((x) => x.event === 'content_block_delta').length).toBeGreaterThanOrEqual(13);
    }
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(replica.output()).toContain('shutdown complete');
    expect(sim.stats.streamsAborted).toBe(0);
  });

  it('ends the streams still open when the grace period runs out with a clean SSE error event, exits 0', async () => {
    sim.reset();
    const replica = await startReplica({
      simUrl: sim.url,
      credentialsPath,
      env: { KIRO_SHUTDOWN_GRACE_MS: '800', KIRO_SHUTDOWN_READINESS_DELAY_MS: '200' },
    });
    const exited = exitOf(replica);
    const probe = await readinessProbe(replica.url);
    // ~4 s per stream: far longer than the grace period.
    const results = await openStreams(replica.url, slow(38, 100));
    const ended = track(results);

    const signalledAt = Date.now();
    const readiness = await terminateAndWatchReadiness(replica, probe, ended);
    expect(readiness.notReadyAfterMs).toBeLessThan(200);
    expect(readiness.streamsEnded).toBe(0);

    const all = await Promise.all(results);
    const { code, signal } = await exited;
    await probe.close().catch(() => undefined);
    const exitedAfterMs = Date.now() - signalledAt;
    for (const r of all) {
      // Read to the end (not cut), whole records only (parseSse throws on a half-written one).
      expect(r.error, String(r.error)).toBeUndefined();
      expect(r.status).toBe(200);
      const last = r.records!.at(-1)!;
      expect(last.event).toBe('error');
      expect(last.json).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
      expect(r.records!.some((x) => x.event === 'message_stop')).toBe(false);
      expect(r.records![0].event).toBe('message_start');
      // Ended by the grace period, not by the upstream.
      expect(r.endedAt - signalledAt).toBeGreaterThanOrEqual(700);
      expect(r.endedAt - signalledAt).toBeLessThan(3_000);
    }
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(exitedAfterMs).toBeLessThan(4_000);
    expect(replica.output()).toContain('shutdown complete');
  });
});
