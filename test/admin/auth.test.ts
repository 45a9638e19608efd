import { describe, expect, it } from 'vitest';
import { isAdminEnabled, keysMatch, presentedKey } from '../../src/admin/auth.js';

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

describe('isAdminEnabled', () => {
  it('treats an empty or blank key as disabled, as kiro.rs', () => {
    expect(isAdminEnabled('')).toBe(false);
    expect(isAdminEnabled(' \t')).toBe(false);
    expect(isAdminEnabled('k')).toBe(true);
  });
});
