/** Settings of the calls to Kiro: the upstream HTTP client, the credential pool and the model lists. */
import { httpUrlTemplate, nonEmptyString, setting, type SchemaTree } from './setting.js';

export function upstreamSettings(): SchemaTree {
  return {
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
  };
}

export function poolSettings(): SchemaTree {
  return {
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
      'After a 429, a token refused right after a refresh, or a refresh that got no answer, other credentials are preferred for this long (ms); after a 429 it doubles with each further 429 in a row, because Kiro flags accounts whose clients retry aggressively as suspicious.',
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
    refreshFailureRetryMs: setting(
      'A credential disabled after 3 failed refreshes in a row (the auth service answered 5xx, 429 or refused short of invalid_grant: TooManyRefreshFailures) is tried again after this long (ms), on every replica; invalid_grant disables for good.',
      'kiro-positive',
      300_000,
      'KIRO_POOL_REFRESH_FAILURE_RETRY_MS',
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
  };
}

export function modelsSettings(): SchemaTree {
  return {
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
  };
}

export function cliEndpointSettings(): SchemaTree {
  return {
    version: setting('kiro-cli version in the `cli` endpoint\'s user agent (`md/appVersion-…`).', nonEmptyString, '2.3.0', 'KIRO_CLI_ENDPOINT_VERSION'),
    operatingSystem: setting(
      '`os/…` of the `cli` endpoint\'s user agents and its `envState.operatingSystem`.',
      nonEmptyString,
      'macos',
      'KIRO_CLI_ENDPOINT_OPERATING_SYSTEM',
    ),
    workingDirectory: setting(
      '`envState.currentWorkingDirectory` of the `cli` endpoint; empty = the gateway\'s working directory.',
      String,
      '',
      'KIRO_CLI_ENDPOINT_WORKING_DIRECTORY',
    ),
  };
}
