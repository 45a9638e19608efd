/**
 * The admin API's wire shapes: the JSON bodies of /api/admin (kiro.rs-compatible plus the gateway's
 * additions). The server (src/admin/) answers with them and the admin UI (admin-ui/src/api.ts)
 * reads them, so they are declared once, here. Types only, and imported only from modules without
 * imports, so the UI's browser build can take this file as it is.
 */
import type { LoadBalancingMode } from '../config/gateway-config.js';
import type { AuthMethod, DisabledReason } from '../credentials/types.js';
import type { KeyLimits } from '../keys/types.js';

export type { AuthMethod, DisabledReason, KeyLimits, LoadBalancingMode };

/** One gateway process as seen through the shared store. */
export interface ReplicaInfo {
  id: string;
  /** RFC 3339 time of the replica's last heartbeat. */
  lastSeen: string;
  /** Requests (streams) the replica is serving right now. */
  inFlight: number;
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

/** `GET /credentials/:id/balance` (kiro.rs BalanceResponse): the getUsageLimits digest (docs/kiro-protocol.md §1.3). */
export interface Balance {
  id: number;
  subscriptionTitle: string | null;
  currentUsage: number;
  usageLimit: number;
  remaining: number;
  /** 0..100. */
  usagePercentage: number;
  /** Unix epoch seconds (float), as the upstream sends it; null when unknown. */
  nextResetAt: number | null;
}

/** `GET` and `PUT /config/load-balancing`. */
export interface LoadBalancingBody {
  mode: LoadBalancingMode;
}

/** `POST /credentials` (kiro.rs AddCredentialRequest, §10). Every field is optional on the wire; the server checks them. */
export interface AddCredentialRequest {
  refreshToken?: string;
  /** `social`, `idc`, `builder-id`, `iam`, `api_key` or `apikey`. */
  authMethod?: string;
  clientId?: string;
  clientSecret?: string;
  priority?: number;
  region?: string;
  authRegion?: string;
  apiRegion?: string;
  machineId?: string;
  email?: string;
  proxyUrl?: string;
  proxyUsername?: string;
  proxyPassword?: string;
  kiroApiKey?: string;
  endpoint?: string;
}

// --- client keys (`/keys`, `/usage`) ---

/** One managed client key as listed: never the key itself (it is shown once, on creation), nor its hash. */
export interface ClientKeyItem {
  id: string;
  name: string;
  owner: string;
  enabled: boolean;
  /** Model names or `*` patterns the key may use; empty = any. */
  models: string[];
  /** Credential ids that may serve the key's requests; empty = any. */
  credentials: number[];
  limits: KeyLimits;
  /** `sk-kgw-…` and the key's last four characters. */
  hint: string;
  createdAt: string;
  updatedAt: string;
}

/** `GET /keys`. */
export interface ClientKeysResponse {
  keys: ClientKeyItem[];
  /** Where limits are enforced right now: `shared` (Redis), `local` (Redis unreachable: each replica its share), `process` (no Redis). */
  limiter: { mode: 'shared' | 'local' | 'process'; replicas: number };
}

/** `POST /keys`; `PATCH /keys/:id` takes any subset of it. A limit of 0 or null removes it. */
export interface ClientKeyRequest {
  name?: string;
  owner?: string;
  enabled?: boolean;
  models?: string[];
  credentials?: number[];
  limits?: { [K in keyof KeyLimits]?: number | null };
}

/** `POST /keys` (201): the key, shown this once. */
export interface CreatedClientKeyResponse {
  success: true;
  message: string;
  key: ClientKeyItem;
  /** The API key for clients (`x-api-key`). It cannot be retrieved again. */
  secret: string;
}

/** `PATCH /keys/:id`, `DELETE /keys/:id`. */
export interface ClientKeyChangeResponse {
  success: true;
  message: string;
  key?: ClientKeyItem;
}

/** One subject's usage in one hour or day (UTC). */
export interface UsageRowBody {
  /** RFC 3339 start of the hour or day. */
  start: string;
  subject: 'key' | 'credential';
  /** Key id (`config` = the configured apiKey) or credential id. */
  id: string;
  /** Key name, or the credential's email when known. */
  name: string | null;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  credits: number;
  errors: number;
  /** Requests refused by the key's limits (keys only). */
  rateLimited: number;
}

/** `GET /usage?granularity=hour|day&from=&to=&subject=key|credential` (also `/usage.csv`). */
export interface UsageResponse {
  granularity: 'hour' | 'day';
  from: string;
  to: string;
  rows: UsageRowBody[];
}
