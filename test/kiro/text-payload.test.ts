import { describe, expect, it } from 'vitest';
import { seededRandom } from '../helpers/seeded-random.js';
import { plainTextContent } from '../../src/kiro/text-payload.js';

/** The oracle: what the general path reads from a payload (`content` of its JSON), or why it cannot. */
function parsed(payload: Buffer): { content: unknown } | 'invalid' {
  try {
    const value = JSON.parse(payload.toString('utf8')) as { content?: unknown };
    return { content: value?.content };
  } catch {
    return 'invalid';
  }
}


/** Pieces payload strings are made of: plain text, unicode, escapes, control and invalid bytes. */
const PIECES: Buffer[] = [
  'hello',
  ' ',
  'chunk-0001 ',
  'é',
  '✓',
  '日本語',
  '😀',
  '\\n',
  '\\"',
  '\\\\',
  '\\u00e9',
  '\\ud83d\\ude00',
  '\\ud800',
  '"',
  '\\',
  '/',
  '\u2028',
  '\u007f',
].map((s) => Buffer.from(s, 'utf8'));
const RAW_BYTES = [0x00, 0x09, 0x0a, 0x1f, 0x80, 0xbf, 0xc3, 0xe2, 0x98, 0xf0, 0x9f, 0xff];

function randomPayload(next: () => number): Buffer {
  const parts: Buffer[] = [];
  const n = Math.floor(next() * 8);
  for (let i = 0; i < n; i++) {
    parts.push(next() < 0.85 ? PIECES[Math.floor(next() * PIECES.length)]! : Buffer.from([RAW_BYTES[Math.floor(next() * RAW_BYTES.length)]!]));
  }
  const shape = next();
  const inner = Buffer.concat(parts);
  if (shape < 0.8) return Buffer.concat([Buffer.from('{"content":"'), inner, Buffer.from('"}')]);
  // Near misses: other fields, whitespace, another key, truncation, a non-string value.
  const variants = [
    `{"content":"${inner.toString('latin1')}","x":1}`,
    `{ "content":"${inner.toString('latin1')}"}`,
    `{"content":"${inner.toString('latin1')}" }`,
    `{"contents":"${inner.toString('latin1')}"}`,
    `{"content":"${inner.toString('latin1')}`,
    `{"content":"${inner.toString('latin1')}"}}`,
    `{"content":"a","content":"${inner.toString('latin1')}"}`,
    `{"content":1}`,
    `{"content":""}`,
    `{"content":"}`,
  ];
  return Buffer.from(variants[Math.floor(next() * variants.length)]!, 'latin1');
}

describe('plainTextContent', () => {
  it('reads what JSON.parse reads wherever it answers, over 20,000 generated payloads', () => {
    const next = seededRandom(0x5eed);
    let answered = 0;
    for (let i = 0; i < 20_000; i++) {
      const payload = randomPayload(next);
      const fast = plainTextContent(payload);
      // The same payload in the middle of a larger buffer (as in a chunk) reads the same.
      const padded = Buffer.concat([Buffer.from('{"content":"x'), payload, Buffer.from('"}')]);
      expect(plainTextContent(padded, 13, 13 + payload.length)).toBe(fast);
      if (fast === undefined) continue;
      answered++;
      expect(parsed(payload), payload.toString('latin1')).toEqual({ content: fast });
    }
    // The fast path is taken for a good part of them (those without escapes or control bytes).
    expect(answered).toBeGreaterThan(2_000);
  });

  it('answers for the payloads Kiro sends for text, unicode and invalid UTF-8 included', () => {
    for (const text of ['hi', 'chunk-0001 ', '', 'é✓日本語😀', 'a/b', '\u2028', '\u007f']) {
      const payload = Buffer.from(JSON.stringify({ content: text }));
      expect(plainTextContent(payload)).toBe(text);
    }
    const invalid = Buffer.concat([Buffer.from('{"content":"a'), Buffer.from([0xe2, 0x98]), Buffer.from('b'), Buffer.from([0xff]), Buffer.from('"}')]);
    expect(plainTextContent(invalid)).toBe((parsed(invalid) as { content: string }).content);
    const cutAtEnd = Buffer.concat([Buffer.from('{"content":"a'), Buffer.from([0xf0, 0x9f]), Buffer.from('"}')]);
    expect(plainTextContent(cutAtEnd)).toBe((parsed(cutAtEnd) as { content: string }).content);
  });

  it('leaves to JSON.parse anything with an escape, a control character or another shape', () => {
    for (const payload of [
      '{"content":"a\\nb"}',
      '{"content":"\\u00e9"}',
      '{"content":"a\tb"}',
      '{"content":"a","stop":true}',
      '{ "content":"a"}',
      '{"content":1}',
      '{"content":"a"',
      '"content"',
      '',
    ]) {
      expect(plainTextContent(Buffer.from(payload)), payload).toBeUndefined();
    }
  });
});
