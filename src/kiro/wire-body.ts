/**
 * The generateAssistantResponse body as each wire wants it (docs/kiro-protocol-newer.md §4). The
 * converter builds the `ide` body once; the `cli` wire differs in a few fields: `origin` is
 * `KIRO_CLI` on every user message, there is no `agentContinuationId`, history user messages carry
 * no `modelId`, the current message always has a `userInputMessageContext` with `envState`, and no
 * `profileArn` is injected. One request may try credentials of both wires, so each wire's text is
 * serialised at most once per request, on first use; the tool list, most of a Claude Code body, is
 * not serialised at all but spliced in from the JSON the converter already holds for it.
 */
import { randomUUID } from 'node:crypto';
import type { GatewayConfig } from '../config.js';
import type { KiroEndpoint } from './endpoint.js';
import type { KiroHistoryEntry, KiroRequestBody, KiroUserInputMessage } from './types.js';

/** `userInputMessageContext.envState` of the `cli` wire. */
export interface KiroEnvState {
  operatingSystem: string;
  currentWorkingDirectory: string;
}

/** The `envState` the `cli` wire sends (`cliEndpoint.*`; no working directory set = the gateway's). */
export function envStateOf(config: Pick<GatewayConfig, 'cliEndpoint'>): KiroEnvState {
  const { operatingSystem, workingDirectory } = config.cliEndpoint;
  return { operatingSystem, currentWorkingDirectory: workingDirectory || process.cwd() };
}

/** Puts `profileArn` in front of an already serialised Kiro body (or its beginning) without re-serialising it. */
export function withProfileArn(serialisedBody: string, profileArn: string | undefined): string {
  if (!profileArn) return serialisedBody;
  return `{"profileArn":${JSON.stringify(profileArn)},${serialisedBody.slice(1)}`;
}

function cliUserMessage(message: KiroUserInputMessage, keepModelId: boolean): Record<string, unknown> {
  const { modelId, origin: _origin, ...rest } = message;
  return keepModelId ? { ...rest, modelId, origin: 'KIRO_CLI' } : { ...rest, origin: 'KIRO_CLI' };
}

function cliHistoryEntry(entry: KiroHistoryEntry): unknown {
  return 'userInputMessage' in entry ? { userInputMessage: cliUserMessage(entry.userInputMessage, false) } : entry;
}

/** The `cli` form of an `ide` body (which is left unchanged). */
export function toCliBody(body: KiroRequestBody, envState: KiroEnvState): unknown {
  const { agentContinuationId: _continuation, currentMessage, history, ...state } = body.conversationState;
  const current = cliUserMessage(currentMessage.userInputMessage, true);
  current.userInputMessageContext = { ...currentMessage.userInputMessage.userInputMessageContext, envState };
  return {
    conversationState: {
      ...state,
      currentMessage: { userInputMessage: current },
      ...(history ? { history: history.map(cliHistoryEntry) } : {}),
    },
  };
}

/**
 * Stands for the tool list while the rest of a body is serialised; random per process, so no
 * client can put it in a conversation on purpose (exported for tests).
 */
export const TOOLS_MARKER = `kiro-gateway-tools-${randomUUID()}`;
const QUOTED_TOOLS_MARKER = JSON.stringify(TOOLS_MARKER);

interface WithCurrentMessage {
  conversationState: { currentMessage: { userInputMessage: { userInputMessageContext?: { tools?: unknown } } } };
}

/**
 * `JSON.stringify(body)` cut where the current message's `tools` go: the text before and after
 * them. The copies made on the way down keep every key where it was, so `before + JSON of the
 * tools + after` is `JSON.stringify(body)`, byte for byte. A body without tools, or one whose
 * conversation happens to contain the marker, is one piece.
 */
export function serialiseAroundTools(body: WithCurrentMessage): { before: string; after: string } | string {
  const state = body.conversationState;
  const message = state.currentMessage.userInputMessage;
  const context = message.userInputMessageContext;
  if (context?.tools === undefined) return JSON.stringify(body);
  const marked = {
    ...body,
    conversationState: {
      ...state,
      currentMessage: { ...state.currentMessage, userInputMessage: { ...message, userInputMessageContext: { ...context, tools: TOOLS_MARKER } } },
    },
  };
  const text = JSON.stringify(marked);
  const at = text.indexOf(QUOTED_TOOLS_MARKER);
  // Exactly one marker is ours; anything else means a conversation quoting it: serialise plainly.
  if (at < 0 || text.indexOf(QUOTED_TOOLS_MARKER, at + 1) >= 0) return JSON.stringify(body);
  return { before: text.slice(0, at), after: text.slice(at + QUOTED_TOOLS_MARKER.length) };
}

/** One request's body, serialised per wire on first use. */
export class WireBody {
  private ide: { before: string; after: string } | string | undefined;
  private cli: { before: string; after: string } | string | undefined;

  /**
   * @param toolsJson UTF-8 JSON of the current message's tools, when the converter has it (the
   *   cached bytes of the request's tool list): it goes into the body as it is.
   */
  constructor(
    private readonly body: KiroRequestBody,
    private readonly config: Pick<GatewayConfig, 'cliEndpoint'>,
    private readonly toolsJson?: Buffer,
  ) {}

  /** What to send on `endpoint` (text, or bytes when the tools were spliced in); `profileArn` on the `ide` wire only. */
  bytes(endpoint: KiroEndpoint, profileArn: string | undefined): string | Buffer {
    if (endpoint === 'cli') {
      this.cli ??= this.toolsJson ? serialiseAroundTools(toCliBody(this.body, envStateOf(this.config)) as WithCurrentMessage) : JSON.stringify(toCliBody(this.body, envStateOf(this.config)));
      return this.join(this.cli, undefined);
    }
    this.ide ??= this.toolsJson ? serialiseAroundTools(this.body) : JSON.stringify(this.body);
    return this.join(this.ide, profileArn);
  }

  private join(pieces: { before: string; after: string } | string, profileArn: string | undefined): string | Buffer {
    if (typeof pieces === 'string') return withProfileArn(pieces, profileArn);
    return Buffer.concat([Buffer.from(withProfileArn(pieces.before, profileArn)), this.toolsJson!, Buffer.from(pieces.after)]);
  }
}
