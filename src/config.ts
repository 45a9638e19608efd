/**
 * Gateway configuration. CONTRACT (shared by all modules): the `GatewayConfig` shape below.
 * `loadConfig()` (convict) fills it from kiro.rs's config.json, then KIRO_* environment variables,
 * then the command line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import convict from 'convict';

/** `priority`: one sticky credential, lowest priority number first; `balanced`: least used first. */
export type LoadBalancingMode = 'priority' | 'balanced';

/** The loaded configuration; see {@link loadConfig} and `generateConfigTable()` for every key. */
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

const DEFAULT_CONFIG_FILE = 'config.json';
const DEFAULT_CREDENTIALS_FILE = 'credentials.json';
const MIB = 1024 * 1024;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

// --- formats -------------------------------------------------------------------------------------
// convict's built-in coercions are lax (parseInt('8080abc') = 8080, any string but "false" is true),
// so env values are parsed strictly here and left as strings when malformed, which then fails
// validation with the setting's name.

function coerceInt(v: string): number | string {
  return /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
}

function coerceBool(v: string): boolean | string {
  const s = v.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  return v;
}

function assertFormat(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

convict.addFormats({
  'kiro-port': {
    validate: (v: unknown) =>
      assertFormat(Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535, 'must be an integer from 0 to 65535'),
    coerce: coerceInt,
  },
  'kiro-nat': {
    validate: (v: unknown) => assertFormat(Number.isInteger(v) && (v as number) >= 0, 'must be an integer >= 0'),
    coerce: coerceInt,
  },
  'kiro-positive': {
    validate: (v: unknown) => assertFormat(Number.isInteger(v) && (v as number) >= 1, 'must be an integer >= 1'),
    coerce: coerceInt,
  },
  'kiro-bool': {
    validate: (v: unknown) => assertFormat(typeof v === 'boolean', 'must be true or false'),
    coerce: coerceBool,
  },
  'kiro-lock-ttl': {
    // Redlock extends a lock at least 100 ms before it expires; the store extends every ttl/3.
    validate: (v: unknown) => assertFormat(Number.isInteger(v) && (v as number) >= 300, 'must be an integer >= 300'),
    coerce: coerceInt,
  },
});

function stringFormat(v: unknown): void {
  assertFormat(typeof v === 'string', 'must be a string');
}

function nonEmptyString(v: unknown): void {
  assertFormat(typeof v === 'string' && v.trim() !== '', 'must be set (a non-empty string)');
}

function httpUrlTemplate(v: unknown): void {
  stringFormat(v);
  let url: URL | undefined;
  try {
    url = new URL(withRegion(v as string, 'us-east-1'));
  } catch {
    // reported below
  }
  assertFormat(
    url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:'),
    'must be an http(s) URL ({region} is replaced by the region)',
  );
}

function optionalHttpUrl(v: unknown): void {
  stringFormat(v);
  if (v === '') return;
  httpUrlTemplate(v);
}

function optionalProxyUrl(v: unknown): void {
  stringFormat(v);
  if (v === '') return;
  let url: URL | undefined;
  try {
    url = new URL(v as string);
  } catch {
    // reported below
  }
  assertFormat(
    url !== undefined && ['http:', 'https:', 'socks5:', 'socks5h:'].includes(url.protocol),
    'must be empty or an http://, https:// or socks5:// URL',
  );
}

/** Splits `redis.lockNodes` (comma-separated URLs; blanks ignored). */
export function parseLockNodes(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function redisUrlList(v: unknown): void {
  stringFormat(v);
  for (const entry of parseLockNodes(v as string)) {
    let url: URL | undefined;
    try {
      url = new URL(entry);
    } catch {
      // reported below
    }
    // The entry itself is not echoed: it may carry a password.
    assertFormat(url !== undefined && (url.protocol === 'redis:' || url.protocol === 'rediss:'), 'must be empty or redis:// / rediss:// URLs separated by commas');
  }
}

function optionalMachineId(v: unknown): void {
  stringFormat(v);
  const s = (v as string).trim();
  assertFormat(
    s === '' || /^[0-9a-fA-F]{64}$/.test(s) || /^[0-9a-fA-F]{32}$/.test(s.replaceAll('-', '')),
    'must be empty, 64 hex characters or a UUID',
  );
}

// --- schema --------------------------------------------------------------------------------------

interface Setting {
  doc: string;
  format: unknown;
  default: unknown;
  env: string;
  sensitive?: boolean;
  /** Shown in the generated table instead of the (dynamic) default. */
  defaultText?: string;
}

type SchemaTree = { [key: string]: Setting | SchemaTree };

function setting(
  doc: string,
  format: unknown,
  defaultValue: unknown,
  env: string,
  extra: { sensitive?: boolean; defaultText?: string } = {},
): Setting {
  return { doc, format, default: defaultValue, env, ...extra };
}

/** Built per call so `systemVersion` and `log.pretty` defaults reflect this process. */
function buildSchema(): SchemaTree {
  const systemVersion = SYSTEM_VERSIONS[Math.floor(Math.random() * SYSTEM_VERSIONS.length)];
  return {
    host: setting('Listen address.', String, '127.0.0.1', 'KIRO_HOST'),
    port: setting('Listen port.', 'kiro-port', 8080, 'KIRO_PORT'),
    apiKey: setting(
      'Key clients must send (`x-api-key` or `Authorization: Bearer`). Without it the gateway starts but rejects every client request. Not KIRO_API_KEY, which keeps its kiro.rs meaning (an API-key credential).',
      String,
      '',
      'KIRO_CLIENT_API_KEY',
      { sensitive: true },
    ),
    adminApiKey: setting('Enables the admin API under /api/admin when non-empty.', String, '', 'KIRO_ADMIN_API_KEY', {
      sensitive: true,
    }),
    region: setting('Fallback region for token refresh and the API host.', nonEmptyString, 'us-east-1', 'KIRO_REGION'),
    authRegion: setting('Region of the token refresh endpoints; empty = `region`.', String, '', 'KIRO_AUTH_REGION'),
    apiRegion: setting('Region of q.{region}.amazonaws.com; empty = `region`.', String, '', 'KIRO_API_REGION'),
    kiroVersion: setting('Kiro IDE version sent in user agents.', nonEmptyString, '0.11.107', 'KIRO_KIRO_VERSION'),
    machineId: setting(
      'Machine id for credentials without their own (64 hex or UUID); empty = derived per credential.',
      optionalMachineId,
      '',
      'KIRO_MACHINE_ID',
    ),
    systemVersion: setting('`os/` part of the user agent.', nonEmptyString, systemVersion, 'KIRO_SYSTEM_VERSION', {
      defaultText: `random: ${SYSTEM_VERSIONS.join(' or ')}`,
    }),
    nodeVersion: setting('`md/nodejs#` part of the user agent.', nonEmptyString, '22.22.0', 'KIRO_NODE_VERSION'),
    proxyUrl: setting(
      'Proxy for every upstream call (http://, https:// or socks5://); a credential may override it (`direct` = none).',
      optionalProxyUrl,
      '',
      'KIRO_PROXY_URL',
    ),
    proxyUsername: setting('Proxy user name.', String, '', 'KIRO_PROXY_USERNAME'),
    proxyPassword: setting('Proxy password.', String, '', 'KIRO_PROXY_PASSWORD', { sensitive: true }),
    countTokensApiUrl: setting(
      'External count_tokens endpoint; empty = local estimate.',
      optionalHttpUrl,
      '',
      'KIRO_COUNT_TOKENS_API_URL',
    ),
    countTokensApiKey: setting('Key of the external count_tokens endpoint.', String, '', 'KIRO_COUNT_TOKENS_API_KEY', {
      sensitive: true,
    }),
    countTokensAuthType: setting(
      'How the count_tokens key is sent.',
      ['x-api-key', 'bearer'],
      'x-api-key',
      'KIRO_COUNT_TOKENS_AUTH_TYPE',
    ),
    loadBalancingMode: setting(
      '`priority`: stick to one credential, lowest priority number first; `balanced`: least used first.',
      ['priority', 'balanced'],
      'priority',
      'KIRO_LOAD_BALANCING_MODE',
    ),
    extractThinking: setting(
      'Split `<thinking>` into thinking blocks in non-streaming responses.',
      'kiro-bool',
      true,
      'KIRO_EXTRACT_THINKING',
    ),
    defaultEndpoint: setting('Endpoint implementation for credentials without `endpoint`.', ['ide'], 'ide', 'KIRO_DEFAULT_ENDPOINT'),
    endpoints: setting('Accepted for kiro.rs compatibility and ignored (per-endpoint settings).', Object, {}, 'KIRO_ENDPOINTS'),
    tlsBackend: setting(
      'Accepted for kiro.rs compatibility and ignored (Node uses its own TLS); a warning is printed when set.',
      ['rustls', 'native-tls', ''],
      '',
      'KIRO_TLS_BACKEND',
    ),
    configPath: setting(
      'config.json to load (CLI `-c/--config`); default `config.json` when it exists. Only from the command line or env.',
      String,
      '',
      'KIRO_CONFIG',
    ),
    credentialsPath: setting(
      'credentials.json (CLI `--credentials`).',
      nonEmptyString,
      DEFAULT_CREDENTIALS_FILE,
      'KIRO_CREDENTIALS',
    ),
    kiroApiKeyCredential: setting(
      'Adds an API-key credential (`ksk_…`) at top priority, as kiro.rs does; it is not written to credentials.json.',
      String,
      '',
      'KIRO_API_KEY',
      { sensitive: true },
    ),
    upstream: {
      apiBaseUrl: setting(
        'Base URL of the Kiro API; `{region}` is replaced by the API region.',
        httpUrlTemplate,
        'https://q.{region}.amazonaws.com',
        'KIRO_UPSTREAM_API_BASE_URL',
      ),
      socialRefreshUrl: setting(
        'Token refresh URL of social (Google/GitHub) logins; `{region}` is replaced by the auth region.',
        httpUrlTemplate,
        'https://prod.{region}.auth.desktop.kiro.dev/refreshToken',
        'KIRO_UPSTREAM_SOCIAL_REFRESH_URL',
      ),
      idcRefreshUrl: setting(
        'Token refresh URL of IdC / Builder ID logins (SSO OIDC CreateToken); `{region}` is replaced by the auth region.',
        httpUrlTemplate,
        'https://oidc.{region}.amazonaws.com/token',
        'KIRO_UPSTREAM_IDC_REFRESH_URL',
      ),
      timeoutMs: setting('Overall timeout of one upstream call (ms).', 'kiro-positive', 720_000, 'KIRO_UPSTREAM_TIMEOUT_MS'),
      connectTimeoutMs: setting('TCP/TLS connect timeout (ms).', 'kiro-positive', 10_000, 'KIRO_UPSTREAM_CONNECT_TIMEOUT_MS'),
      idleTimeoutMs: setting(
        'Abort a stream after this long without any upstream byte (ms).',
        'kiro-positive',
        300_000,
        'KIRO_UPSTREAM_IDLE_TIMEOUT_MS',
      ),
      firstByteTimeoutMs: setting(
        'Give up an upstream call that has sent no event frame this long after it was sent (ms; connect, response head and first frame); it is retried like a dropped connection, on the same or another credential, since the client has seen nothing yet. Kiro takes tens of seconds to the first frame for large Claude Code prompts, more for a 1M-token context, and a retry re-sends (and re-bills) the whole prompt, so the default leaves a wide margin while still cutting the 720 s overall timeout to a sixth. 0 = only the overall timeout.',
        'kiro-nat',
        120_000,
        'KIRO_UPSTREAM_FIRST_BYTE_TIMEOUT_MS',
      ),
      maxConnections: setting(
        'Connections per upstream origin. Each stream holds one for its whole life, so this must never be a hidden concurrency cap: a value below `admission.maxConcurrentUpstream` is raised to it. 0 = no cap of its own (admission bounds the calls).',
        'kiro-nat',
        0,
        'KIRO_UPSTREAM_MAX_CONNECTIONS',
      ),
    },
    pool: {
      maxAttemptsPerCredential: setting(
        'Upstream tries per credential within one request.',
        'kiro-positive',
        3,
        'KIRO_POOL_MAX_ATTEMPTS_PER_CREDENTIAL',
      ),
      maxAttemptsPerRequest: setting(
        'Upstream tries per request over all credentials.',
        'kiro-positive',
        9,
        'KIRO_POOL_MAX_ATTEMPTS_PER_REQUEST',
      ),
      maxFailures: setting(
        'Consecutive 401/403 failures before a credential is disabled.',
        'kiro-positive',
        3,
        'KIRO_POOL_MAX_FAILURES',
      ),
      maxConcurrencyPerCredential: setting(
        'Requests in flight per credential and process; 0 = unlimited.',
        'kiro-nat',
        0,
        'KIRO_POOL_MAX_CONCURRENCY_PER_CREDENTIAL',
      ),
      rateLimitCooldownMs: setting(
        'After a 429, or a token refused right after a refresh, other credentials are preferred for this long (ms); after a 429 it doubles with each further 429 in a row, because Kiro flags accounts whose clients retry aggressively as suspicious.',
        'kiro-nat',
        30_000,
        'KIRO_POOL_RATE_LIMIT_COOLDOWN_MS',
      ),
      rateLimitCooldownMaxMs: setting(
        'Longest cool-down of a streak of 429s on one credential (ms).',
        'kiro-nat',
        300_000,
        'KIRO_POOL_RATE_LIMIT_COOLDOWN_MAX_MS',
      ),
      refreshBeforeExpiryMs: setting(
        'Refresh an access token when less than this remains (ms).',
        'kiro-nat',
        600_000,
        'KIRO_POOL_REFRESH_BEFORE_EXPIRY_MS',
      ),
      forcedRefreshIntervalMs: setting(
        'A 401/403 "bearer token invalid" forces a token refresh at most once per credential in this long, over all replicas, unless the token it produced has served a request since (ms); a token refused within it counts as a failure (cool-down, then disabled after `pool.maxFailures`).',
        'kiro-nat',
        60_000,
        'KIRO_POOL_FORCED_REFRESH_INTERVAL_MS',
      ),
      balanceCacheTtlMs: setting(
        'How long a getUsageLimits answer is reused (ms).',
        'kiro-nat',
        300_000,
        'KIRO_POOL_BALANCE_CACHE_TTL_MS',
      ),
    },
    redis: {
      url: setting(
        'redis:// or rediss:// URL of a shared store; empty = in-memory store persisted to credentials.json (one process).',
        String,
        '',
        'KIRO_REDIS_URL',
        { sensitive: true },
      ),
      sentinels: setting('Sentinels as `host:port,host:port` (with `redis.sentinelName`).', String, '', 'KIRO_REDIS_SENTINELS'),
      sentinelName: setting('Sentinel master name.', String, '', 'KIRO_REDIS_SENTINEL_NAME'),
      clusterNodes: setting('Cluster seed nodes as `host:port,host:port`.', String, '', 'KIRO_REDIS_CLUSTER_NODES'),
      password: setting(
        'Password (AUTH) of the Redis nodes — standalone, Sentinel-managed master and replicas, or Cluster nodes; a password in `redis.url` wins. Not sent to the Sentinels themselves.',
        String,
        '',
        'KIRO_REDIS_PASSWORD',
        { sensitive: true },
      ),
      keyPrefix: setting('Prefix of every Redis key.', String, 'kiro:', 'KIRO_REDIS_KEY_PREFIX'),
      resyncIntervalMs: setting(
        'Full resync period of the local credential copy (ms).',
        'kiro-positive',
        30_000,
        'KIRO_REDIS_RESYNC_INTERVAL_MS',
      ),
      lockTtlMs: setting(
        'TTL of the token refresh lock (ms, at least 300): a replica that dies while refreshing holds up the others this long. Extended every third of it while the refresh runs; a waiter gives up after twice it.',
        'kiro-lock-ttl',
        10_000,
        'KIRO_REDIS_LOCK_TTL_MS',
      ),
      lockNodes: setting(
        'Independent Redis masters for the token refresh lock, as `redis://host:port,redis://host:port,…` (Redlock: the lock needs a majority, so 3 or 5 nodes survive 1 or 2 failures; `redis.password` applies unless a URL has its own). Empty = the store\'s own Redis.',
        redisUrlList,
        '',
        'KIRO_REDIS_LOCK_NODES',
        { sensitive: true },
      ),
    },
    log: {
      level: setting('Log level.', LOG_LEVELS, 'info', 'KIRO_LOG_LEVEL'),
      pretty: setting('Human-readable logs instead of JSON lines.', 'kiro-bool', process.stdout.isTTY === true, 'KIRO_LOG_PRETTY', {
        defaultText: 'stdout is a TTY',
      }),
    },
    models: {
      strict: setting(
        'Reject a model version no credential offers (kiro.rs behaviour: `claude-opus-4-9` → 404) instead of answering with the newest model of its family and major version (named in `x-kiro-model`).',
        'kiro-bool',
        false,
        'KIRO_MODELS_STRICT',
      ),
      listRefreshIntervalMs: setting(
        'How often each credential\'s ListAvailableModels answer (its models, windows, image support) is renewed (ms); also fetched after every token refresh. 0 = never call it (built-in model table).',
        'kiro-nat',
        3_600_000,
        'KIRO_MODELS_LIST_REFRESH_INTERVAL_MS',
      ),
    },
    limits: {
      bodyLimitBytes: setting(
        'Largest accepted request body (bytes).',
        'kiro-positive',
        50 * MIB,
        'KIRO_LIMITS_BODY_LIMIT_BYTES',
      ),
      maxHeaderBytes: setting(
        'Largest accepted request head (request line and headers, bytes); larger gets 431 `request_too_large`. Matches nginx\'s default header buffers (4 × 8 KB); Node\'s own default is 16 KB.',
        'kiro-positive',
        32 * 1024,
        'KIRO_LIMITS_MAX_HEADER_BYTES',
      ),
    },
    metrics: {
      enabled: setting('Expose Prometheus metrics at /metrics.', 'kiro-bool', true, 'KIRO_METRICS_ENABLED'),
      port: setting('Separate metrics listener port; 0 = serve /metrics on the main port.', 'kiro-port', 0, 'KIRO_METRICS_PORT'),
    },
    shutdown: {
      graceMs: setting(
        'On SIGTERM, let in-flight requests finish for this long (ms).',
        'kiro-nat',
        30_000,
        'KIRO_SHUTDOWN_GRACE_MS',
      ),
      readinessDelayMs: setting(
        'On SIGTERM, answer /readyz with 503 but keep accepting for this long (ms, within the grace period) so load balancers stop routing here first; a few seconds on Kubernetes.',
        'kiro-nat',
        0,
        'KIRO_SHUTDOWN_READINESS_DELAY_MS',
      ),
    },
    sse: {
      pingIntervalMs: setting(
        'Send an SSE ping while the upstream is silent this long (ms); 0 = never.',
        'kiro-nat',
        25_000,
        'KIRO_SSE_PING_INTERVAL_MS',
      ),
      writeStallTimeoutMs: setting(
        'Cut off a streaming client that has read nothing for this long while its socket buffer is full (ms), so its upstream call and admission slot are freed; logged and counted in `kiro_gateway_slow_client_cutoffs_total`. A client that reads at all, however slowly, is not cut. A live client drains a full buffer in well under a second and TCP retransmission backoff after a network blip stays in the tens of seconds, while a stalled one would otherwise hold its slot until the upstream idle timeout. 0 = never.',
        'kiro-nat',
        60_000,
        'KIRO_SSE_WRITE_STALL_TIMEOUT_MS',
      ),
    },
    admission: {
      maxConcurrentUpstream: setting(
        'Upstream-backed requests (streams and JSON answers) one replica serves at once; more wait in a short queue, then get 529 `overloaded_error` with `retry-after`. Size it to what one replica should carry (memory, event loop) and let the autoscaler add replicas on `kiro_gateway_inflight_streams`. 0 = no limit.',
        'kiro-nat',
        256,
        'KIRO_ADMISSION_MAX_CONCURRENT_UPSTREAM',
      ),
      queueSize: setting(
        'Requests that may wait for a free upstream slot; beyond that a request is refused at once (529).',
        'kiro-nat',
        64,
        'KIRO_ADMISSION_QUEUE_SIZE',
      ),
      queueTimeoutMs: setting(
        'Longest wait for a free upstream slot (ms) before 529 with `retry-after` (this many seconds, at least 1): short, so clients retry elsewhere instead of hanging.',
        'kiro-positive',
        5_000,
        'KIRO_ADMISSION_QUEUE_TIMEOUT_MS',
      ),
    },
  };
}

function isSetting(node: Setting | SchemaTree): node is Setting {
  return Object.prototype.hasOwnProperty.call(node, 'default');
}

function* walkSchema(tree: SchemaTree, prefix = ''): Generator<[string, Setting]> {
  for (const [key, node] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isSetting(node)) yield [path, node];
    else yield* walkSchema(node, path);
  }
}

// --- loading -------------------------------------------------------------------------------------

/** Options of {@link loadConfig}; everything defaults to the real process. */
export interface LoadConfigOptions {
  /** Command-line arguments after the script name (default `process.argv.slice(2)`). */
  argv?: string[];
  /** Environment (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Receives non-fatal notices (ignored kiro.rs keys); default `console.warn`. */
  warn?: (message: string) => void;
}

function parseCli(argv: string[]): { config?: string; credentials?: string } {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, credentials: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    });
    return values;
  } catch (err) {
    throw new ConfigError(`invalid command line: ${(err as Error).message} (accepted: -c/--config <path>, --credentials <path>)`);
  }
}

