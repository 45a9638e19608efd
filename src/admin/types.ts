/**
 * What the admin API needs from the rest of the gateway, and the wire shapes it answers with.
 *
 * The admin routes depend only on this narrow interface (not on the pool, the refresher or the
 * Redis store directly) so they can be tested with a real store and small fakes, and so the
 * integrator decides how each capability is provided in single-process and multi-replica mode.
 */
import type { KiroEndpoint, LoadBalancingMode } from '../config.js';
import type { AuthMethod, Credential, DisabledReason } from '../credentials/types.js';
import type { CredentialStore } from '../store/store.js';

/** getUsageLimits digest (docs/kiro-protocol.md §1.3); also the body of `GET /credentials/:id/balance`. */
export type { Balance } from '../credentials/balance.js';
import type { Balance } from '../credentials/balance.js';

/** One gateway process as seen through the shared store. */
export interface ReplicaInfo {
  id: string;
  /** RFC 3339 time of the replica's last heartbeat. */
  lastSeen: string;
  /** Requests (streams) the replica is serving right now. */
  inFlight: number;
}

/**
 * Capabilities the admin routes use. Errors thrown by the async members should be
 * `GatewayError`s: a 4xx class means "the upstream rejected this credential" (answered as 400),
 * anything else is treated as an upstream or network failure (answered as 502 api_error).
 * Error messages are shown to the admin, so they must not contain secrets (the routes still
 * redact the credential's own secrets from them as a second line of defence).
 */
export interface AdminDeps {
  /** Admin key (config `adminApiKey` / env KIRO_ADMIN_API_KEY). Empty or blank = admin API disabled. */
  adminApiKey: string;
  /** Every change goes through the store, which persists it and notifies other replicas. */
  store: CredentialStore;
  /** Requests this replica is serving with credential `id` right now. */
  inFlight(id: number): number;
  /**
   * Credential the pool would pick next in `priority` mode (kiro.rs `currentId`), or null.
   * Optional: without it the first enabled credential by priority is reported.
   */
  currentId?(): number | null;
  getMode(): LoadBalancingMode;
  /** Changes the mode for every replica (and persists it). */
  setMode(mode: LoadBalancingMode): Promise<void> | void;
  /** Unconditional token refresh of an OAuth credential; stores the new tokens itself. */
  refreshToken(id: number): Promise<void>;
  /**
   * Validates a credential before it is added: a real token refresh for OAuth kinds, nothing (or
   * a cheap check) for API keys. Returns the fields to store with it (accessToken, a rotated
   * refreshToken, profileArn, expiresAt…).
   */
  validateNewCredential(credential: Omit<Credential, 'id'>): Promise<Partial<Credential>>;
  /** Balance of one credential; `fresh` bypasses the balance cache (the UI's refresh button). */
  getBalance(id: number, options?: { fresh?: boolean }): Promise<Balance>;
  /** Every live replica sharing the store (just this one in memory mode). */
  listReplicas(): Promise<ReplicaInfo[]>;
  /** Config `defaultEndpoint`: the wire shown for credentials without their own `endpoint`. Default `ide`. */
  defaultEndpoint?: KiroEndpoint;
  /** Config `machineId` (§3): given to added credentials that bring none. Optional. */
  configMachineId?: string;
  /** Id of this replica, reported as the one that answered `GET /cluster`. */
  replicaId: string;
}

/** One entry of `GET /credentials` (kiro.rs `CredentialStatusItem` plus live stats). Secret-free. */
export interface CredentialStatusItem {
  id: number;
  priority: number;
  disabled: boolean;
  /** Omitted when enabled. */
  disabledReason?: DisabledReason;
  /** RFC 3339; when a QuotaExceeded credential re-enables itself. */
  disabledUntil: string | null;
  failureCount: number;
  isCurrent: boolean;
  expiresAt: string | null;
  authMethod: AuthMethod;
  hasProfileArn: boolean;
  /** Full SHA-256 hex of the refresh token, as kiro.rs (a one-way digest, not the token). */
  refreshTokenHash: string | null;
  /** Full SHA-256 hex of the API key, as kiro.rs. */
  apiKeyHash: string | null;
  /** `ksk_...abcd` style hint, as kiro.rs; `***` for short keys. */
  maskedApiKey: string | null;
  /** First 8 hex of the SHA-256 of the refresh token or API key: enough to tell credentials apart. */
  fingerprint: string | null;
  email: string | null;
  subscriptionTitle: string | null;
  successCount: number;
  lastUsedAt: string | null;
  hasProxy: boolean;
  /** Proxy URL with any password replaced by `***`; omitted when there is no proxy. */
  proxyUrl?: string;
  refreshFailureCount: number;
  /** The wire the credential speaks: its own `endpoint`, else the configured `defaultEndpoint`. */
  endpoint: string;
  region: string | null;
  apiRegion: string | null;
  // --- gateway additions ---
  failureTotal: number;
  /** Kiro credits metered to this credential (sum of meteringEvents over every replica; not tokens). */
  creditsUsed: number;
  lastError: string | null;
  /** RFC 3339; the credential is skipped until then (after a 429). */
  cooldownUntil: string | null;
  /** Requests in flight on the replica that answered. */
  inFlight: number;
}

/** `GET /credentials` (kiro.rs `CredentialsStatusResponse`). */
export interface CredentialsStatusResponse {
  total: number;
  available: number;
  currentId: number | null;
  credentials: CredentialStatusItem[];
}

/** Answer of every mutating route (kiro.rs shape). */
export interface SuccessResponse {
  success: true;
  message: string;
  credentialId?: number;
  email?: string;
}

/** `GET /cluster`. */
export interface ClusterResponse {
  /** Replica that served this request. */
  answeredBy: string;
  replicas: Array<ReplicaInfo & { self: boolean }>;
}
