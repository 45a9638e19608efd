/**
 * Input checks of the admin API: JSON bodies, path ids and the AddCredentialRequest
 * (docs/kiro-protocol.md §10). Every failure is an InvalidRequestError with a message naming the
 * field, so bad input is always a 400, never a 500.
 */
import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import type { LoadBalancingMode } from '../config.js';
import type { AuthMethod, Credential } from '../credentials/types.js';
import { InvalidRequestError } from '../errors.js';
import { parseJsonText, readBodyText } from '../http/body.js';
import { KIRO_ENDPOINTS } from '../kiro/endpoint.js';

/** Admin bodies are tiny; a credential with every field set is well under 16 KiB. */
export const MAX_BODY_BYTES = 64 * 1024;
/** kiro.rs rejects shorter refresh tokens as truncated (§2.1). */
export const MIN_REFRESH_TOKEN_LENGTH = 100;
const MAX_FIELD_LENGTH = 16 * 1024;
const MAX_PRIORITY = 1_000_000;

/**
 * Reads and parses the JSON body; `undefined` when there is none. Uses `ctx.request.body` when a
 * body parser upstream already did the work.
 */
export async function readJsonBody(ctx: Context): Promise<unknown> {
  const parsed = (ctx.request as { body?: unknown }).body;
  if (parsed !== undefined) return parsed;
  const text = (await readBodyText(ctx.req, MAX_BODY_BYTES)).replace(/^\uFEFF/, '');
  return text.trim() === '' ? undefined : parseJsonText(text);
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The body as a JSON object, or a 400 naming what was expected. */
export function requireObject(body: unknown, example: string): JsonObject {
  if (!isObject(body)) {
    throw new InvalidRequestError(`Request body must be a JSON object such as ${example}`);
  }
  return body;
}

/** A path id: a non-negative safe integer written in decimal. */
export function parseId(raw: string | undefined): number {
  const text = raw ?? '';
  const id = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(id)) {
    throw new InvalidRequestError(`Invalid credential id '${text.slice(0, 40)}': expected a non-negative integer`);
  }
  return id;
}

/** `{"disabled": boolean}`. */
export function parseDisabledBody(body: unknown): boolean {
  const value = requireObject(body, '{"disabled":true}').disabled;
  if (typeof value !== 'boolean') throw new InvalidRequestError('Field "disabled" must be a boolean');
  return value;
}

/** A priority: an integer from 0 (preferred) up to a sanity bound. */
export function parsePriority(value: unknown, field = 'priority'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_PRIORITY) {
    throw new InvalidRequestError(`Field "${field}" must be an integer between 0 and ${MAX_PRIORITY}`);
  }
  return value;
}

/** `{"priority": int ≥ 0}`. */
export function parsePriorityBody(body: unknown): number {
  const obj = requireObject(body, '{"priority":1}');
  if (!('priority' in obj)) throw new InvalidRequestError('Field "priority" is required');
  return parsePriority(obj.priority);
}

/** `{"mode": "priority" | "balanced"}`, exact spelling as kiro.rs. */
export function parseModeBody(body: unknown): LoadBalancingMode {
  const mode = requireObject(body, '{"mode":"balanced"}').mode;
  if (mode !== 'priority' && mode !== 'balanced') {
    throw new InvalidRequestError('Field "mode" must be "priority" or "balanced"');
  }
  return mode;
}

/** `authMethod` spellings kiro.rs accepts, canonicalized. */
const AUTH_METHODS: Readonly<Record<string, AuthMethod>> = {
  social: 'social',
  idc: 'idc',
  'builder-id': 'idc',
  iam: 'idc',
  api_key: 'api_key',
  apikey: 'api_key',
};

const STRING_FIELDS = [
  'refreshToken',
  'authMethod',
  'clientId',
  'clientSecret',
  'region',
  'authRegion',
  'apiRegion',
  'machineId',
  'email',
  'proxyUrl',
  'proxyUsername',
  'proxyPassword',
  'kiroApiKey',
  'endpoint',
] as const;
type StringField = (typeof STRING_FIELDS)[number];

/** An AWS region name (us-east-1, eu-central-2, us-gov-west-1, cn-north-1). */
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;

const PROXY_PROTOCOLS = new Set(['http:', 'https:', 'socks5:', 'socks5h:']);

/** §3: a 64-hex id as is; a UUID (32 hex once dashes are removed) doubled; else invalid. */
export function normalizeMachineId(value: string): string | undefined {
  const lower = value.trim().toLowerCase();
  if (/^[0-9a-f]{64}$/.test(lower)) return lower;
  const hex = lower.replaceAll('-', '');
  return /^[0-9a-f]{32}$/.test(hex) ? hex + hex : undefined;
}

/** §3: stable per account, derived from the API key or refresh token as kiro.rs does. */
function deriveMachineId(authMethod: AuthMethod, secret: string): string {
  const seed = authMethod === 'api_key' ? `KiroAPIKey/${secret}` : `KotlinNativeAPI/${secret}`;
  return createHash('sha256').update(seed, 'utf8').digest('hex');
}