/** Drops `null` values: kiro.rs-written files may carry `"proxyUrl": null` for unset options. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value) || value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = withoutNulls(v);
  return out;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must contain a JSON object`);
  }
  return withoutNulls(parsed) as Record<string, unknown>;
}

/**
 * Loads the configuration: schema defaults, then config.json (kiro.rs keys unchanged, plus nested
 * gateway keys), then `KIRO_*` environment variables, then the command line.
 * Throws {@link ConfigError} naming the setting for unknown keys and invalid values.
 *
 * @example
 * const config = loadConfig({ warn: (m) => logger.warn(m) });
 */
export function loadConfig(opts: LoadConfigOptions = {}): GatewayConfig {
  const env = opts.env ?? process.env;
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const cli = parseCli(opts.argv ?? process.argv.slice(2));

  const explicitConfig = cli.config ?? (env.KIRO_CONFIG || undefined);
  let configPath = '';
  if (explicitConfig !== undefined) {
    configPath = resolve(explicitConfig);
    if (!existsSync(configPath)) throw new ConfigError(`config file ${configPath} does not exist (from ${cli.config !== undefined ? '--config' : 'KIRO_CONFIG'})`);
  } else if (existsSync(DEFAULT_CONFIG_FILE)) {
    configPath = resolve(DEFAULT_CONFIG_FILE);
  }
  const fileData = configPath ? readConfigFile(configPath) : {};
  if ('configPath' in fileData) {
    warn(`config file ${configPath}: "configPath" is ignored inside a config file`);
    delete fileData.configPath;
  }

  const schema = buildSchema();
  // `args: []` keeps convict away from process.argv: the CLI is parsed above.
  const conf = convict(schema as convict.Schema<Record<string, unknown>>, { env, args: [] });
  const source = configPath ? `config file ${configPath} or environment` : 'environment';
  try {
    conf.load(fileData);
    if (cli.credentials !== undefined) conf.set('credentialsPath', cli.credentials);
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    throw new ConfigError(`invalid configuration (${source}):\n${(err as Error).message}`, { cause: err });
  }

  const raw = conf.getProperties() as Record<string, unknown> & GatewayConfig & { tlsBackend: string; endpoints: object };
  const { tlsBackend, endpoints, ...rest } = raw;
  if (tlsBackend) warn(`tlsBackend "${tlsBackend}" is ignored: Node.js always uses its own TLS stack`);
  if (endpoints && Object.keys(endpoints).length > 0) warn('endpoints is ignored: only the "ide" endpoint is implemented');

  const config = rest as GatewayConfig;
  config.configPath = configPath;
  config.credentialsPath = resolve(config.credentialsPath);
  config.authRegion = config.authRegion || config.region;
  config.apiRegion = config.apiRegion || config.region;
  if (config.adminApiKey.trim() === '') config.adminApiKey = '';
  return config;
}

function markdownCell(value: string): string {
  return value.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/**
 * Renders the configuration reference as a Markdown table (key, env, default, doc) straight from the
 * schema, for the README.
 */
export function generateConfigTable(): string {
  const rows = ['| key | env | default | doc |', '|---|---|---|---|'];
  for (const [key, s] of walkSchema(buildSchema())) {
    const shown = s.defaultText ?? (s.default === '' ? '' : JSON.stringify(s.default));
    const def = shown === '' ? '—' : `\`${shown}\``;
    rows.push(`| \`${key}\` | \`${s.env}\` | ${markdownCell(def)} | ${markdownCell(s.doc)} |`);
  }
  return rows.join('\n');
}
