/**
 * `readBodyText` decodes a body of several chunks chunk by chunk (a StringDecoder carries split
 * characters over); `Buffer.concat(chunks).toString('utf8')`, what it did before, is the oracle:
 * valid and invalid UTF-8, split at every kind of place, in one chunk or many.
 */
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../helpers/seeded-random.js';
import { readBodyText } from '../../src/http/body.js';


const PIECES = ['{"a":', 'é', '日本語', '😀', '\ud800', 'x'.repeat(100)].map((s) => Buffer.from(s));
// Invalid sequences: lone continuation bytes, truncated and overlong leads, surrogates encoded.
const BAD = [[0x80], [0xc3], [0xe6, 0x97], [0xf0, 0x9f, 0x98], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff], [0xf4, 0x90, 0x80, 0x80]].map((b) => Buffer.from(b));

function request(chunks: Buffer[]): IncomingMessage {
  const req = Readable.from(chunks, { objectMode: false }) as unknown as IncomingMessage;
  (req as { headers: Record<string, string> }).headers = {};
  return req;
}

describe('readBodyText', () => {
  it('gives what decoding the concatenated chunks gives, over random splits', async () => {
    const next = seededRandom(0xb0d7);
    for (let i = 0; i < 400; i++) {
      const parts: Buffer[] = [];
      const n = Math.floor(next() * 30);
      for (let j = 0; j < n; j++) {
        const pool = next() < 0.2 ? BAD : PIECES;
        parts.push(pool[Math.floor(next() * pool.length)]!);
      }
      const whole = Buffer.concat(parts);
      const chunks: Buffer[] = [];
      for (let at = 0; at < whole.length; ) {
        const len = 1 + Math.floor(next() * (next() < 0.5 ? 4 : 200));
        chunks.push(whole.subarray(at, at + len));
        at += len;
      }
      expect(await readBodyText(request(chunks), 1 << 20)).toBe(whole.toString('utf8'));
    }
  });

  it('reads an empty body as the empty string', async () => {
    expect(await readBodyText(request([]), 1024)).toBe('');
  });
});
