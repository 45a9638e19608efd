import { describe, expect, it } from 'vitest';
import { keyMatcher, keysMatch, presentedKey } from '../../src/http/api-key.js';

describe('presentedKey', () => {
  it('prefers x-api-key over Authorization', () => {
    expect(presentedKey({ 'x-api-key': 'a', authorization: 'Bearer b' })).toBe('a');
  });

  it('reads a Bearer token, ignoring case and surrounding spaces', () => {
    expect(presentedKey({ authorization: '  bearer   tok  ' })).toBe('tok');
  });

  it('ignores other schemes and empty headers', () => {
    expect(presentedKey({ authorization: 'Basic abc' })).toBeUndefined();
    expect(presentedKey({ 'x-api-key': '' })).toBeUndefined();
    expect(presentedKey({})).toBeUndefined();
  });
});

describe('keysMatch', () => {
  it('matches only the exact key, whatever the lengths', () => {
    expect(keysMatch('secret-key', 'secret-key')).toBe(true);
    expect(keysMatch('secret-ke', 'secret-key')).toBe(false);
    expect(keysMatch('secret-keyy', 'secret-key')).toBe(false);
    expect(keysMatch('', 'secret-key')).toBe(false);
  });
});

describe('keyMatcher', () => {
  it('matches only the key it was made for', () => {
    const matches = keyMatcher('secret-key');
    expect(matches('secret-key')).toBe(true);
    expect(matches('secret-ke')).toBe(false);
    expect(matches('')).toBe(false);
  });
});
