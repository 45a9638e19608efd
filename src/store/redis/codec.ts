/**
 * Key layout and hash encoding of the Redis credential store. Lua scripts build the same key names
 * from the prefix, so the suffix constants below are interpolated into them (one source of truth).
 */
import { createHash } from 'node:crypto';
import type { Credential, CredentialStats } from '../../credentials/types.js';

/** Suffix of the per-credential hash of durable fields: `${prefix}cred:${id}`. */
export const CRED_KEY = 'cred:';
/** Suffix of the per-credential stats hash: `${prefix}stats:${id}`. */
export const STATS_KEY = 'stats:';

// Internal hash fields next to the Credential fields; the `_` keeps them apart from kiro.rs names.
/** Revision, bumped by every durable write; offline updates compare against it. */
export const REV_FIELD = '_rev';
/** SHA-256 of the original refresh token / API key (see seedHashOf). */
export const SEED_HASH_FIELD = '_seed';
/** `expiresAt` as epoch ms, so Lua can compare token ages without parsing RFC 3339. */
export const EXPIRES_MS_FIELD = '_exp';
/** The Credential field that orders tokens of different refreshes (epoch ms), read by RECONCILE_SCRIPT. */
export const REFRESHED_AT_FIELD = 'refreshedAt' satisfies keyof Credential;

/**
 * Every Redis key and channel the store uses, all under one prefix.
 *
 * | key | type | content |
 * |---|---|---|
 * | `{p}ids` | sorted set | credential ids (score = id) |
 * | `{p}seq` | string | highest id ever allocated (ids are never reused) |
 * | `{p}cred:{id}` | hash | Credential fields + `_rev`, `_seed`, `_exp` |
 * | `{p}stats:{id}` | hash | CredentialStats fields |
 * | `{p}seedhash` | hash | sha256(original refresh token or API key) → id; kept after removal |
 * | `{p}meta` | hash | `createdAt`; its absence after a restart means Redis lost its data |
 * | `{p}lock:refresh:{id}` | string | Redlock value of the refresh lock's holder (PX = lockTtlMs; on the lock nodes when `lockNodes` is set) |
 * | `{p}replica:{replicaId}` | string | heartbeat JSON, short TTL |
 * | `{p}replicas` | sorted set | replica ids scored by last heartbeat (for listing without SCAN) |
 * | `{p}events` | pub/sub channel | `{"id":1|null,"replica":"…","kind":"update"|…}` |
 */
export interface RedisKeys {
  readonly prefix: string;
  readonly ids: string;
  readonly seq: string;
  readonly seedHashes: string;
  readonly meta: string;
  readonly events: string;
  readonly replicas: string;
  /** Hash of shared gateway settings (load-balancing mode). */
  readonly settings: string;
  cred(id: number): string;
  stats(id: number): string;
  refreshLock(id: number): string;
  replica(replicaId: string): string;
}

/**
 * Builds the key names. In Cluster mode every key must live in one hash slot so the multi-key Lua
 * scripts are legal; a prefix without a `{hash tag}` is therefore wrapped in one (`kiro:` → `{kiro:}`).
 */
export function redisKeys(keyPrefix: string, cluster = false): RedisKeys {
  const prefix = cluster && !/\{[^}]+\}/.test(keyPrefix) ? `{${keyPrefix}}` : keyPrefix;
  return {
    prefix,
    ids: `${prefix}ids`,
    seq: `${prefix}seq`,
    seedHashes: `${prefix}seedhash`,
    meta: `${prefix}meta`,
    settings: `${prefix}settings`,
    events: `${prefix}events`,
    replicas: `${prefix}replicas`,
    cred: (id) => `${prefix}${CRED_KEY}${id}`,
    stats: (id) => `${prefix}${STATS_KEY}${id}`,
    refreshLock: (id) => `${prefix}lock:refresh:${id}`,
    replica: (replicaId) => `${prefix}replica:${replicaId}`,
  };
}

type FieldKind = 'string' | 'number' | 'boolean';

/** How each Credential field is stored; `satisfies` makes a new Credential field a compile error here. */
const CREDENTIAL_FIELDS = {
  id: 'number',
  authMethod: 'string',
  refreshToken: 'string',
  accessToken: 'string',
  expiresAt: 'string',
  profileArn: 'string',
  clientId: 'string',
  clientSecret: 'string',
  kiroApiKey: 'string',
  priority: 'number',
  region: 'string',
  authRegion: 'string',
  apiRegion: 'string',
  machineId: 'string',
  email: 'string',
  subscriptionTitle: 'string',
  proxyUrl: 'string',
  proxyUsername: 'string',
  proxyPassword: 'string',
  endpoint: 'string',
  disabled: 'boolean',
  disabledReason: 'string',
  disabledUntil: 'string',
  refreshedAt: 'number',
  forcedRefreshAt: 'number',
} as const satisfies Record<keyof Credential, FieldKind>;

/**
 * Fields a token refresh writes. While Redis is unreachable they are reconciled by the time of the
 * refresh (`refreshedAt`; `_exp` for tokens without one), the others by revision; see RECONCILE_SCRIPT.
 */
