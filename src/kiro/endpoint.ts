/**
 * The two wires of generateAssistantResponse and the MCP call (docs/kiro-protocol.md §1.1–§1.2,
 * docs/kiro-protocol-newer.md §4): `ide`, the Kiro IDE's aws-sdk-js client (kiro.rs's only one), and
 * `cli`, kiro-cli's aws-sdk-rust client (root path + `x-amz-target`, AWS JSON 1.0, Rust user agents).
 * A credential picks one with `endpoint`; `defaultEndpoint` covers the rest. The body differences
 * live in wire-body.ts.
 */
import { randomUUID } from 'node:crypto';
import { KIRO_ENDPOINTS, type GatewayConfig, type KiroEndpoint } from '../config.js';
import type { Credential } from '../credentials/types.js';

export { KIRO_ENDPOINTS, type KiroEndpoint };

/** The IDE's aws-sdk-js version in its user agents. */
const IDE_SDK_VERSION = '1.0.34';
/** kiro-cli's Rust SDK and service client, as the fork sends them. */
const CLI_SDK = 'aws-sdk-rust/1.3.15';
const CLI_API = 'api/codewhispererstreaming/0.1.14474';
const CLI_LANG = 'lang/rust/1.92.0';
const CLI_APP = 'app/AmazonQ-For-CLI';

/** Path of the `ide` call; the `cli` call posts to the root and names the operation in a header. */
export const IDE_GENERATE_PATH = '/generateAssistantResponse';
export const CLI_GENERATE_PATH = '/';
/** The `cli` wire's operation selector (AWS JSON 1.0). */
export const CLI_GENERATE_TARGET = 'AmazonCodeWhispererStreamingService.GenerateAssistantResponse';
export const CLI_CONTENT_TYPE = 'application/x-amz-json-1.0';
export const MCP_PATH = '/mcp';

/** Whether `value` names a wire ("ide" or "cli", exact spelling). */
export function isKiroEndpoint(value: unknown): value is KiroEndpoint {
  return typeof value === 'string' && (KIRO_ENDPOINTS as readonly string[]).includes(value);
}

/** The wire a credential speaks: its own `endpoint`, else `defaultEndpoint`. */
export function endpointOf(cred: Pick<Credential, 'endpoint'>, config: Pick<GatewayConfig, 'defaultEndpoint'>): KiroEndpoint {
  return isKiroEndpoint(cred.endpoint) ? cred.endpoint : config.defaultEndpoint;
}

type WireConfig = Pick<GatewayConfig, 'kiroVersion' | 'systemVersion' | 'nodeVersion' | 'cliEndpoint'>;

/** `user-agent` and `x-amz-user-agent` of a wire. */
function userAgents(endpoint: KiroEndpoint, cred: Credential, config: WireConfig): { ua: string; amzUa: string } {
  if (endpoint === 'cli') {
    // kiro-cli sends no machine id; the two strings differ only in `md/appVersion-…` vs `m/F`.
    const base = `${CLI_SDK} ua/2.1 ${CLI_API} os/${config.cliEndpoint.operatingSystem} ${CLI_LANG}`;
    return { ua: `${base} md/appVersion-${config.cliEndpoint.version} ${CLI_APP}`, amzUa: `${base} m/F ${CLI_APP}` };
  }
  const suffix = `KiroIDE-${config.kiroVersion}-${cred.machineId}`;
  return {
    ua: `aws-sdk-js/${IDE_SDK_VERSION} ua/2.1 os/${config.systemVersion} lang/js md/nodejs#${config.nodeVersion} api/codewhispererstreaming#${IDE_SDK_VERSION} m/E ${suffix}`,
    amzUa: `aws-sdk-js/${IDE_SDK_VERSION} ${suffix}`,
  };
}

function commonHeaders(endpoint: KiroEndpoint, cred: Credential, accessToken: string, config: WireConfig): Record<string, string> {
  const { ua, amzUa } = userAgents(endpoint, cred, config);
  const headers: Record<string, string> = {
    'x-amz-user-agent': amzUa,
    'user-agent': ua,
    'amz-sdk-invocation-id': randomUUID(),
    'amz-sdk-request': 'attempt=1; max=3',
    authorization: `Bearer ${accessToken}`,
  };
  if (cred.authMethod === 'api_key') headers.tokentype = 'API_KEY';
  return headers;
}

/** Path and headers of a generateAssistantResponse call on the credential's wire. */
export function generateCall(
  endpoint: KiroEndpoint,
  cred: Credential,
  accessToken: string,
  config: WireConfig,
): { path: string; headers: Record<string, string> } {
  const headers = commonHeaders(endpoint, cred, accessToken, config);
  if (endpoint === 'cli') {
    return {
      path: CLI_GENERATE_PATH,
      headers: {
        'content-type': CLI_CONTENT_TYPE,
        'x-amz-target': CLI_GENERATE_TARGET,
        'x-amzn-codewhisperer-optout': 'false',
        ...headers,
      },
    };
  }
  return {
    path: IDE_GENERATE_PATH,
    headers: {
      'content-type': 'application/json',
      'x-amzn-codewhisperer-optout': 'true',
      'x-amzn-kiro-agent-mode': 'vibe',
      ...headers,
    },
  };
}

/** Headers of an MCP call (§1.2): JSON-RPC on both wires, with the wire's user agents. */
export function mcpHeaders(endpoint: KiroEndpoint, cred: Credential, accessToken: string, config: WireConfig): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...commonHeaders(endpoint, cred, accessToken, config) };
  if (cred.profileArn) headers['x-amzn-kiro-profile-arn'] = cred.profileArn;
  return headers;
}
