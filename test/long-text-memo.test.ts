import { describe, expect, it } from 'vitest';
import { LongTextMemo } from '../src/long-text-memo.js';

describe('LongTextMemo', () => {
  it('finds a text by value, not by identity, among texts of the same length', () => {
    const memo = new LongTextMemo<number>(4);
    memo.set('abcd', 1);
    memo.set('wxyz', 2);
    expect(memo.get(['ab', 'cd'].join(''))).toBe(1);
    expect(memo.get('wxyz')).toBe(2);
    expect(memo.get('abce')).toBeUndefined();
    expect(memo.get('abc')).toBeUndefined();
  });

  it('finds a remembered text held at a position of a longer one, whatever its length', () => {
    const memo = new LongTextMemo<string>(4);
    memo.set('[1,2]', 'short');
    memo.set('[1,2,3]', 'long');
    expect(memo.findAt('{"tools":[1,2,3],"x":1}', 9)).toEqual({ text: '[1,2,3]', value: 'long' });
    expect(memo.findAt('{"tools":[1,2],"x":1}', 9)).toEqual({ text: '[1,2]', value: 'short' });
    expect(memo.findAt('{"tools":[9]}', 9)).toBeUndefined();
    // Never past the end of the text.
    expect(memo.findAt('{"tools":[1,2', 9)).toBeUndefined();
  });

  it('drops the least recently used text past its capacity; a hit counts as a use', () => {
    const memo = new LongTextMemo<number>(3);
    memo.set('aa', 1);
    memo.set('bbb', 2);
    memo.set('cccc', 3);
    expect(memo.get('aa')).toBe(1); // 'bbb' is now the least recently used
    memo.set('ddddd', 4);
    expect(memo.size).toBe(3);
    expect(memo.get('bbb')).toBeUndefined();
    expect(memo.get('aa')).toBe(1);
    expect(memo.findAt('xcccc', 1)?.value).toBe(3); // 'ddddd' is now the least recently used
    memo.set('ee', 5);
    expect(memo.get('ddddd')).toBeUndefined();
    expect([memo.get('aa'), memo.get('cccc'), memo.get('ee')]).toEqual([1, 3, 5]);
  });
});
