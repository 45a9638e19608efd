import { describe, expect, it } from 'vitest';
import { EMPTY_STATS, type Credential } from '../../src/credentials/types.js';
import { fingerprintOf, maskApiKey, redactProxyUrl, redactSecrets, secretsOf, toStatusItem } from '../../src/admin/views.js';

describe('maskApiKey', () => {
  it('shows the first and last 4 characters of long ASCII keys, as kiro.rs', () => {
    expect(maskApiKey('ksk_0123456789abcdefWXYZ')).toBe('ksk_...WXYZ');
  });

  it('hides short and non-ASCII keys completely', () => {
    expect(maskApiKey('ksk_0123456789ab')).toBe('***');
    expect(maskApiKey('ksk_0123456789abcdéfghij')).toBe('***');
  });
});

describe('redactProxyUrl', () => {
  it('replaces the password and keeps the rest', () => {
    expect(redactProxyUrl('socks5://user:pa%40ss@10.0.0.1:1080')).toBe('socks5://user:***@10.0.0.1:1080');
  });

  it('leaves URLs without a password unchanged', () => {
    expect(redactProxyUrl('http://10.0.0.1:3128')).toBe('http://10.0.0.1:3128');
    expect(redactProxyUrl('direct')).toBe('direct');
  });

  it('drops everything before "@" when the URL cannot be parsed', () => {
    expect(redactProxyUrl('user:secret@[bad')).toBe('***@[bad');
  });
});

describe('redactSecrets', () => {
  it('removes the given secrets, longest first', () => {
    expect(redactSecrets('a=abcdef b=abcdefghij', ['abcdef', 'abcdefghij'])).toBe('a=*** b=***');
  });

  it('removes token-shaped runs even when they are not in the list', () => {
    expect(redactSecrets('token aoaAAAAAGh1Zm9vYmFyMTIzNDU2Nzg5MGFiY2RlZg== expired', [])).toBe('token *** expired');
  });

  it('keeps hosts, ARNs, words and short ids readable', () => {
    const text =
      'POST https://prod.us-east-1.auth.desktop.kiro.dev/refreshToken: 401 InvalidRefreshTokenProvidedException ' +
      'arn:aws:codewhisperer:us-east-1:123456789012:profile/ABCDEF attempt 3';
    expect(redactSecrets(text, [])).toBe(text);
  });
});

describe('toStatusItem', () => {
  const base: Credential = {
    id: 7,
    authMethod: 'social',
    refreshToken: 'r'.repeat(120),
    accessToken: 'access',
    priority: 1,
    machineId: 'f'.repeat(64),
    disabled: false,
  };

  it('carries a short fingerprint and no secret field', () => {
    const item = toStatusItem({ credential: base, stats: { ...EMPTY_STATS } }, false, 0);
    expect(item.fingerprint).toBe(fingerprintOf(base.refreshToken!));
    expect(item.fingerprint).toMatch(/^[0-9a-f]{8}$/);
    expect(JSON.stringify(item)).not.toContain('access');
    expect(item.hasProxy).toBe(false);
  });

  it('does not count "direct" as a proxy', () => {
    const item = toStatusItem({ credential: { ...base, proxyUrl: 'direct' }, stats: { ...EMPTY_STATS } }, false, 0);
    expect(item).toMatchObject({ hasProxy: false, proxyUrl: 'direct' });
  });

  it('omits disabledReason on an enabled credential even if a stale one is stored', () => {
    const item = toStatusItem({ credential: { ...base, disabledReason: 'Manual' }, stats: { ...EMPTY_STATS } }, false, 0);
    expect(item).not.toHaveProperty('disabledReason');
  });
});

describe('secretsOf', () => {
  it('includes the decoded proxy URL password', () => {
    const c: Credential = {
      id: 1,
      authMethod: 'social',
      priority: 0,
      machineId: 'f'.repeat(64),
      disabled: false,
      proxyUrl: 'http://u:p%40ssword@h:1',
    };
    expect(secretsOf(c)).toEqual(['p@ssword']);
  });
});

describe('proxy URLs without a scheme', () => {
  it('treats everything before "@" as secret', () => {
    const c: Credential = {
      id: 1,
      authMethod: 'social',
      priority: 0,
      machineId: 'f'.repeat(64),
      disabled: false,
      proxyUrl: 'user:hunter2@10.0.0.1:3128',
    };
    expect(redactProxyUrl(c.proxyUrl!)).toBe('***@10.0.0.1:3128');
    expect(secretsOf(c)).toEqual(['user:hunter2']);
  });
});
