/**
 * The configuration every module reads: the `GatewayConfig` shape (CONTRACT shared by all modules),
 * and the small helpers that go with it. No imports, so the admin UI's wire types may use it.
 */

/** `priority`: one sticky credential, lowest priority number first; `balanced`: least used first. */
export type LoadBalancingMode = 'priority' | 'balanced';

/** The two wires of generateAssistantResponse: the Kiro IDE's (`ide`) and kiro-cli's (`cli`). */
export const KIRO_ENDPOINTS = ['ide', 'cli'] as const;
export type KiroEndpoint = (typeof KIRO_ENDPOINTS)[number];

/** The loaded configuration; see `loadConfig()` and `generateConfigTable()` for every key. */
export interface GatewayConfig {
  // --- kiro.rs config.json keys (same names, same meaning) ---
  host: string;
  port: number;
  /** Key clients must send (x-api-key or Bearer). Env KIRO_CLIENT_API_KEY (KIRO_API_KEY keeps kiro.rs's meaning: an API-key credential). */
  apiKey: string;
  /** Enables /api/admin when non-empty. */
  adminApiKey: string;
  region: string;
  /** Filled with `region` by loadConfig when not set. */
  authRegion: string;
  /** Filled with `region` by loadConfig when not set. */
  apiRegion: string;
  kiroVersion: string;
  machineId: string;
  systemVersion: string;
  nodeVersion: string;
  proxyUrl: string;
  proxyUsername: string;
  proxyPassword: string;
  countTokensApiUrl: string;
  countTokensApiKey: string;
  countTokensAuthType: 'x-api-key' | 'bearer';
  loadBalancingMode: LoadBalancingMode;
  extractThinking: boolean;
  /** Wire of credentials without their own `endpoint` (docs/kiro-protocol-newer.md §4). */
  defaultEndpoint: KiroEndpoint;

  // --- gateway additions ---
  /** Path of credentials.json (kiro.rs CLI --credentials). */
  credentialsPath: string;
  /** Path of config.json that was loaded ('' when none). */
  configPath: string;
  /** Env KIRO_API_KEY: an API-key credential added at top priority (kiro.rs behaviour). */
  kiroApiKeyCredential: string;

  upstream: {
    /** Base URL of generateAssistantResponse / getUsageLimits / mcp; `{region}` is replaced. */
    apiBaseUrl: string;
    /** Social refresh URL; `{region}` is replaced. */
    socialRefreshUrl: string;
    /** IdC (SSO OIDC CreateToken) URL; `{region}` is replaced. */
    idcRefreshUrl: string;
    /** Overall timeout of one upstream call (kiro.rs: 720 s). */
    timeoutMs: number;
    connectTimeoutMs: number;
    /** Max time without any upstream byte once streaming (stall detection). */
    idleTimeoutMs: number;
    /** Max time from sending a call to its first decoded event frame (connect + head + first frame); 0 = none. */
    firstByteTimeoutMs: number;
    /** Connections per upstream origin; 0 = sized by admission (never below `admission.maxConcurrentUpstream`). */
    maxConnections: number;
  };

  pool: {
    /** Tries per credential within one request (kiro.rs: 3). */
    maxAttemptsPerCredential: number;
    /** Tries per request, all credentials (kiro.rs: 9). */
    maxAttemptsPerRequest: number;
    /** Consecutive failures before auto-disable (kiro.rs: 3). */
    maxFailures: number;
    /** In-flight requests allowed per credential; 0 = unlimited. */
    maxConcurrencyPerCredential: number;
    /** Skip a credential this long after it answered 429 (the first of a streak). */
    rateLimitCooldownMs: number;
    /** Longest cool-down of a 429 streak (it doubles per 429 in a row). */
    rateLimitCooldownMaxMs: number;
    /** How long a TooManyRefreshFailures disable lasts before the credential is tried again (ms). */
    refreshFailureRetryMs: number;
    /** Refresh when less than this remains before expiresAt (kiro.rs: 10 min). */
    refreshBeforeExpiryMs: number;
    /** At most one refresh forced by an upstream token rejection per credential in this long. */
    forcedRefreshIntervalMs: number;
    /** Cache TTL of getUsageLimits answers. */
    balanceCacheTtlMs: number;
  };

  redis: {
    /** redis://… ; empty = in-memory store (single process). */
    url: string;
    /** "host:port,host:port" of Sentinels; with sentinelName. */
    sentinels: string;
    sentinelName: string;
    /** "host:port,host:port" of Cluster seed nodes. */
    clusterNodes: string;
    /** AUTH password of the Redis nodes when the URL carries none (Sentinel and Cluster modes have no URL). */
    password: string;
    keyPrefix: string;
    /** Full resync period of the local copy. */
    resyncIntervalMs: number;
    /** Refresh lock TTL. */
    lockTtlMs: number;
    /** Comma-separated redis:// URLs of independent masters for the refresh lock; empty = the store's Redis. */
    lockNodes: string;
  };

  log: { level: string; pretty: boolean };
  limits: { bodyLimitBytes: number; maxHeaderBytes: number };
  metrics: { enabled: boolean; port: number };
  shutdown: { graceMs: number; readinessDelayMs: number };
  sse: { pingIntervalMs: number; writeStallTimeoutMs: number };
  admission: {
    /** Upstream-backed requests served at once per replica; 0 = no limit. */
    maxConcurrentUpstream: number;
    /** Requests allowed to wait for a slot. */
    queueSize: number;
    /** Longest wait for a slot before 529 (ms). */
    queueTimeoutMs: number;
  };
  clientKeys: {
    /** client-keys.json of the single-process mode; '' = beside credentials.json. */
    file: string;
  };
  usage: {
    /** Retention of hourly usage buckets (hours). */
    hourlyRetentionHours: number;
    /** Retention of daily usage buckets (days). */
    dailyRetentionDays: number;
  };
  /** What the `cli` endpoint sends in its user agents and `envState` (docs/kiro-protocol-newer.md §4). */
  cliEndpoint: {
    /** kiro-cli version in `md/appVersion-…`. */
    version: string;
    /** `os/…` of the user agents and `envState.operatingSystem`. */
    operatingSystem: string;
    /** `envState.currentWorkingDirectory`; '' = the gateway's working directory. */
    workingDirectory: string;
  };
  models: {
    /** Reject model versions no credential offers (kiro.rs) instead of taking the newest of the family. */
    strict: boolean;
    /** How often each credential's ListAvailableModels answer is renewed; 0 = never call it. */
    listRefreshIntervalMs: number;
  };
}

/** A configuration problem found at start-up; the message names the setting (and the file). */
export class ConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** Replaces `{region}` in a configured URL template (upstream.* URLs). */
export function withRegion(template: string, region: string): string {
  return template.replaceAll('{region}', region);
}

/** The two `os/` values kiro.rs picks from at start-up (docs/kiro-protocol.md §1.1). */
export const SYSTEM_VERSIONS = ['darwin#24.6.0', 'win32#10.0.22631'] as const;

/** Splits `redis.lockNodes` (comma-separated URLs; blanks ignored). */
export function parseLockNodes(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