function readStrings(obj: JsonObject): Partial<Record<StringField, string>> {
  const out: Partial<Record<StringField, string>> = {};
  for (const field of STRING_FIELDS) {
    const value = obj[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') throw new InvalidRequestError(`Field "${field}" must be a string`);
    if (value.length > MAX_FIELD_LENGTH) throw new InvalidRequestError(`Field "${field}" is too long`);
    const trimmed = value.trim();
    if (trimmed !== '') out[field] = trimmed;
  }
  return out;
}

function checkProxyUrl(proxyUrl: string): void {
  if (proxyUrl === 'direct') return;
  let protocol: string;
  try {
    protocol = new URL(proxyUrl).protocol;
  } catch {
    throw new InvalidRequestError('Field "proxyUrl" must be a URL (http://, https://, socks5://) or "direct"');
  }
  if (!PROXY_PROTOCOLS.has(protocol)) {
    throw new InvalidRequestError(`Field "proxyUrl" has unsupported scheme ${protocol} (use http, https or socks5)`);
  }
}

/** `ide` or `cli`, spelled exactly as in credentials.json; anything else is a 400 naming both. */
function parseEndpoint(value: string): string {
  const known = KIRO_ENDPOINTS.find((e) => e === value);
  if (!known) {
    throw new InvalidRequestError(
      `Field "endpoint" must be one of ${KIRO_ENDPOINTS.join(', ')} (got '${value.slice(0, 40)}'); leave it out for the configured defaultEndpoint`,
    );
  }
  return known;
}

/**
 * Checks an AddCredentialRequest and turns it into the credential to validate and store (enabled,
 * canonical authMethod, machine id set). Follows kiro.rs: authMethod defaults to `social`
 * (`idc` when clientId and clientSecret are given, `api_key` when only kiroApiKey is), OAuth kinds
 * need a refresh token of at least 100 chars without `...`, IdC needs clientId and clientSecret.
 * Without a `machineId` the credential gets the config's one, else one derived as in §3.
 */
export function parseAddCredentialRequest(body: unknown, configMachineId?: string): Omit<Credential, 'id'> {
  const obj = requireObject(body, '{"refreshToken":"…","authMethod":"social"}');
  const s = readStrings(obj);

  let authMethod: AuthMethod;
  if (s.authMethod !== undefined) {
    const canonical = AUTH_METHODS[s.authMethod.toLowerCase()];
    if (!canonical) {
      throw new InvalidRequestError(
        `Field "authMethod" must be one of social, idc, builder-id, iam, api_key (got '${s.authMethod.slice(0, 40)}')`,
      );
    }
    authMethod = canonical;
  } else if (s.kiroApiKey && !s.refreshToken) {
    authMethod = 'api_key';
  } else {
    authMethod = s.clientId && s.clientSecret ? 'idc' : 'social';
  }

  const priority = obj.priority === undefined || obj.priority === null ? 0 : parsePriority(obj.priority);

  let secret: string;
  if (authMethod === 'api_key') {
    if (!s.kiroApiKey) throw new InvalidRequestError('Field "kiroApiKey" is required for authMethod api_key');
    secret = s.kiroApiKey;
  } else {
    if (!s.refreshToken) throw new InvalidRequestError(`Field "refreshToken" is required for authMethod ${authMethod}`);
    if (s.refreshToken.length < MIN_REFRESH_TOKEN_LENGTH || s.refreshToken.includes('...')) {
      throw new InvalidRequestError(
        `Field "refreshToken" looks truncated (it must be at least ${MIN_REFRESH_TOKEN_LENGTH} characters and not contain "...")`,
      );
    }
    if (authMethod === 'idc' && (!s.clientId || !s.clientSecret)) {
      throw new InvalidRequestError('Fields "clientId" and "clientSecret" are required for authMethod idc');
    }
    secret = s.refreshToken;
  }

  let machineId: string;
  if (s.machineId !== undefined) {
    const normalized = normalizeMachineId(s.machineId);
    if (!normalized) throw new InvalidRequestError('Field "machineId" must be 64 hex characters or a UUID');
    machineId = normalized;
  } else {
    machineId = normalizeMachineId(configMachineId ?? '') ?? deriveMachineId(authMethod, secret);
  }

  if (s.proxyUrl !== undefined) checkProxyUrl(s.proxyUrl);
  if (s.endpoint !== undefined) s.endpoint = parseEndpoint(s.endpoint);
  for (const field of ['region', 'authRegion', 'apiRegion'] as const) {
    // Regions are put into upstream host names: anything but a region name could send the token elsewhere.
    const value = s[field];
    if (value !== undefined && !REGION.test(value)) {
      throw new InvalidRequestError(`Field "${field}" must be an AWS region name such as us-east-1`);
    }
  }

  const credential: Omit<Credential, 'id'> = { authMethod, priority, machineId, disabled: false };
  const copy = [
    'refreshToken',
    'clientId',
    'clientSecret',
    'kiroApiKey',
    'region',
    'authRegion',
    'apiRegion',
    'email',
    'proxyUrl',
    'proxyUsername',
    'proxyPassword',
    'endpoint',
  ] as const;
  for (const field of copy) {
    const value = s[field];
    if (value !== undefined) credential[field] = value;
  }
  return credential;
}
