/**
 * The simulator's check of generateAssistantResponse's two wires (docs/kiro-protocol-newer.md §4).
 * `ide` is the path `/generateAssistantResponse`; `cli` is a POST to `/` with `x-amz-target`. Each
 * wire is refused when it carries a mark of the other (headers or body fields), so a gateway that
 * sends a credential over the wrong wire, or mixes the two, fails its tests instead of passing.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { CLI_CONTENT_TYPE, CLI_GENERATE_TARGET, type KiroEndpoint } from '../kiro/endpoint.js';

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const ORIGIN: Record<KiroEndpoint, string> = { ide: 'AI_EDITOR', cli: 'KIRO_CLI' };
const RUST_SDK = /^aws-sdk-rust\/\S+ ua\/2\.1 api\/codewhispererstreaming\/\S+ os\/\S+ lang\/rust\/\S+ /;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Headers that belong to the other wire, or are missing from this one. */
function headerProblem(wire: KiroEndpoint, headers: IncomingHttpHeaders): string | undefined {
  const contentType = header(headers, 'content-type') ?? '';
  const target = header(headers, 'x-amz-target');
  const optout = header(headers, 'x-amzn-codewhisperer-optout');
  const ua = header(headers, 'user-agent') ?? '';
  const amzUa = header(headers, 'x-amz-user-agent') ?? '';
  if (wire === 'ide') {
    if (target !== undefined) return `ide wire with x-amz-target ${target} (a cli header)`;
    if (!contentType.startsWith('application/json')) return `ide wire with content-type ${contentType || '(none)'}, not application/json`;
    if (optout !== undefined && optout !== 'true') return `ide wire with x-amzn-codewhisperer-optout ${optout}`;
    if (ua.startsWith('aws-sdk-rust/') || amzUa.startsWith('aws-sdk-rust/')) return 'ide wire with a Rust SDK (cli) user agent';
    return undefined;
  }
  if (contentType !== CLI_CONTENT_TYPE) return `cli wire with content-type ${contentType || '(none)'}, not ${CLI_CONTENT_TYPE}`;
  if (optout !== 'false') return `cli wire with x-amzn-codewhisperer-optout ${optout ?? '(none)'}, not false`;
  if (header(headers, 'x-amzn-kiro-agent-mode') !== undefined) return 'cli wire with x-amzn-kiro-agent-mode (an ide header)';
  if (!RUST_SDK.test(ua) || !/ md\/appVersion-\S+ app\/AmazonQ-For-CLI$/.test(ua)) return `cli wire with user-agent ${ua || '(none)'}`;
  if (!RUST_SDK.test(amzUa) || !/ m\/F app\/AmazonQ-For-CLI$/.test(amzUa)) return `cli wire with x-amz-user-agent ${amzUa || '(none)'}`;
  return undefined;
}

/** Body fields of the other wire, or required fields of this one missing. */
function bodyProblem(wire: KiroEndpoint, body: Obj): string | undefined {
  const state = body.conversationState as Obj;
  const current = (state.currentMessage as Obj).userInputMessage as Obj;
  const history = Array.isArray(state.history) ? state.history : [];
  const users: Array<[string, Obj]> = [['currentMessage', current]];
  history.forEach((entry, i) => {
    if (isObject(entry) && isObject(entry.userInputMessage)) users.push([`history[${i}]`, entry.userInputMessage]);
  });
  for (const [where, message] of users) {
    if (message.origin !== ORIGIN[wire]) return `${wire} wire with ${where} origin ${JSON.stringify(message.origin)}, not ${ORIGIN[wire]}`;
    const context = message.userInputMessageContext;
    if (wire === 'ide' && isObject(context) && context.envState !== undefined) return `ide wire with ${where} envState (a cli field)`;
  }
  if (wire === 'ide') {
    if (typeof state.agentContinuationId !== 'string') return 'ide wire without agentContinuationId';
    return undefined;
  }
  if ('agentContinuationId' in state) return 'cli wire with agentContinuationId (an ide field)';
  if ('profileArn' in body) return 'cli wire with a profileArn body field (an ide field)';
  for (const [where, message] of users.slice(1)) {
    if ('modelId' in message) return `cli wire with ${where} modelId (history messages carry none on cli)`;
  }
  const env = isObject(current.userInputMessageContext) ? current.userInputMessageContext.envState : undefined;
  if (!isObject(env) || typeof env.operatingSystem !== 'string' || typeof env.currentWorkingDirectory !== 'string') {
    return 'cli wire without currentMessage userInputMessageContext.envState {operatingSystem, currentWorkingDirectory}';
  }
  return undefined;
}

/**
 * Why this request does not speak `wire` cleanly, or undefined. `body` has passed findMalformation
 * (conversationState and currentMessage.userInputMessage exist).
 */
export function findWireMismatch(wire: KiroEndpoint, headers: IncomingHttpHeaders, body: unknown): string | undefined {
  return headerProblem(wire, headers) ?? bodyProblem(wire, body as Obj);
}

/** The wire of a POST to `/`: `cli` for the GenerateAssistantResponse target, else undefined (unknown operation). */
export function rootOperation(headers: IncomingHttpHeaders): KiroEndpoint | undefined {
  return header(headers, 'x-amz-target') === CLI_GENERATE_TARGET ? 'cli' : undefined;
}

/** MCP takes JSON-RPC on both wires; its two user agents must come from the same one. */
export function findMcpMismatch(headers: IncomingHttpHeaders): string | undefined {
  const rust = [header(headers, 'user-agent') ?? '', header(headers, 'x-amz-user-agent') ?? ''].map((v) => v.startsWith('aws-sdk-rust/'));
  if (rust[0] !== rust[1]) return 'mcp call mixes a Rust SDK (cli) and a JS SDK (ide) user agent';
  if (header(headers, 'x-amzn-kiro-agent-mode') !== undefined) return 'mcp call with x-amzn-kiro-agent-mode';
  return undefined;
}
