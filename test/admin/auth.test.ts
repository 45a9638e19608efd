import { describe, expect, it } from 'vitest';
import { isAdminEnabled } from '../../src/admin/auth.js';

describe('isAdminEnabled', () => {
  it('treats an empty or blank key as disabled, as kiro.rs', () => {
    expect(isAdminEnabled('')).toBe(false);
    expect(isAdminEnabled(' \t')).toBe(false);
    expect(isAdminEnabled('k')).toBe(true);
  });
});
