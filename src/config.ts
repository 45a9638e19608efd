/**
 * Gateway configuration. CONTRACT (shared by all modules): the `GatewayConfig` shape below.
 * `loadConfig()` (convict) fills it from kiro.rs's config.json, then KIRO_* environment variables.
 */

export type LoadBalancingMode = 'priority' | 'balanced';

export interface GatewayConfig {
  // --- kiro.rs config.json keys (same names, same meaning) ---
  host: string;
  port: number;
  /** Key clients must send (x-api-key or Bearer). Env KIRO_CLIENT_API_KEY (KIRO_API_KEY keeps kiro.rs's meaning: an API-key credential). */
  apiKey: string;
  /** Enables /api/admin when non-empty. */
  adminApiKey: string;
  region: string;
  authRegion: string;
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
  defaultEndpoint: string;

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
    /** Keep-alive connections per upstream origin. */
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
    /** Skip a credential this long after it answered 429. */
    rateLimitCooldownMs: number;
    /** Refresh when less than this remains before expiresAt (kiro.rs: 10 min). */
    refreshBeforeExpiryMs: number;
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
    keyPrefix: string;
    /** Full resync period of the local copy. */
    resyncIntervalMs: number;
    /** Refresh lock TTL. */
    lockTtlMs: number;
  };

  log: { level: string; pretty: boolean };
  limits: { bodyLimitBytes: number };
  metrics: { enabled: boolean; port: number };
  shutdown: { graceMs: number };
  sse: { pingIntervalMs: number };
}
