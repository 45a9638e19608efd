import { describe, expect, it } from 'vitest';
import {
  REDACTED,
  SECRET_KEY_NAMES,
  createSecretScrubber,
  isSecretKey,
  redactSecrets,
  secretFingerprint,
} from '../../src/observability/redact.js';
import { SECRET_FIELDS } from '../../src/credentials/types.js';

describe('isSecretKey', () => {
  it('flags every credential secret field and header that carries a credential', () => {
    for (const k of [...SECRET_FIELDS, 'apiKey', 'adminApiKey', 'authorization', 'Authorization', 'x-api-key', 'X-Api-Key', 'cookie', 'set-cookie', 'password', 'token']) {
      expect(isSecretKey(k), k).toBe(true);
    }
    for (const k of SECRET_KEY_NAMES) expect(isSecretKey(k), k).toBe(true);
  });

  it('flags names ending in token/secret/password/apiKey, in any casing or separator style', () => {
    for (const k of ['nextToken', 'ID_TOKEN', 'http.request.header.authorization', 'upstreamApiKey', 'db_password', 'x-amz-security-token']) {
      expect(isSecretKey(k), k).toBe(true);
    }
  });

  it('keeps token counts and ordinary fields', () => {
    for (const k of ['inputTokens', 'outputTokens', 'gen_ai.usage.input_tokens', 'maxTokens', 'credentialId', 'model', 'expiresAt', 'refreshTokenExpiresAt', 'countTokensApiUrl', 'machineId']) {
      expect(isSecretKey(k), k).toBe(false);
    }
  });
});

describe('redactSecrets', () => {
  it('redacts secret keys at any depth, inside arrays too, without mutating the input', () => {
    const input = {
      model: 'claude-sonnet-4-5',
      a: { b: { c: { d: { e: { refreshToken: 'r1' } } } } },
      list: [{ credential: { id: 1, accessToken: 'a1' } }],
      headers: { authorization: 'Bearer x', 'x-api-key': 'k' },
    };
    const snapshot = JSON.stringify(input);
    const out = redactSecrets(input);
    expect(JSON.stringify(input)).toBe(snapshot);
    expect(out.a.b.c.d.e.refreshToken).toBe(REDACTED);
    expect(out.list[0].credential).toEqual({ id: 1, accessToken: REDACTED });
    expect(out.headers).toEqual({ authorization: REDACTED, 'x-api-key': REDACTED });
    expect(out.model).toBe('claude-sonnet-4-5');
  });

  it('returns the same reference when nothing is secret', () => {
    const input = { a: { b: [1, 2, { c: 'x' }] }, inputTokens: 3 };
    expect(redactSecrets(input)).toBe(input);
  });

  it('keeps empty and missing secrets visible as such', () => {
    expect(redactSecrets({ accessToken: '', refreshToken: undefined, clientSecret: null })).toEqual({
      accessToken: '',
      refreshToken: undefined,
      clientSecret: null,
    });
  });

  it('redacts inside Errors (own properties and cause) and keeps them Errors', () => {
    const cause = Object.assign(new Error('inner'), { refreshToken: 'rt-inner' });
    const err = Object.assign(new Error('outer', { cause }), { config: { headers: { Authorization: 'Bearer zzz' } } });
    const out = redactSecrets(err);
    expect(out).toBeInstanceOf(Error);
    expect(out.message).toBe('outer');
    expect(out.stack).toBe(err.stack);
    expect(out.config.headers.Authorization).toBe(REDACTED);
    expect((out.cause as { refreshToken: string }).refreshToken).toBe(REDACTED);
    expect(err.config.headers.Authorization).toBe('Bearer zzz');
  });

  it('survives cycles', () => {
    const a: Record<string, unknown> = { token: 't' };
    a.self = a;
    const out = redactSecrets(a);
    expect(out.token).toBe(REDACTED);
  });
});

describe('createSecretScrubber', () => {
  it('replaces every occurrence of every known secret, longest first', () => {
    const scrub = createSecretScrubber(() => ['secret-value-1', 'secret-value-1-extended', 'short']);
    expect(scrub('a secret-value-1 b secret-value-1-extended c secret-value-1')).toBe(
      `a ${REDACTED} b ${REDACTED} c ${REDACTED}`,
    );
    expect(scrub('short is too short to be scrubbed')).toBe('short is too short to be scrubbed');
  });

  it('handles long tokens and short keys together, even when one contains the other', () => {
    const longToken = `aoaAAAAAG${'x'.repeat(900)}-key-inside-1234-${'y'.repeat(100)}`;
    const shortKey = 'key-inside-1234';
    const regexy = 'a.b*c+(d)?[e]|f$^';
    const scrub = createSecretScrubber(() => [shortKey, longToken, regexy]);
    expect(scrub(`t=${longToken} k=${shortKey} r=${regexy} z=aXbbbc`)).toBe(`t=${REDACTED} k=${REDACTED} r=${REDACTED} z=aXbbbc`);
    expect(scrub('nothing here')).toBe('nothing here');
  });

  it('matches the JSON-escaped form of a secret', () => {
    const secret = 'abc"def\\ghi-123';
    const scrub = createSecretScrubber(() => [secret]);
    const line = JSON.stringify({ msg: `x ${secret} y` });
    expect(scrub(line)).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(scrub(line)).toContain(REDACTED);
  });

  it('re-prepares only when the list instance changes, and keeps the last list if the source throws', () => {
    let list: string[] = ['first-secret-aaaa'];
    let fail = false;
    let calls = 0;
    const scrub = createSecretScrubber(() => {
      calls++;
      if (fail) throw new Error('boom');
      return list;
    });
    expect(scrub('first-secret-aaaa')).toBe(REDACTED);
    list = ['second-secret-bbbb'];
    expect(scrub('first-secret-aaaa second-secret-bbbb')).toBe(`first-secret-aaaa ${REDACTED}`);
    fail = true;
    expect(scrub('second-secret-bbbb')).toBe(REDACTED);
    expect(calls).toBe(3);
  });

  it('returns the input untouched when there are no secrets', () => {
    const scrub = createSecretScrubber(() => []);
    const s = 'nothing to see';
    expect(scrub(s)).toBe(s);
  });
});

describe('secretFingerprint', () => {
  it('is short, stable and does not contain the secret', () => {
    const fp = secretFingerprint('aoa-very-secret-token');
    expect(fp).toMatch(/^[0-9a-f]{12}$/);
    expect(secretFingerprint('aoa-very-secret-token')).toBe(fp);
    expect(secretFingerprint('another')).not.toBe(fp);
  });
});
