import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import {
  canonicalAuthMethod,
  envApiKeyCredential,
  ENV_API_KEY_CREDENTIAL_ID,
  loadCredentialsFile,
  saveCredentialsFile,
  toFileEntry,
} from '../../src/store/credentials-file.js';
import type { Credential } from '../../src/credentials/types.js';

const REFRESH = 'aorA' + 'x'.repeat(150);
const HEX64 = 'ab'.repeat(32);

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'kiro-creds-'));
}

function writeJson(dir: string, value: unknown, name = 'credentials.json'): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return path;
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

describe('loadCredentialsFile', () => {
  it('gives zero credentials for a missing or empty file', async () => {
    const dir = tempDir();
    expect(await loadCredentialsFile(join(dir, 'nope.json'))).toMatchObject({ credentials: [], form: 'missing' });
    const empty = writeJson(dir, '  \n');
    expect(await loadCredentialsFile(empty)).toMatchObject({ credentials: [], form: 'missing' });
  });

  it('loads the single-object form', async () => {
    const path = writeJson(tempDir(), {
      refreshToken: REFRESH,
      accessToken: 'at',
      expiresAt: '2025-12-31T02:32:45.144Z',
      authMethod: 'social',
      machineId: HEX64,
    });
    const loaded = await loadCredentialsFile(path);
    expect(loaded.form).toBe('object');
    expect(loaded.credentials).toEqual([
      {
        id: 1,
        authMethod: 'social',
        refreshToken: REFRESH,
        accessToken: 'at',
        expiresAt: '2025-12-31T02:32:45.144Z',
        priority: 0,
        machineId: HEX64,
        disabled: false,
      },
    ]);
    expect(loaded.needsWriteBack).toBe(true); // the id was assigned
  });

  it('loads the kiro.rs array example, canonicalising auth methods and disabled state', async () => {
    const path = writeJson(tempDir(), [
      { refreshToken: REFRESH, expiresAt: '2025-12-31T02:32:45.144Z', authMethod: 'social', priority: 0 },
      { refreshToken: REFRESH + 'b', authMethod: 'builder-id', clientId: 'c', clientSecret: 's', region: 'us-east-2', priority: 1, disabled: true },
      { kiroApiKey: 'ksk_abc', authMethod: 'api_key' },
      { authMethod: 'apikey' },
      { refreshToken: REFRESH + 'c', clientId: 'c', clientSecret: 's' },
      { refreshToken: REFRESH + 'd', authMethod: 'IAM', id: 7 },
    ]);
    const { credentials, form } = await loadCredentialsFile(path);
    expect(form).toBe('array');
    expect(credentials.map((c) => c.id)).toEqual([8, 9, 10, 11, 12, 7]);
    expect(credentials.map((c) => c.authMethod)).toEqual(['social', 'idc', 'api_key', 'api_key', 'idc', 'idc']);
    expect(credentials[1]).toMatchObject({ disabled: true, disabledReason: 'Manual', priority: 1, region: 'us-east-2' });
    expect(credentials[3]).toMatchObject({ disabled: true, disabledReason: 'InvalidConfig' });
    expect(credentials[2]).toMatchObject({ disabled: false });
    for (const c of credentials) expect(c.machineId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('fills machine ids from the config machine id when the credential has none', async () => {
    const path = writeJson(tempDir(), [{ refreshToken: REFRESH }]);
    const { credentials } = await loadCredentialsFile(path, { machineId: '2582956e-cc88-4669-b546-07adbffcb894' });
    expect(credentials[0].machineId).toBe('2582956ecc884669b54607adbffcb894'.repeat(2));
  });

  it('rejects duplicate ids and badly typed fields, naming the entry', async () => {
    const dir = tempDir();
    await expect(loadCredentialsFile(writeJson(dir, [{ id: 1 }, { id: 1 }]))).rejects.toThrow(/entry #2: id 1 is used twice/);
    await expect(loadCredentialsFile(writeJson(dir, [{ priority: 'high' }]))).rejects.toThrow(/entry #1: priority must be an integer/);
    await expect(loadCredentialsFile(writeJson(dir, [42]))).rejects.toThrow(ConfigError);
  });

  it('keeps a known endpoint, treats an empty one as unset and refuses any other value, naming the entry', async () => {
    const dir = tempDir();
    const { credentials } = await loadCredentialsFile(
      writeJson(dir, [
        { refreshToken: REFRESH, endpoint: 'cli' },
        { refreshToken: `${REFRESH}2`, endpoint: 'ide' },
        { refreshToken: `${REFRESH}3`, endpoint: '' },
      ]),
    );
    expect(credentials.map((c) => c.endpoint)).toEqual(['cli', 'ide', undefined]);
    await expect(loadCredentialsFile(writeJson(dir, [{ refreshToken: REFRESH }, { endpoint: 'Cli' }]))).rejects.toThrow(
      /entry #2: endpoint "Cli" is not one of "ide", "cli"/,
    );
  });

  it('does not quote the file content when the JSON is broken', async () => {
    const path = writeJson(tempDir(), `{"refreshToken": "${REFRESH}", oops}`);
    const err = await loadCredentialsFile(path).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toContain(REFRESH.slice(0, 20));
  });

  it('keeps QuotaExceeded reason and reset date written by the gateway', async () => {
    const path = writeJson(tempDir(), [
      { id: 1, refreshToken: REFRESH, disabled: true, disabledReason: 'QuotaExceeded', disabledUntil: '2026-01-01T00:00:00.000Z' },
    ]);
    const { credentials } = await loadCredentialsFile(path);
    expect(credentials[0]).toMatchObject({ disabled: true, disabledReason: 'QuotaExceeded', disabledUntil: '2026-01-01T00:00:00.000Z' });
  });
});

describe('canonicalAuthMethod', () => {
  it('maps aliases and infers a missing method', () => {
    expect(canonicalAuthMethod({ authMethod: 'Builder-ID' })).toBe('idc');
    expect(canonicalAuthMethod({ authMethod: 'iam' })).toBe('idc');
    expect(canonicalAuthMethod({ authMethod: 'APIKEY' })).toBe('api_key');
    expect(canonicalAuthMethod({ kiroApiKey: 'ksk_x' })).toBe('api_key');
    expect(canonicalAuthMethod({ clientId: 'a', clientSecret: 'b' })).toBe('idc');
    expect(canonicalAuthMethod({ clientId: 'a' })).toBe('social');
    expect(canonicalAuthMethod({ authMethod: 'something' })).toBe('social');
  });
});

describe('saveCredentialsFile', () => {
  it('round-trips the single-object form as an object', async () => {
    const path = writeJson(tempDir(), { refreshToken: REFRESH, authMethod: 'social', machineId: HEX64 });
    const loaded = await loadCredentialsFile(path);
    const rotated = { ...loaded.credentials[0], refreshToken: REFRESH + 'rotated', accessToken: 'new' };
    expect(await saveCredentialsFile(path, [rotated], loaded.form, loaded.originalEntries)).toBe('object');
    expect(readJson(path)).toEqual({
      id: 1,
      refreshToken: REFRESH + 'rotated',
      authMethod: 'social',
      machineId: HEX64,
      accessToken: 'new',
    });
    const again = await loadCredentialsFile(path);
    expect(again.form).toBe('object');
    expect(again.credentials).toEqual([rotated]);
  });

  it('round-trips the array form as an array, keeping unknown keys and key order', async () => {
    const original = [
      { note: 'team account', refreshToken: REFRESH, authMethod: 'builder-id', clientId: 'c', clientSecret: 's', priority: 0, disabled: false, machineId: HEX64, id: 1, custom: { nested: [1, 2] } },
      { id: 2, kiroApiKey: 'ksk_abc', authMethod: 'api_key', machineId: HEX64, priority: 3 },
    ];
    const path = writeJson(tempDir(), original);
    const loaded = await loadCredentialsFile(path);
    expect(loaded.needsWriteBack).toBe(false);
    await saveCredentialsFile(path, loaded.credentials, loaded.form, loaded.originalEntries);
    const written = readJson(path) as Array<Record<string, unknown>>;
    expect(Array.isArray(written)).toBe(true);
    expect(Object.keys(written[0])).toEqual(['note', 'refreshToken', 'authMethod', 'clientId', 'clientSecret', 'priority', 'disabled', 'machineId', 'id', 'custom']);
    expect(written[0]).toEqual({ ...original[0], authMethod: 'idc' });
    expect(written[1]).toEqual(original[1]);
    expect(readFileSync(path, 'utf8')).toMatch(/^\[\n {2}\{\n {4}"note"/); // pretty-printed, 2 spaces
  });

  it('omits default-valued fields and never writes stats', async () => {
    const cred: Credential & { successCount?: number } = {
      id: 3,
      authMethod: 'social',
      refreshToken: REFRESH,
      priority: 0,
      machineId: HEX64,
      disabled: false,
      email: undefined,
    };
    const entry = toFileEntry(cred);
    expect(entry).toEqual({ id: 3, refreshToken: REFRESH, authMethod: 'social', machineId: HEX64 });
  });

  it('writes the disabled reason and reset date only while disabled, and not for Manual', () => {
    const base: Credential = { id: 1, authMethod: 'social', priority: 2, machineId: HEX64, disabled: true, disabledReason: 'QuotaExceeded', disabledUntil: '2026-01-01T00:00:00.000Z' };
    expect(toFileEntry(base)).toMatchObject({ disabled: true, disabledReason: 'QuotaExceeded', disabledUntil: '2026-01-01T00:00:00.000Z', priority: 2 });
    expect(toFileEntry({ ...base, disabledReason: 'Manual', disabledUntil: undefined })).not.toHaveProperty('disabledReason');
    const enabled = toFileEntry({ ...base, disabled: false });
    expect(enabled).not.toHaveProperty('disabled');
    expect(enabled).not.toHaveProperty('disabledReason');
    expect(enabled).not.toHaveProperty('disabledUntil');
  });

  it('switches an object file to an array when a second credential is added', async () => {
    const path = writeJson(tempDir(), { refreshToken: REFRESH, machineId: HEX64 });
    const loaded = await loadCredentialsFile(path);
    const second: Credential = { id: 2, authMethod: 'api_key', kiroApiKey: 'ksk_x', priority: 0, machineId: HEX64, disabled: false };
    expect(await saveCredentialsFile(path, [...loaded.credentials, second], loaded.form, loaded.originalEntries)).toBe('array');
    expect((readJson(path) as unknown[]).length).toBe(2);
  });

  it('writes a missing file as an array with owner-only permissions', async () => {
    const path = join(tempDir(), 'credentials.json');
    const cred: Credential = { id: 1, authMethod: 'api_key', kiroApiKey: 'ksk_x', priority: 0, machineId: HEX64, disabled: false };
    await saveCredentialsFile(path, [cred], 'missing');
    expect(Array.isArray(readJson(path))).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});

describe('envApiKeyCredential', () => {
  it('builds an in-memory API-key credential from KIRO_API_KEY', () => {
    expect(envApiKeyCredential({ kiroApiKeyCredential: '', machineId: '' })).toBeUndefined();
    const cred = envApiKeyCredential({ kiroApiKeyCredential: 'ksk_env', machineId: '' });
    expect(cred).toMatchObject({ id: ENV_API_KEY_CREDENTIAL_ID, authMethod: 'api_key', kiroApiKey: 'ksk_env', priority: 0, disabled: false });
    expect(cred?.machineId).toMatch(/^[0-9a-f]{64}$/);
  });
});
