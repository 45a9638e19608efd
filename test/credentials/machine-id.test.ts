import { describe, expect, it } from 'vitest';
import { machineIdFor, normalizeMachineId } from '../../src/credentials/machine-id.js';

// Expected digests computed independently with `printf '%s' '<input>' | sha256sum`.
const OAUTH_VECTOR = {
  refreshToken: 'aorAAAAAGtest',
  machineId: 'f66e3a5af0c5faeb96d28a4274a785b34dfe916f500c0a135df299b3eeb72d6b',
};
const API_KEY_VECTOR = {
  kiroApiKey: 'ksk_abc123',
  machineId: '60f649b50d76a31cbef1f54df40f9d041715c46c6beebd1b3dcb6d3184632f27',
};
const HEX64 = 'a'.repeat(32) + 'b'.repeat(32);

describe('normalizeMachineId', () => {
  it('keeps 64 hex characters, lower-cased', () => {
    expect(normalizeMachineId(HEX64.toUpperCase())).toBe(HEX64);
  });

  it('turns a UUID (with or without dashes) into its 32 hex digits twice', () => {
    const uuid = '2582956E-CC88-4669-B546-07ADBFFCB894';
    const hex = '2582956ecc884669b54607adbffcb894';
    expect(normalizeMachineId(uuid)).toBe(hex + hex);
    expect(normalizeMachineId(hex)).toBe(hex + hex);
  });

  it('rejects anything else', () => {
    expect(normalizeMachineId('')).toBeUndefined();
    expect(normalizeMachineId('not-a-machine-id')).toBeUndefined();
    expect(normalizeMachineId('g'.repeat(64))).toBeUndefined();
    expect(normalizeMachineId(undefined)).toBeUndefined();
  });
});

describe('machineIdFor', () => {
  it('derives sha256("KotlinNativeAPI/" + refreshToken) for OAuth credentials', () => {
    expect(machineIdFor({ refreshToken: OAUTH_VECTOR.refreshToken })).toBe(OAUTH_VECTOR.machineId);
  });

  it('derives sha256("KiroAPIKey/" + kiroApiKey) for API-key credentials', () => {
    expect(machineIdFor({ kiroApiKey: API_KEY_VECTOR.kiroApiKey, refreshToken: 'ignored' })).toBe(API_KEY_VECTOR.machineId);
  });

  it("prefers the credential's own valid id, then the config's", () => {
    expect(machineIdFor({ machineId: HEX64, refreshToken: 'x' }, 'c'.repeat(64))).toBe(HEX64);
    expect(machineIdFor({ machineId: 'bad', refreshToken: 'x' }, 'c'.repeat(64))).toBe('c'.repeat(64));
    expect(machineIdFor({ machineId: 'bad', refreshToken: OAUTH_VECTOR.refreshToken }, 'also bad')).toBe(
      OAUTH_VECTOR.machineId,
    );
  });

  it('falls back to a random id that stays stable per credential id', () => {
    const a = machineIdFor({ id: 4242 });
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(machineIdFor({ id: 4242 })).toBe(a);
    expect(machineIdFor({ id: 4243 })).not.toBe(a);
  });
});
