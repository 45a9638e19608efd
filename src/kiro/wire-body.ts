/**
 * The generateAssistantResponse body as each wire wants it (docs/kiro-protocol-newer.md §4). The
 * converter builds the `ide` body once; the `cli` wire differs in a few fields: `origin` is
 * `KIRO_CLI` on every user message, there is no `agentContinuationId`, history user messages carry
 * no `modelId`, the current message always has a `userInputMessageContext` with `envState`, and no
 * `profileArn` is injected. One request may try credentials of both wires, so each wire's text is
 * serialised at most once per request, on first use.
 */
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

/** Puts `profileArn` in front of an already serialised Kiro body without re-serialising it. */
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

/** One request's body, serialised per wire on first use. */
export class WireBody {
  private ide: string | undefined;
  private cli: string | undefined;

  constructor(
    private readonly body: KiroRequestBody,
    private readonly config: Pick<GatewayConfig, 'cliEndpoint'>,
  ) {}

  /** The text to send on `endpoint`; `profileArn` is injected on the `ide` wire only. */
  text(endpoint: KiroEndpoint, profileArn: string | undefined): string {
    if (endpoint === 'cli') return (this.cli ??= JSON.stringify(toCliBody(this.body, envStateOf(this.config))));
    return withProfileArn((this.ide ??= JSON.stringify(this.body)), profileArn);
  }
}
