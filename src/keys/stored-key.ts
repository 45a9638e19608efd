/**
 * The checks every key record passes, whether it comes from an admin request, client-keys.json or
 * Redis: limits are whole numbers ≥ 0, model patterns and credential ids well formed, text short.
 * A failure is an InvalidRequestError naming the field (a 400 from the admin API, a start-up error
 * for the file).
 */
import { InvalidRequestError } from '../errors.js';
import { KEY_ID_PATTERN } from './secret.js';
import { LIMIT_NAMES, type ClientKeyRecord, type KeyLimits } from './types.js';

export const MAX_NAME_LENGTH = 200;
export const MAX_OWNER_LENGTH = 1000;
const MAX_MODELS = 100;
const MAX_MODEL_LENGTH = 200;
const MAX_CREDENTIALS = 1000;
/** Far above any real limit, and exact in a double and in Lua. */
export const MAX_LIMIT = 1e12;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function checkText(value: unknown, field: string, max: number, where = ''): string {
  if (typeof value !== 'string') throw new InvalidRequestError(`${where}Field "${field}" must be a string`);
  if (value.length > max) throw new InvalidRequestError(`${where}Field "${field}" is longer than ${max} characters`);
  return value;
}

/** `{requestsPerMinute?, tokensPerMinute?, tokensPerDay?, creditsPerDay?, concurrentStreams?}`; 0 or null = none. */
export function checkLimits(value: unknown, where = ''): KeyLimits {
  if (!isObject(value)) throw new InvalidRequestError(`${where}Field "limits" must be an object such as {"requestsPerMinute": 60}`);
  const out: KeyLimits = {};
  for (const [name, raw] of Object.entries(value)) {
    if (!(LIMIT_NAMES as readonly string[]).includes(name)) {
      throw new InvalidRequestError(`${where}Unknown limit "${name}"; known: ${LIMIT_NAMES.join(', ')}`);
    }
    if (raw === null || raw === 0) continue;
    const integer = name !== 'creditsPerDay';
    if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0 || raw > MAX_LIMIT || (integer && !Number.isInteger(raw))) {
      throw new InvalidRequestError(
        `${where}Limit "${name}" must be ${integer ? 'a whole number' : 'a number'} from 0 (no limit) to ${MAX_LIMIT}`,
      );
    }
    out[name as keyof KeyLimits] = raw;
  }
  return out;
}

/** Model names or patterns with `*`. */
export function checkModels(value: unknown, where = ''): string[] {
  if (!Array.isArray(value) || value.length > MAX_MODELS) {
    throw new InvalidRequestError(`${where}Field "models" must be an array of at most ${MAX_MODELS} model names (empty = any model)`);
  }
  return [
    ...new Set(
      value.map((m) => {
        const model = checkText(m, 'models[]', MAX_MODEL_LENGTH, where).trim();
        if (!/^[A-Za-z0-9._:*/-]+$/.test(model)) {
          throw new InvalidRequestError(`${where}Model "${model.slice(0, 60)}" may contain only letters, digits, . _ : / - and * (any characters)`);
        }
        return model;
      }),
    ),
  ];
}

/** Credential ids. */
export function checkCredentialIds(value: unknown, where = ''): number[] {
  if (!Array.isArray(value) || value.length > MAX_CREDENTIALS) {
    throw new InvalidRequestError(`${where}Field "credentials" must be an array of credential ids (empty = any credential)`);
  }
  return [
    ...new Set(
      value.map((id) => {
        if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
          throw new InvalidRequestError(`${where}Field "credentials" must hold credential ids (non-negative integers)`);
        }
        return id;
      }),
    ),
  ];
}

/** A stored record, checked field by field (`where` prefixes the messages). */
export function parseStoredKey(value: unknown, where: string): ClientKeyRecord {
  const at = `${where}: `;
  if (!isObject(value)) throw new InvalidRequestError(`${at}expected an object`);
  const id = checkText(value.id, 'id', 40, at);
  if (!KEY_ID_PATTERN.test(id)) throw new InvalidRequestError(`${at}Field "id" must look like key_0123456789abcdef`);
  const keyHash = checkText(value.keyHash, 'keyHash', 64, at);
  if (!/^[0-9a-f]{64}$/.test(keyHash)) throw new InvalidRequestError(`${at}Field "keyHash" must be a SHA-256 hex digest`);
  if (typeof value.enabled !== 'boolean') throw new InvalidRequestError(`${at}Field "enabled" must be a boolean`);
  return {
    id,
    name: checkText(value.name, 'name', MAX_NAME_LENGTH, at),
    owner: checkText(value.owner ?? '', 'owner', MAX_OWNER_LENGTH, at),
    enabled: value.enabled,
    models: checkModels(value.models ?? [], at),
    credentials: checkCredentialIds(value.credentials ?? [], at),
    limits: checkLimits(value.limits ?? {}, at),
    keyHash,
    hint: checkText(value.hint ?? '', 'hint', 40, at),
    createdAt: checkText(value.createdAt, 'createdAt', 40, at),
    updatedAt: checkText(value.updatedAt ?? value.createdAt, 'updatedAt', 40, at),
  };
}
