/**
 * Secret-free projections of credentials for the admin API.
 *
 * Everything the admin API returns about a credential is built here, field by field (never by
 * spreading the record), so a new secret field on `Credential` cannot leak by accident. Secrets
 * (SECRET_FIELDS) only appear as one-way digests: the full SHA-256 kiro.rs returns, and a short
 * fingerprint for display.
 */
import { createHash } from 'node:crypto';
import type { KiroEndpoint } from '../config.js';
import type { Credential, CredentialRecord } from '../credentials/types.js';
import { SECRET_FIELDS } from '../credentials/types.js';
import type { CredentialStatusItem, CredentialsStatusResponse } from './wire-types.js';

/** Length of the display fingerprint (hex chars of SHA-256): 32 bits, enough to tell keys apart. */
export const FINGERPRINT_LENGTH = 8;
/** kiro.rs only shows the ends of API keys longer than this. */
const MASK_MIN_LENGTH = 16;
const MASK_VISIBLE = 4;
const REDACTED = '***';

/** Hex SHA-256 of a UTF-8 string: kiro.rs's `refreshTokenHash` / `apiKeyHash`, and duplicate detection. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Short display fingerprint of a secret (first 8 hex of its SHA-256). */
export function fingerprintOf(value: string): string {
  return sha256Hex(value).slice(0, FINGERPRINT_LENGTH);
}

/** kiro.rs `maskedApiKey`: first 4 + `...` + last 4 for ASCII keys longer than 16 chars, else `***`. */
export function maskApiKey(key: string): string {
  // eslint-disable-next-line no-control-regex
  if (key.length <= MASK_MIN_LENGTH || !/^[\x00-\x7f]*$/.test(key)) return REDACTED;
  return `${key.slice(0, MASK_VISIBLE)}...${key.slice(-MASK_VISIBLE)}`;
}

/** A proxy URL with a host, or undefined (unparseable, or no `//`: `user:pass@host` parses as scheme `user:`). */
function parseProxyUrl(proxyUrl: string): URL | undefined {
  try {
    const url = new URL(proxyUrl);
    return url.host ? url : undefined;
  } catch {
    return undefined;
  }
}

/** Replaces the password (and, if it cannot be parsed, everything before `@`) of a proxy URL. */
export function redactProxyUrl(proxyUrl: string): string {
  const url = parseProxyUrl(proxyUrl);
  if (!url) {
    const at = proxyUrl.lastIndexOf('@');
    return at === -1 ? proxyUrl : `${REDACTED}@${proxyUrl.slice(at + 1)}`;
  }
  if (!url.password) return proxyUrl;
  url.password = REDACTED;
  return url.toString();
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Every secret value a credential holds, including a password embedded in its proxy URL. */
export function secretsOf(credential: Credential): string[] {
  const values: string[] = [];
  for (const field of SECRET_FIELDS) {
    const value = credential[field];
    if (typeof value === 'string' && value.length > 0) values.push(value);
  }
  if (credential.proxyUrl) {
    const url = parseProxyUrl(credential.proxyUrl);
    const at = credential.proxyUrl.lastIndexOf('@');
    if (url?.password) values.push(safeDecode(url.password));
    else if (!url && at > 0) values.push(credential.proxyUrl.slice(0, at));
  }
  return values;
}

/**
 * Token-shaped runs: 32+ base64/base64url characters mixing letters and digits. Tokens, keys and
 * secrets look like this; words, hosts (dots break the run) and ARNs (colons) do not.
 */
const TOKEN_LIKE = /[A-Za-z0-9+/=_-]{32,}/g;

/**
 * Removes secrets from a free-text message (upstream errors, lastError) before it is shown: first
 * the given values (longest first, so a secret containing another goes whole), then anything
 * token-shaped, since a message may quote a token the credential no longer holds (rotated).
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 4) out = out.split(secret).join(REDACTED);
  }
  return out.replace(TOKEN_LIKE, (run) => (/\d/.test(run) && /[A-Za-z]/.test(run) ? REDACTED : run));
}

function iso(epochMs: number | undefined): string | null {
  return epochMs === undefined || !Number.isFinite(epochMs) ? null : new Date(epochMs).toISOString();
}

/** One credential as the admin API shows it. */
export function toStatusItem(
  record: CredentialRecord,
  isCurrent: boolean,
  inFlight: number,
  defaultEndpoint: KiroEndpoint = 'ide',
): CredentialStatusItem {
  const c = record.credential;
  const s = record.stats;
  const secret = c.authMethod === 'api_key' ? c.kiroApiKey : c.refreshToken;
  const item: CredentialStatusItem = {
    id: c.id,
    priority: c.priority,
    disabled: c.disabled,
    disabledUntil: c.disabledUntil ?? null,
    failureCount: s.failureCount,
    isCurrent,
    expiresAt: c.expiresAt ?? null,
    authMethod: c.authMethod,
    hasProfileArn: Boolean(c.profileArn),
    refreshTokenHash: c.refreshToken ? sha256Hex(c.refreshToken) : null,
    apiKeyHash: c.kiroApiKey ? sha256Hex(c.kiroApiKey) : null,
    maskedApiKey: c.kiroApiKey ? maskApiKey(c.kiroApiKey) : null,
    fingerprint: secret ? fingerprintOf(secret) : null,
    email: c.email ?? null,
    subscriptionTitle: c.subscriptionTitle ?? null,
    successCount: s.successCount,
    lastUsedAt: s.lastUsedAt ?? null,
    hasProxy: Boolean(c.proxyUrl) && c.proxyUrl !== 'direct',
    refreshFailureCount: s.refreshFailureCount,
    endpoint: c.endpoint ?? defaultEndpoint,
    region: c.region ?? null,
    apiRegion: c.apiRegion ?? null,
    failureTotal: s.failureTotal,
    creditsUsed: s.creditsUsed,
    lastError: s.lastError ? redactSecrets(s.lastError, secretsOf(c)) : null,
    cooldownUntil: iso(s.cooldownUntil),
    inFlight,
  };
  if (c.disabled && c.disabledReason) item.disabledReason = c.disabledReason;
  if (c.proxyUrl) item.proxyUrl = redactProxyUrl(c.proxyUrl);
  return item;
}

/** kiro.rs `currentId` when the pool does not say: the first enabled credential by priority. */
export function defaultCurrentId(records: readonly CredentialRecord[]): number | null {
  return sortByPriority(records).find((r) => !r.credential.disabled)?.credential.id ?? null;
}

/** Priority ascending (0 first), ties by id: kiro.rs's list order. */
export function sortByPriority(records: readonly CredentialRecord[]): CredentialRecord[] {
  return [...records].sort((a, b) => a.credential.priority - b.credential.priority || a.credential.id - b.credential.id);
}

/** Body of `GET /credentials`. */
export function toStatusResponse(
  records: readonly CredentialRecord[],
  currentId: number | null,
  inFlight: (id: number) => number,
  defaultEndpoint: KiroEndpoint = 'ide',
): CredentialsStatusResponse {
  const sorted = sortByPriority(records);
  return {
    total: sorted.length,
    available: sorted.filter((r) => !r.credential.disabled).length,
    currentId,
    credentials: sorted.map((r) => toStatusItem(r, r.credential.id === currentId, inFlight(r.credential.id), defaultEndpoint)),
  };
}
