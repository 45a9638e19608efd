/**
 * What the first byte of a streamed answer carries, read from a raw socket: k6 measures time to
 * first byte (`http_req_waiting`), which is only a time to first token when that first read holds
 * content and not only the response head or `message_start`.
 */
import { connect } from 'node:net';

export interface FirstRead {
  /** ms from the request being written to the first bytes arriving. */
  ms: number;
  /** The first read, as text (head + start of body). */
  text: string;
  /** SSE event names found in the first read, in order. */
  events: string[];
}

/** POSTs a small streaming Messages request over a fresh TCP connection and returns the first read. */
export function firstRead(url: string, apiKey: string, model = 'claude-sonnet-4-5-20250929'): Promise<FirstRead> {
  const u = new URL(url);
  const body = JSON.stringify({ model, max_tokens: 256, stream: true, messages: [{ role: 'user', content: 'hi' }] });
  const request =
    `POST /v1/messages HTTP/1.1\r\nhost: ${u.host}\r\ncontent-type: application/json\r\nx-api-key: ${apiKey}\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    let started = 0;
    socket.setTimeout(30_000, () => {
      socket.destroy();
      reject(new Error(`no answer from ${url} within 30 s`));
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      started = performance.now();
      socket.write(request);
    });
    socket.once('data', (chunk: Buffer) => {
      const ms = performance.now() - started;
      socket.destroy();
      const text = chunk.toString('utf8');
      resolve({ ms, text, events: [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]!) });
    });
  });
}
