/**
 * Anthropic Messages request → Kiro `generateAssistantResponse` body (docs/kiro-protocol.md §4).
 *
 * The pieces live next door: system.ts (system prompt + thinking), history.ts (messages, merging,
 * tool pairing), tools.ts (tool specs, schemas, names), tokens.ts (estimates). This module wires
 * them together and adds the conversation ids and web-search detection.
 */
import { randomUUID } from 'node:crypto';
import type { MessagesRequest } from '../anthropic/types.js';
import { InvalidRequestError } from '../errors.js';
import {
  adaptiveThinkingOnly,
  anthropicIdOf,
  BUILTIN_MODELS,
  kiroModelVersion,
  resolveModel,
  thinksByDefault,
  type ResolveOptions,
} from '../kiro/models.js';
import type { KiroRequestBody } from '../kiro/types.js';
import { convertMessages } from './history.js';
import { buildSystemPair, resolveThinking, systemText, type ThinkingMode } from './system.js';
import { estimateSystemTokens } from './tokens.js';
import { historyPlaceholders, ToolNamer } from './tools.js';
import { ToolListCache } from './tool-list-cache.js';

/** Everything the route needs to call Kiro and to render the answer. */
export interface ConvertedRequest {
  /** The upstream body, without `profileArn` (added per credential at send time). */
  body: KiroRequestBody;
  /**
   * `JSON.stringify` of the current message's `tools` as UTF-8, from the cached JSON of the
   * request's tool list (WireBody puts it in the body instead of serialising the tools again);
   * absent without tools.
   */
  toolsJson?: Buffer;
  kiroModelId: string;
  /** Context window for contextUsagePercentage → input tokens. */
  windowSize: number;
  /** The requested version is not offered; `kiroModelId` is the newest of its family (x-kiro-model). */
  modelSubstituted: boolean;
  /** Whether thinking was requested, i.e. whether to split `<thinking>` out of the text stream. */
  thinking: boolean;
  /** Kiro tool name → client tool name, only for names shortened to fit 63 bytes. */
  toolNameMap: ReadonlyMap<string, string>;
  /** §8 estimate of the request's input tokens. */
  inputTokensEstimate: number;
  /** Set when the request is a web search (§4.10); the route then calls MCP instead of Kiro. */
  webSearch?: { query: string };
}

/** Converted tool lists, shared by every request of the process (see tool-list-cache.ts). */
const toolLists = new ToolListCache();

/** Claude Code wraps the query of its web-search sub-request in this sentence. */
const WEB_SEARCH_QUERY_PREFIX = 'Perform a web search for the query: ';
const SESSION_MARKER = 'session_';
const UUID_LENGTH = 36;
const UUID_DASHES = 4;

function looksLikeUuid(s: string): boolean {
  if (s.length !== UUID_LENGTH) return false;
  let dashes = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 0x2d) dashes++;
  return dashes === UUID_DASHES;
}

/**
 * The client session UUID inside `metadata.user_id`: either JSON `{"session_id": "<uuid>", …}`
 * or Claude Code's older `user_…_account__session_<uuid>` string. Reusing it as Kiro's
 * conversationId keeps one upstream conversation per client session, as the IDE does.
 */
export function sessionIdFromUserId(userId: unknown): string | undefined {
  if (typeof userId !== 'string' || userId === '') return undefined;
  if (userId.charCodeAt(0) === 0x7b /* { */) {
    try {
      const parsed: unknown = JSON.parse(userId);
      const id = (parsed as { session_id?: unknown } | null)?.session_id;
      if (typeof id === 'string' && looksLikeUuid(id)) return id;
    } catch {
      // not JSON after all; try the string form
    }
  }
  const at = userId.lastIndexOf(SESSION_MARKER);
  if (at < 0) return undefined;
  const id = userId.slice(at + SESSION_MARKER.length, at + SESSION_MARKER.length + UUID_LENGTH);
  return looksLikeUuid(id) ? id : undefined;
}

/**
 * §4.10: a request whose only tool is `web_search` is a web search; the query is the first
 * message's text without Claude Code's wrapper sentence.
 */
function webSearchQuery(req: MessagesRequest): string | undefined {
  const tools = req.tools;
  if (!tools || tools.length !== 1 || tools[0].name !== 'web_search') return undefined;
  const content = req.messages[0].content;
  let text = '';
  if (typeof content === 'string') text = content;
  else if (content.length > 0 && content[0].type === 'text') text = (content[0] as { text: string }).text;
  if (text.startsWith(WEB_SEARCH_QUERY_PREFIX)) text = text.slice(WEB_SEARCH_QUERY_PREFIX.length);
  text = text.trim();
  if (text === '') throw new InvalidRequestError('messages.0.content: web search request has no query');
  return text;
}

/**
 * Thinking as this model takes it (newer notes §1, §2): Opus 4.7+ and Sonnet 5 think adaptively
 * only, so a manual budget becomes adaptive (Sonnet 5 answers `enabled` with a 400).
 */
