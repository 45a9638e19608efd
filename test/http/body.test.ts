/**
 * A body over the limit is refused with 413 without spoiling its keep-alive connection: the rest of
 * the body is read and dropped, so the next request on that connection is answered. Before, the
 * reader left early in a way that destroyed the request, the rest of a chunked body was never
 * parsed, and a client reusing the connection (as the SDKs' pools do) waited forever.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, startStack, type Stack } from '../helpers/stack.js';
import net from 'node:net';

const LIMIT = 8 * 1024;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { KIRO_LIMITS_BODY_LIMIT_BYTES: String(LIMIT) } });
});
afterAll(async () => {
  await stack?.close();
});

/** A chunked body of `bytes` in 1 KB chunks, with its final chunk. */
function chunked(bytes: number): string {
  const text = JSON.stringify({ model: 'claude-sonnet-4-6', input: 'y'.repeat(bytes) });
  let out = '';
  for (let i = 0; i < text.length; i += 1024) {
    const piece = text.slice(i, i + 1024);
    out += `${piece.length.toString(16)}\r\n${piece}\r\n`;
  }
  return `${out}0\r\n\r\n`;
}

/** Sends `first`, waits until its answer has come, then sends `second`; resolves with everything read until the server closes. */
function twoRequests(url: string, first: string, second: string): Promise<{ text: string; error?: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    let text = '';
    let error: string | undefined;
    const socket = net.connect(Number(port), hostname, () => socket.write(first));
    const timer = setTimeout(() => {
      error = 'timeout: no answer to the second request';
      socket.destroy();
    }, 5_000);
    socket.on('data', (d) => {
      const before = text;
      text += d.toString('latin1');
      if (!before.includes('\r\n\r\n') && text.includes('\r\n\r\n')) setTimeout(() => socket.write(second), 200);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, error });
    });
  });
}

describe('an oversized body on a keep-alive connection', () => {
  for (const [path, auth] of [
    ['/v1/messages', `x-api-key: ${API_KEY}`],
    ['/v1/chat/completions', `authorization: Bearer ${API_KEY}`],
  ]) {
    it(`${path}: 413, then the next request on the same connection is answered`, async () => {
      const head = `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${auth}\r\ntransfer-encoding: chunked\r\n\r\n`;
      const next = 'GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n';
      const { text, error } = await twoRequests(stack.url, head + chunked(LIMIT * 32), next);
      expect(error).toBeUndefined();
      expect(text.startsWith('HTTP/1.1 413 ')).toBe(true);
      expect(text).toContain('HTTP/1.1 200 OK');
      expect(text.endsWith('{"status":"ok"}')).toBe(true);
    });
  }
});
