/**
 * Credential model shared by every store implementation, the pool and the admin API.
 * Field names follow kiro.rs's credentials.json (docs/kiro-protocol.md §11.2) so files load unchanged.
 */

export type AuthMethod = 'social' | 'idc' | 'api_key';

/** Why a credential is disabled (kiro.rs's reasons plus `Suspended`). */
export const DISABLED_REASONS = [
  'Manual',
  'TooManyFailures',
  'TooManyRefreshFailures',
  'QuotaExceeded',
  'InvalidRefreshToken',
  'InvalidConfig',
  'Suspended',
] as const;

export type DisabledReason = (typeof DISABLED_REASONS)[number];

/** One entry of credentials.json exactly as kiro.rs reads and writes it (all optional on input). */
export interface CredentialFileEntry {
  id?: number;
  accessToken?: string;
  refreshToken?: string;
  profileArn?: string;
  expiresAt?: string;
  authMethod?: string;
  clientId?: string;
  clientSecret?: string;
  priority?: number;
  region?: string;
  authRegion?: string;
  apiRegion?: string;
  machineId?: string;
  email?: string;
  subscriptionTitle?: string;
  proxyUrl?: string;
  proxyUsername?: string;
  proxyPassword?: string;
  disabled?: boolean;
  kiroApiKey?: string;
  endpoint?: string;
  /** Any other key found in the file is kept and written back untouched. */
  [extra: string]: unknown;
}

/** The durable part of a credential: identity, secrets, routing and the disabled flag. */
export interface Credential {
  id: number;
  authMethod: AuthMethod;
  refreshToken?: string;
  accessToken?: string;
  /** RFC 3339. */
  expiresAt?: string;
  profileArn?: string;
  clientId?: string;
  clientSecret?: string;
  kiroApiKey?: string;
  priority: number;
  region?: string;
  authRegion?: string;
  apiRegion?: string;
  /** Always set after load: 64 lowercase hex (docs/kiro-protocol.md §3). */
  machineId: string;
  email?: string;
  subscriptionTitle?: string;
  proxyUrl?: string;
  proxyUsername?: string;
  proxyPassword?: string;
  endpoint?: string;
  disabled: boolean;
  disabledReason?: DisabledReason;
  /** RFC 3339; a QuotaExceeded credential re-enables itself at this time (the quota reset date). */
  disabledUntil?: string;
  /**
   * Epoch ms of the refresh that issued `accessToken` (written with the tokens, never to
   * credentials.json). Orders tokens obtained by different replicas while Redis was unreachable: the
   * newest refresh holds the live refresh token when the auth service rotates it.
   */
  refreshedAt?: number;
  /** Epoch ms of the last refresh forced by an upstream rejection of a still valid token (pacing). */
  forcedRefreshAt?: number;
}

/** The fast-moving part: counters and timestamps, updated on every request. */
export interface CredentialStats {
  /** Consecutive credential failures (401/403); 3 → TooManyFailures. */
  failureCount: number;
  /** Consecutive refresh failures; 3 → TooManyRefreshFailures. */
  refreshFailureCount: number;
  successCount: number;
  failureTotal: number;
  /** Kiro credits metered to this credential (meteringEvent sums; a float, not tokens). */
  creditsUsed: number;
  /** RFC 3339. */
  lastUsedAt?: string;
  /** Short, secret-free description of the last failure. */
  lastError?: string;
  /** Epoch ms; the credential is skipped until then (after a 429). */
  cooldownUntil?: number;
}

export interface CredentialRecord {
  credential: Credential;
  stats: CredentialStats;
}

export const EMPTY_STATS: Readonly<CredentialStats> = Object.freeze({
  failureCount: 0,
  refreshFailureCount: 0,
  successCount: 0,
  failureTotal: 0,
  creditsUsed: 0,
});

/** Fields that must never leave the process in logs, metrics, spans or admin responses. */
export const SECRET_FIELDS = [
  'refreshToken',
  'accessToken',
  'clientSecret',
  'kiroApiKey',
  'proxyPassword',
] as const satisfies ReadonlyArray<keyof Credential>;
