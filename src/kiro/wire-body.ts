/**
 * The generateAssistantResponse body as each wire wants it (docs/kiro-protocol-newer.md §4). The
 * converter builds the `ide` body once; the `cli` wire differs in a few fields: `origin` is
 * `KIRO_CLI` on every user message, there is no `agentContinuationId`, history user messages carry
 * no `modelId`, the current message always has a `userInputMessageContext` with `envState`, and no
 * `profileArn` is injected. One request may try credentials of both wires, so each wire's text is
 * serialised at most once per request, on first use; the tool list, most of a Claude Code body, is
 * not serialised at all but spliced in from the JSON the converter already holds for it.
 */
import { LongTextMemo } from '../long-text-memo.js';
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
 * Stand for the tool list, the history and one history entry's content while the rest of a body
 * is serialised; random per process, so no client can put them in a conversation on purpose
 * (exported for tests).
 */
export const TOOLS_MARKER = `kiro-gateway-tools-${randomUUID()}`;
export const HISTORY_MARKER = `kiro-gateway-history-${randomUUID()}`;
export const CONTENT_MARKER = `kiro-gateway-content-${randomUUID()}`;
const QUOTED_TOOLS_MARKER = JSON.stringify(TOOLS_MARKER);
const QUOTED_HISTORY_MARKER = JSON.stringify(HISTORY_MARKER);
const QUOTED_CONTENT_MARKER = JSON.stringify(CONTENT_MARKER);

interface WithCurrentMessage {
  conversationState: {
    currentMessage: { userInputMessage: { userInputMessageContext?: { tools?: unknown } } };
    history?: readonly unknown[];
  };
}

/** Where `quoted` is in `text` if it is there exactly once, else -1. */
function onlyIndexOf(text: string, quoted: string): number {
  const at = text.indexOf(quoted);
  return at >= 0 && text.indexOf(quoted, at + quoted.length) < 0 ? at : -1;
}

/**
 * The JSON of long history texts met before (a history entry's `content`). On Node 20,
 * JSON.stringify costs 1.4–2 ns a char, and Claude Code sends the same system prompt (the first
 * history entry) and the same first user message with every turn of a session: 12.5 of the 13 KB
 * of its tool-result turn's history, ~24 µs per request.
 */
const MEMO_MIN_LENGTH = 1_024;
const MEMO_MAX_LENGTH = 65_536;
const memo = new LongTextMemo<string>(32);

/** `JSON.stringify(text)`, remembered for long texts (exported for tests). */
export function stringJson(text: string): string {
  if (text.length < MEMO_MIN_LENGTH || text.length > MEMO_MAX_LENGTH) return JSON.stringify(text);
  const known = memo.get(text);
  if (known !== undefined) return known;
  const json = JSON.stringify(text);
  memo.set(text, json);
  return json;
}

/** `JSON.stringify(entry)` of a history entry, its long `content` taken from {@link stringJson}. */
function historyEntryJson(entry: unknown): string {
  const e = entry as Record<string, Record<string, unknown> | undefined>;
  const key = e.userInputMessage ? 'userInputMessage' : 'assistantResponseMessage';
  const message = e[key];
  const content = message?.content;
  if (typeof content !== 'string' || content.length < MEMO_MIN_LENGTH) return JSON.stringify(entry);
  // The copy keeps every key where it was, so the marker's JSON is where the content's goes.
  const text = JSON.stringify({ ...e, [key]: { ...message, content: CONTENT_MARKER } });
  const at = onlyIndexOf(text, QUOTED_CONTENT_MARKER);
  if (at < 0) return JSON.stringify(entry);
  return text.slice(0, at) + stringJson(content) + text.slice(at + QUOTED_CONTENT_MARKER.length);
}

/**
 * `JSON.stringify(body)` cut where the current message's `tools` go: the text before and after
 * them. The copies made on the way down keep every key where it was, so `before + JSON of the
 * tools + after` is `JSON.stringify(body)`, byte for byte; the history is serialised entry by
 * entry (its long texts remembered, {@link stringJson}) and put where its marker was. A body
 * without tools, or one whose conversation happens to contain a marker, is one piece.
 */
export function serialiseAroundTools(body: WithCurrentMessage): { before: string; after: string } | string {
  const state = body.conversationState;
  const message = state.currentMessage.userInputMessage;
  const context = message.userInputMessageContext;
  if (context?.tools === undefined) return JSON.stringify(body);
  const history = state.history;
  const marked = {
    ...body,
    conversationState: {
      ...state,
      currentMessage: { ...state.currentMessage, userInputMessage: { ...message, userInputMessageContext: { ...context, tools: TOOLS_MARKER } } },
      ...(history ? { history: HISTORY_MARKER } : {}),
    },
  };
  let text = JSON.stringify(marked);
  if (history) {
    const at = onlyIndexOf(text, QUOTED_HISTORY_MARKER);
    if (at < 0) return JSON.stringify(body);
    let json = '[';
    for (let i = 0; i < history.length; i++) json += (i === 0 ? '' : ',') + historyEntryJson(history[i]);
    text = text.slice(0, at) + json + ']' + text.slice(at + QUOTED_HISTORY_MARKER.length);
  }
  // Exactly one marker is ours; anything else means a conversation quoting it: serialise plainly.
  const at = onlyIndexOf(text, QUOTED_TOOLS_MARKER);
  if (at < 0) return JSON.stringify(body);
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
      this.cli ??= this.serialise(toCliBody(this.body, envStateOf(this.config)) as WithCurrentMessage);
      return this.join(this.cli, undefined);
    }
    this.ide ??= this.serialise(this.body);
    return this.join(this.ide, profileArn);
  }

  /** A wire's text, cut around the tools when their JSON is to be spliced in. */
  private serialise(body: WithCurrentMessage): { before: string; after: string } | string {
    return this.toolsJson ? serialiseAroundTools(body) : JSON.stringify(body);
  }

  private join(pieces: { before: string; after: string } | string, profileArn: string | undefined): string | Buffer {
    if (typeof pieces === 'string') return withProfileArn(pieces, profileArn);
    // One buffer written in place: a copy of the ~75 KB instead of two (`Buffer.from` of each text,
    // then `Buffer.concat`); 24 -> 13 µs for Claude Code's tool-result turn. `Buffer.concat` of the
    // three is the oracle in the tests.
    const before = withProfileArn(pieces.before, profileArn);
    const tools = this.toolsJson!;
    const beforeBytes = Buffer.byteLength(before);
    const out = Buffer.allocUnsafe(beforeBytes + tools.length + Buffer.byteLength(pieces.after));
    out.write(before, 0, 'utf8');
    tools.copy(out, beforeBytes);
    out.write(pieces.after, beforeBytes + tools.length, 'utf8');
    return out;
  }
}