function thinkingFor(modelId: string, mode: ThinkingMode, req: MessagesRequest): ThinkingMode {
  if (mode?.type !== 'enabled' || !adaptiveThinkingOnly(modelId)) return mode;
  const effort = req.output_config?.effort;
  return { type: 'adaptive', effort: typeof effort === 'string' && effort !== '' ? effort : 'high' };
}

/** Sonnet 5 thinks without being asked: its `<thinking>` is split out unless thinking is `disabled`. */
function thinksUnasked(modelId: string, req: MessagesRequest): boolean {
  return thinksByDefault(modelId) && req.thinking?.type !== 'disabled';
}

/** Whether any user message of the body (current or history) carries an image. */
function bodyHasImages(body: KiroRequestBody): boolean {
  const state = body.conversationState;
  if (state.currentMessage.userInputMessage.images?.length) return true;
  return (state.history ?? []).some((h) => 'userInputMessage' in h && (h.userInputMessage.images?.length ?? 0) > 0);
}

/**
 * The 400 for images sent to a model whose ListAvailableModels entry lists no IMAGE input: Kiro
 * would refuse it, so it is refused before any upstream call, naming the models that do take images.
 */
function imagesRefused(requested: string, kiroModelId: string, opts: ResolveOptions | undefined): InvalidRequestError {
  const takers = (opts?.offered ?? BUILTIN_MODELS).filter((m) => m.images && kiroModelVersion(m.kiroModelId)).map((m) => anthropicIdOf(m.kiroModelId));
  return new InvalidRequestError(
    `model: ${requested} (Kiro ${kiroModelId}) does not take image input (its supportedInputTypes have no IMAGE); ` +
      `remove the image blocks or use a model that takes images${takers.length > 0 ? `: ${takers.join(', ')}` : ''}`,
  );
}

/**
 * Converts a validated Messages request into a Kiro request body plus what the response side
 * needs (model window, thinking flag, tool-name map, input estimate).
 *
 * The body is well formed by construction (§12.2): history alternates user/assistant starting
 * with user and ending with assistant, no assistant content is empty, every history toolUse is
 * answered in the next user turn and no result is orphaned or duplicated, every tool used in
 * history is declared, schemas are normalised and tool names fit in 63 bytes.
 *
 * @param opts.conversationId overrides the id taken from `metadata.user_id` (or a fresh UUID).
 * @throws NotFoundError for unsupported models; InvalidRequestError when there is no user message,
 *   a web search has no query, or images go to a model that takes none.
 */
export function convertRequest(
  req: MessagesRequest,
  opts: { conversationId?: string; models?: ResolveOptions } = {},
): ConvertedRequest {
  const model = resolveModel(req.model, opts.models);
  if (!req.messages || req.messages.length === 0) {
    throw new InvalidRequestError('messages: at least one message is required');
  }
  const webSearch = webSearchQuery(req);
  const modelId = model.kiroModelId;
  const thinking = thinkingFor(modelId, resolveThinking(req.thinking, model.forceThinking, req.output_config), req);
  const namer = new ToolNamer();

  const leading = buildSystemPair(systemText(req.system), thinking, modelId);
  const converted = convertMessages(req.messages, { modelId, namer, leading });
  const toolList = toolLists.get(req.tools);
  // The answer maps shortened Kiro names back: the tool list's, found when it was converted.
  for (const [kiroName, name] of toolList.renamed) namer.reverse.set(kiroName, name);
  const placeholders = historyPlaceholders(toolList.declared, converted.historyToolNames);
  const tools = placeholders.length > 0 ? toolList.specs.concat(placeholders) : toolList.specs;
  const current = converted.current;
  let toolsJson: Buffer | undefined;
  if (tools.length > 0) {
    current.userInputMessageContext = { ...current.userInputMessageContext, tools };
    // With placeholder declarations (rare: history uses a tool no longer sent) the list is serialised here.
    toolsJson = placeholders.length === 0 ? toolList.json : Buffer.from(JSON.stringify(tools));
  }

  const body: KiroRequestBody = {
    conversationState: {
      agentContinuationId: randomUUID(),
      agentTaskType: 'vibe',
      chatTriggerType: 'MANUAL',
      conversationId: opts.conversationId ?? sessionIdFromUserId(req.metadata?.user_id) ?? randomUUID(),
      currentMessage: { userInputMessage: current },
    },
  };
  if (converted.history.length > 0) body.conversationState.history = converted.history;
  if (!model.images && bodyHasImages(body)) throw imagesRefused(req.model, modelId, opts.models);

  const estimate = estimateSystemTokens(req.system) + converted.messageTokens + toolList.tokens;
  const result: ConvertedRequest = {
    body,
    kiroModelId: modelId,
    windowSize: model.windowSize,
    thinking: thinking !== undefined || thinksUnasked(modelId, req),
    modelSubstituted: model.substituted,
    toolNameMap: namer.reverse,
    inputTokensEstimate: estimate > 0 ? estimate : 1,
  };
  if (toolsJson !== undefined) result.toolsJson = toolsJson;
  if (webSearch !== undefined) result.webSearch = { query: webSearch };
  return result;
}
