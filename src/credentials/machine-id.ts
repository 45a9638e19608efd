/**
 * Machine ids sent in Kiro user agents (docs/kiro-protocol.md §3). The upstream only needs the id
 * to be stable per account, so it is derived from the credential once and then stored with it.
 */
import { createHash, randomUUID } from 'node:crypto';

const HEX64 = /^[0-9a-f]{64}$/;
const HEX32 = /^[0-9a-f]{32}$/;

const API_KEY_PREFIX = 'KiroAPIKey/';
const OAUTH_PREFIX = 'KotlinNativeAPI/';
const FALLBACK_PREFIX = 'KiroFallback/';

/** Fallback ids are random, so they are remembered per credential id for the process lifetime. */
const fallbackIds = new Map<number, string>();

function sha256Hex(input: string): string {
  return createHash('sha256').update(input, 'utf8').digest('hex');
}

/**
 * Normalises a configured machine id: 64 hex is used as is (lower-cased); a UUID (with or without
 * dashes) becomes its 32 hex digits twice; anything else is invalid (`undefined`).
 */
export function normalizeMachineId(value: string | undefined | null): string | undefined {
  if (!value) return undefined;
  const s = value.trim().toLowerCase();
  if (HEX64.test(s)) return s;
  const compact = s.replaceAll('-', '');
  if (HEX32.test(compact)) return compact + compact;
  return undefined;
}

/** The credential fields the derivation looks at. */
export interface MachineIdSource {
  id?: number;
  machineId?: string;
  kiroApiKey?: string;
  refreshToken?: string;
}

/**
 * Machine id of a credential, by §3's priority: its own valid `machineId`, the config's valid
 * `machineId`, sha256 of the API key or refresh token, then a random per-process fallback.
 */
export function machineIdFor(cred: MachineIdSource, configMachineId?: string): string {
  const own = normalizeMachineId(cred.machineId);
  if (own) return own;
  const global = normalizeMachineId(configMachineId);
  if (global) return global;
  if (cred.kiroApiKey) return sha256Hex(API_KEY_PREFIX + cred.kiroApiKey);
  if (cred.refreshToken) return sha256Hex(OAUTH_PREFIX + cred.refreshToken);
  if (cred.id === undefined) return sha256Hex(FALLBACK_PREFIX + randomUUID());
  let id = fallbackIds.get(cred.id);
  if (!id) {
    id = sha256Hex(FALLBACK_PREFIX + randomUUID());
    fallbackIds.set(cred.id, id);
  }
  return id;
}
