/**
 * The top-level settings: kiro.rs's config.json keys (same names, same meaning) and the gateway's
 * own top-level additions (file paths, the KIRO_API_KEY credential).
 */
import { KIRO_ENDPOINTS, SYSTEM_VERSIONS } from './gateway-config.js';
import {
  nonEmptyString,
  optionalHttpUrl,
  optionalMachineId,
  optionalProxyUrl,
  setting,
  type SchemaTree,
} from './setting.js';

const DEFAULT_CREDENTIALS_FILE = 'credentials.json';

/** Built per call so the `systemVersion` default is picked at random for this process. */
export function topLevelSettings(): SchemaTree {
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
    defaultEndpoint: setting(
      'Wire of credentials without their own `endpoint`: `ide` (the Kiro IDE\'s, as kiro.rs) or `cli` (kiro-cli\'s: root path with `x-amz-target`, AWS JSON 1.0, Rust SDK user agents, `origin: KIRO_CLI`, `envState`).',
      [...KIRO_ENDPOINTS],
      'ide',
      'KIRO_DEFAULT_ENDPOINT',
    ),
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
  };
}
