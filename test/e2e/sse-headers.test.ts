/**
 * Proxy buffering: every SSE response the gateway sends carries `X-Accel-Buffering: no`, so an
 * nginx (or an ingress) nobody configured for SSE streams it instead of holding it back. Checked on
 * every kind of SSE response: live `/v1`, buffered `/cc/v1`, a stream that ends in an SSE error,
 * and the synthesized web-search stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simScript } from '../../src/simulator/index.js';
import { API_KEY, startStack, type Stack } from '../helpers/stack.js';
import { rawExchange } from '../helpers/raw-http.js';

const MODEL = 'claude-sonnet-4-6';

async function streamHeaders(stack: Stack, path: string, body: Record<string, unknown>): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(`${stack.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, ...body }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('SSE responses tell proxies not to buffer them (X-Accel-Buffering: no)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const cases: Array<[string, string, Record<string, unknown>]> = [
    ['a live /v1 stream', '/v1/messages', { messages: [{ role: 'user', content: 'Hi' }] }],
    ['a buffered /cc/v1 stream', '/cc/v1/messages', { messages: [{ role: 'user', content: 'Hi' }] }],
    [
      'a stream that ends with an SSE error event',
      '/v1/messages',
      { messages: [{ role: 'user', content: `Hi ${simScript({ events: [{ text: 'so far' }], usage: false, fault: { kind: 'cut', afterFrames: 1 } })}` }] },
    ],
    [
      'a buffered stream that ends with an SSE error event',
      '/cc/v1/messages',
      { messages: [{ role: 'user', content: `Hi ${simScript({ events: [{ text: 'so far' }], usage: false, fault: { kind: 'cut', afterFrames: 1 } })}` }] },
    ],
    [
      'the web-search stream',
      '/v1/messages',
      {
        tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 8 }],
        messages: [{ role: 'user', content: 'Perform a web search for the query: kiro gateway' }],
      },
    ],
  ];

  for (const [name, path, body] of cases) {
    it(`on ${name}`, async () => {
      const res = await streamHeaders(stack, path, body);

      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(res.headers.get('x-accel-buffering')).toBe('no');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.text).toMatch(/^event: /);
    });
  }

  it('honours a client\'s Connection: close: the answer says close and the socket is closed after the stream', async () => {
    const body = JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'Hi' }] });
    const { host } = new URL(stack.url);
    const head =
      `POST /v1/messages HTTP/1.1\r\nHost: ${host}\r\ncontent-type: application/json\r\nx-api-key: ${API_KEY}\r\n` +
      `anthropic-version: 2023-06-01\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n`;
    // rawExchange reads until the server closes; a kept-alive socket would end in its timeout instead.
    const res = await rawExchange(stack.url, head, body, 10_000);

    expect(res.socketError).toBeUndefined();
    expect(res.status).toBe(200);
    expect(res.headers['connection']).toBe('close');
    expect(res.body).toContain('event: message_stop');
  });
});
