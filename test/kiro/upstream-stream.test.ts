/**
 * UpstreamEventStream against a real HTTP server through a real undici Agent: how an attempt is
 * classified while opening, how batches reach the reader (in order, held while paused), and how
 * the call ends (clean end, fault after the events before it, reader closing early, abort).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { encodeEventFrame } from '../../src/kiro/encoder.js';
import { FirstByteTimeout, UpstreamEventStream, type UpstreamResult } from '../../src/kiro/upstream-stream.js';
import type { KiroEvent } from '../../src/kiro/types.js';

const text = (content: string) => encodeEventFrame('assistantResponseEvent', { content });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each test path answers in its own way. */
const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>> = {
  '/three': (_req, res) => {
    res.writeHead(200);
    res.end(Buffer.concat([text('a'), text('b'), text('c')]));
  },
  '/chunks': async (_req, res) => {
    res.writeHead(200);
    for (const t of ['one', 'two', 'three', 'four']) {
      res.write(text(t));
      await sleep(15);
    }
    res.end();
  },
  '/empty': (_req, res) => {
    res.writeHead(200);
    res.end();
  },
  '/status': (_req, res) => {
    res.writeHead(429, { 'content-type': 'application/json' });
    res.end('{"message":"Too many requests"}');
  },
  '/silent': () => {
    // never answers
  },
  '/corrupt-later': async (_req, res) => {
    res.writeHead(200);
    res.write(text('fine'));
    await sleep(15);
    const bad = Buffer.from(text('broken'));
    bad[bad.length - 1] ^= 0xff; // message CRC
    res.end(bad);
  },
  '/truncated-first': (_req, res) => {
    res.writeHead(200);
    res.end(Buffer.from(text('cut')).subarray(0, 20));
  },
  '/endless': async (req, res) => {
    res.writeHead(200);
    let closed = false;
    req.socket.on('close', () => (closed = true));
    while (!closed) {
      res.write(text('more'));
      await sleep(5);
    }
  },
};

let server: ReturnType<typeof createServer>;
let origin: string;
let agent: Agent;
const closedSockets: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => void routes[req.url!]?.(req, res));
  server.on('connection', (socket) => socket.on('close', () => closedSockets.push('closed')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  agent = new Agent({ keepAliveTimeout: 10_000 });
});

afterAll(async () => {
  await agent.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function call(path: string, opts: { signal?: AbortSignal; firstByteTimeoutMs?: number } = {}): Promise<UpstreamResult<UpstreamEventStream>> {
  const stream = new UpstreamEventStream({ signal: opts.signal ?? new AbortController().signal, firstByteTimeoutMs: opts.firstByteTimeoutMs ?? 0 });
  agent.dispatch({ origin, path, method: 'POST', body: '{}' }, stream);
  return stream.opened;
}

async function opened(path: string): Promise<UpstreamEventStream> {
  const result = await call(path);
  if (!result.ok) throw new Error(`not opened: ${JSON.stringify(result)}`);
  return result.value;
}

const contents = (batches: KiroEvent[][]) => batches.flat().map((e) => (e.kind === 'text' ? e.content : e.kind));

describe('UpstreamEventStream', () => {
  it('opens on the first batch and delivers every batch in order, then resolves', async () => {
    const stream = await opened('/chunks');
    const batches: KiroEvent[][] = [];
    await stream.read((b) => batches.push(b));
    expect(contents(batches)).toEqual(['one', 'two', 'three', 'four']);
    expect(batches.length).toBeGreaterThan(1);
  });

  it('classifies an error status with its body, an empty 200 and a cut first frame as failures of the attempt', async () => {
    expect(await call('/status')).toEqual({ ok: false, status: 429, body: '{"message":"Too many requests"}' });
    const empty = await call('/empty');
    expect(empty.ok).toBe(false);
    expect(String((empty as { networkError: Error }).networkError.message)).toMatch(/empty body/);
    const cut = await call('/truncated-first');
    expect((cut as { networkError: { code?: string } }).networkError.code).toBe('truncated');
  });

  it('gives up on an upstream that sends nothing within the first-byte timeout', async () => {
    const result = await call('/silent', { firstByteTimeoutMs: 50 });
    expect((result as { networkError: unknown }).networkError).toBeInstanceOf(FirstByteTimeout);
  });

  it('follows the request signal, before and after opening', async () => {
    const before = new AbortController();
    before.abort(new Error('gone early'));
    expect(await call('/three', { signal: before.signal })).toMatchObject({ ok: false, networkError: { message: 'gone early' } });

    const during = new AbortController();
    const result = await call('/endless', { signal: during.signal });
    if (!result.ok) throw new Error('not opened');
    const reading = result.value.read(() => during.abort(new Error('client gone')));
    await expect(reading).rejects.toThrow('client gone');
  });

  it('passes on the events before a corrupt frame, then rejects with the frame error', async () => {
    const stream = await opened('/corrupt-later');
    const batches: KiroEvent[][] = [];
    await expect(stream.read((b) => batches.push(b))).rejects.toMatchObject({ name: 'FrameError', code: 'message_crc' });
    expect(contents(batches)).toEqual(['fine']);
  });

  it('holds batches while paused and delivers them on resume', async () => {
    const stream = await opened('/chunks');
    const batches: KiroEvent[][] = [];
    let resumed = false;
    const done = stream.read((b) => {
      batches.push(b);
      if (batches.length === 1) {
        stream.pause();
        setTimeout(() => {
          expect(batches).toHaveLength(1);
          resumed = true;
          stream.resume();
        }, 60);
      }
    });
    await done;
    expect(resumed).toBe(true);
    expect(contents(batches)).toEqual(['one', 'two', 'three', 'four']);
  });

  it('stops an endless body when the reader closes it, and resolves the read', async () => {
    const before = closedSockets.length;
    const stream = await opened('/endless');
    let seen = 0;
    await stream.read(() => {
      if (++seen === 3) stream.close();
    });
    expect(seen).toBe(3);
    await sleep(50);
    expect(closedSockets.length).toBeGreaterThan(before);
  });

  it("rejects the read with the reader's own error", async () => {
    const stream = await opened('/three');
    await expect(
      stream.read(() => {
        throw new Error('reader broke');
      }),
    ).rejects.toThrow('reader broke');
  });
});
