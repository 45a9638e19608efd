import { describe, expect, it } from 'vitest';
import {
  estimateInputTokens,
  estimateTextOutputTokens,
  estimateTokensOfString,
  estimateToolInputOutputTokens,
} from '../../src/convert/tokens.js';

describe('estimateTokensOfString (§8)', () => {
  it('counts Western chars as 1 unit, others as 4, 4 units a token, with the size factor', () => {
    expect(estimateTokensOfString('')).toBe(0);
    expect(estimateTokensOfString('abcd')).toBe(1); // 1 token × 1.5 → 1
    expect(estimateTokensOfString('a'.repeat(40))).toBe(15); // 10 × 1.5
    expect(estimateTokensOfString('你好')).toBe(3); // 8 units = 2 tokens × 1.5
    expect(estimateTokensOfString('é'.repeat(8))).toBe(3); // Latin-1: Western
    expect(estimateTokensOfString('ṡ'.repeat(8))).toBe(3); // Latin Extended Additional: Western
    expect(estimateTokensOfString('😀')).toBe(1); // one code point, 4 units
  });

  it('applies each correction band', () => {
    expect(estimateTokensOfString('a'.repeat(4 * 99))).toBe(148); // 99 × 1.5 = 148.5
    expect(estimateTokensOfString('a'.repeat(4 * 150))).toBe(195); // × 1.3
    expect(estimateTokensOfString('a'.repeat(4 * 250))).toBe(312); // × 1.25 = 312.5
    expect(estimateTokensOfString('a'.repeat(4 * 500))).toBe(600); // × 1.2
    expect(estimateTokensOfString('a'.repeat(4 * 1000))).toBe(1000); // × 1
  });
});

describe('estimateTextOutputTokens (§7.4)', () => {
  it('matches the documented examples and rounds CJK and other chars up separately', () => {
    expect(estimateTextOutputTokens('Hello')).toBe(2);
    expect(estimateTextOutputTokens(' world')).toBe(2);
    expect(estimateTextOutputTokens('你好吗')).toBe(2); // (3*2+2)/3
    expect(estimateTextOutputTokens('你a')).toBe(2); // 1 + 1
    expect(estimateTextOutputTokens('')).toBe(1);
    expect(estimateTextOutputTokens('😀😀😀😀')).toBe(1); // four code points
  });

  it('counts tool input fragments by UTF-8 bytes', () => {
    expect(estimateToolInputOutputTokens('{"a":1}')).toBe(2);
    expect(estimateToolInputOutputTokens('é')).toBe(1);
  });
});

describe('estimateInputTokens (§8)', () => {
  it('sums system blocks, message texts and tool name/description/schema; skips tool I/O and images', () => {
    const schema = { type: 'object' };
    const total = estimateInputTokens({
      system: [{ type: 'text', text: 'abcd' }, { type: 'text', text: 'abcdabcd' }],
      messages: [
        { role: 'user', content: 'a'.repeat(40) },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'abcd' },
            { type: 'tool_use', id: 't', name: 'x', input: { big: 'z'.repeat(1000) } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'z'.repeat(1000) }] },
      ],
      tools: [{ name: 'abcd', description: 'abcd', input_schema: schema }],
    });
    const expected =
      1 + 3 + 15 + 1 + estimateTokensOfString('abcd') * 2 + estimateTokensOfString(JSON.stringify(schema));
    expect(total).toBe(expected);
  });

  it('is at least 1', () => {
    expect(estimateInputTokens({ messages: [{ role: 'user', content: '' }] })).toBe(1);
  });

  it('handles a 2 MB history in well under a second', () => {
    const big = 'lorem ipsum dolor sit amet '.repeat(4000);
    const messages = Array.from({ length: 20 }, (_, i) => ({ role: i % 2 ? ('assistant' as const) : ('user' as const), content: big }));
    const t0 = performance.now();
    estimateInputTokens({ messages });
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

describe('estimates of text without a char that counts apart (the regular-expression shortcut)', () => {
  /** §8 and §7.4 char by char, as the estimates were written before the shortcut: the oracle. */
  function referenceInput(s: string): number {
    let units = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c <= 0x024f) units += 1;
      else if (c >= 0xd800 && c <= 0xdbff) {
        units += 4;
        const next = s.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) i++;
      } else units += (c >= 0x1e00 && c <= 0x1eff) || (c >= 0x2c60 && c <= 0x2c7f) || (c >= 0xa720 && c <= 0xa7ff) || (c >= 0xab30 && c <= 0xab6f) ? 1 : 4;
    }
    const tokens = units / 4;
    const factor = tokens < 100 ? 1.5 : tokens < 200 ? 1.3 : tokens < 300 ? 1.25 : tokens < 800 ? 1.2 : 1;
    return s.length === 0 ? 0 : Math.trunc(tokens * factor);
  }
  function referenceOutput(s: string): number {
    let cjk = 0;
    let other = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x4e00 && c <= 0x9fff) cjk++;
      else {
        other++;
        if (c >= 0xd800 && c <= 0xdbff) {
          const next = s.charCodeAt(i + 1);
          if (next >= 0xdc00 && next <= 0xdfff) i++;
        }
      }
    }
    return Math.max(1, Math.floor((cjk * 2 + 2) / 3) + Math.floor((other + 3) / 4));
  }

  it('gives what counting char by char gives, over 5,000 generated strings (one-byte and two-byte)', () => {
    // Chars from every range the estimates tell apart, and the edges between them.
    const pool = ['a', ' ', '\n', 'é', 'ÿ', 'ā', 'ɏ', 'ɐ', 'Ω', 'ṡ', 'Ⱡ', 'ꜧ', 'ꬰ', '€', '你', '\u4dff', '\u9fff', '\ua000', '😀', '\ud83d', '\ude00', '\u2028'];
    let seed = 7;
    const next = () => ((seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 0x1_0000_0000);
    for (let n = 0; n < 5_000; n++) {
      // Half the strings stay within Latin-1 (V8 stores them one byte per char); the others mix
      // Latin-1 with a few chars of the pool, so that each edge char also appears on its own.
      const latin1 = n % 2 === 0;
      const few = Array.from({ length: 1 + Math.floor(next() * 3) }, () => pool[Math.floor(next() * pool.length)]!);
      let s = '';
      const length = Math.floor(next() * 3_000);
      for (let i = 0; i < length; i++) s += latin1 || next() < 0.9 ? String.fromCharCode(Math.floor(next() * 256)) : few[Math.floor(next() * few.length)];
      expect(estimateTokensOfString(s)).toBe(referenceInput(s));
      expect(estimateTextOutputTokens(s)).toBe(referenceOutput(s));
    }
  });
});