export const TOKEN_FIELDS: ReadonlySet<string> = new Set([
  'refreshToken',
  'accessToken',
  'expiresAt',
  'profileArn',
  'refreshedAt',
  'forcedRefreshAt',
]);

function isCredentialField(name: string): name is keyof Credential {
  return Object.hasOwn(CREDENTIAL_FIELDS, name);
}

/** A credential patch as Redis operations: flat `[field, value, …]` pairs to HSET and fields to HDEL. */
export interface EncodedPatch {
  set: string[];
  del: string[];
}

/**
 * Encodes a (partial) credential. A key present with value `undefined` means "remove the field"
 * (e.g. clearing `disabledReason`). `expiresAt` also writes `_exp`. `id` is never part of a patch.
 */
export function encodeCredentialPatch(patch: Partial<Credential>): EncodedPatch {
  const set: string[] = [];
  const del: string[] = [];
  for (const [name, value] of Object.entries(patch)) {
    if (!isCredentialField(name) || name === 'id') continue;
    if (value === undefined || value === null) {
      del.push(name);
      if (name === 'expiresAt') del.push(EXPIRES_MS_FIELD);
      continue;
    }
    const kind: FieldKind = CREDENTIAL_FIELDS[name];
    set.push(name, kind === 'boolean' ? (value ? '1' : '0') : String(value));
    if (name === 'expiresAt') {
      const ms = Date.parse(String(value));
      set.push(EXPIRES_MS_FIELD, Number.isFinite(ms) ? String(ms) : '0');
    }
  }
  return { set, del };
}

/** Splits an encoded patch into the token group and the rest (for offline reconciliation). */
export function splitTokenFields(encoded: EncodedPatch): { token: EncodedPatch; other: EncodedPatch } {
  const token: EncodedPatch = { set: [], del: [] };
  const other: EncodedPatch = { set: [], del: [] };
  const isToken = (f: string) => TOKEN_FIELDS.has(f) || f === EXPIRES_MS_FIELD;
  for (let i = 0; i < encoded.set.length; i += 2) {
    (isToken(encoded.set[i]) ? token : other).set.push(encoded.set[i], encoded.set[i + 1]);
  }
  for (const f of encoded.del) (isToken(f) ? token : other).del.push(f);
  return { token, other };
}

/** A credential hash as read back from Redis. */
export interface DecodedCredential {
  credential: Credential;
  rev: number;
  seedHash: string;
}

/** Turns HGETALL's flat `[field, value, …]` reply into a map. */
export function flatToMap(flat: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i], flat[i + 1]);
  return map;
}

/** Decodes a credential hash; `undefined` when the hash is missing (empty reply). */
export function decodeCredential(flat: readonly string[]): DecodedCredential | undefined {
  if (flat.length === 0) return undefined;
  const map = flatToMap(flat);
  const out: Record<string, unknown> = {};
  for (const [name, raw] of map) {
    if (!isCredentialField(name)) continue;
    const kind: FieldKind = CREDENTIAL_FIELDS[name];
    out[name] = kind === 'number' ? Number(raw) : kind === 'boolean' ? raw === '1' : raw;
  }
  out.disabled = out.disabled === true;
  out.priority = typeof out.priority === 'number' && Number.isFinite(out.priority) ? out.priority : 0;
  out.authMethod ??= 'social';
  out.machineId ??= '';
  return {
    credential: out as unknown as Credential,
    rev: Number(map.get(REV_FIELD) ?? 0),
    seedHash: map.get(SEED_HASH_FIELD) ?? '',
  };
}

/** Encodes full stats (used when re-seeding an empty Redis from the local copy). */
export function encodeStats(stats: CredentialStats): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(stats)) {
    if (value !== undefined && value !== null) out.push(name, String(value));
  }
  return out;
}

/** Decodes a stats hash; missing counters are 0. */
export function decodeStats(flat: readonly string[]): CredentialStats {
  const map = flatToMap(flat);
  const num = (name: string) => {
    const n = Number(map.get(name) ?? 0);
    return Number.isFinite(n) ? n : 0;
  };
  const stats: CredentialStats = {
    failureCount: num('failureCount'),
    refreshFailureCount: num('refreshFailureCount'),
    successCount: num('successCount'),
    failureTotal: num('failureTotal'),
    creditsUsed: num('creditsUsed'),
  };
  const lastUsedAt = map.get('lastUsedAt');
  const lastError = map.get('lastError');
  const cooldownUntil = map.get('cooldownUntil');
  if (lastUsedAt !== undefined) stats.lastUsedAt = lastUsedAt;
  if (lastError !== undefined) stats.lastError = lastError;
  if (cooldownUntil !== undefined && Number.isFinite(Number(cooldownUntil))) stats.cooldownUntil = Number(cooldownUntil);
  return stats;
}

/**
 * Identity of a credential as first seen: SHA-256 (hex) of its refresh token, or of its API key.
 * '' when it has neither. Stored once and never updated, so a rotated token still matches its file entry.
 */
export function seedHashOf(credential: Pick<Credential, 'refreshToken' | 'kiroApiKey'>): string {
  const secret = credential.refreshToken || credential.kiroApiKey;
  return secret ? createHash('sha256').update(secret).digest('hex') : '';
}
