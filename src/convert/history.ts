/**
 * Anthropic `messages` → Kiro `history` + current user message (docs/kiro-protocol.md §4.3
 * steps 2–4 and 6–8, §4.4, §4.5).
 *
 * Besides the mapping itself this is where the request is made well formed for Kiro, which
 * answers 400 "Improperly formed request" (§12.2) unless history strictly alternates user /
 * assistant starting with user, no assistant turn is empty, and every toolUse in history is
 * answered by a toolResult in the very next user turn (and no result answers nothing). Clients
 * break these rules routinely: Claude Code after a network drop sends consecutive user turns and
 * tool calls without results.
 *
 * One pass over the messages; the §8 token estimate is taken in the same pass.
 */
import type { ContentBlockParam, MessageParam, ThinkingBlock, ToolUseBlock } from '../anthropic/types.js';
import { InvalidRequestError } from '../errors.js';
import type {
  KiroAssistantResponseMessage,
  KiroHistoryEntry,
  KiroToolResult,
  KiroToolUse,
  KiroUserInputMessage,
} from '../kiro/types.js';
import { estimateMessageTokens } from './tokens.js';
import type { ToolNamer } from './tools.js';
import { UserParts } from './user-turn.js';

/** Content of the synthetic assistant turn inserted between two user turns (§4.5). */
export const ASSISTANT_FILLER = 'OK';
/** Content of a user turn that would otherwise be empty (e.g. only orphan tool results). */
export const USER_FILLER = 'Continue';
/** Content of an assistant turn that has tool uses but no text (§4.5). */
export const TOOL_ONLY_ASSISTANT_CONTENT = ' ';

/** Inputs shared by the whole conversion. */
export interface MessagesContext {
  modelId: string;
  namer: ToolNamer;
  /** Entries placed before the converted history (the system pair). Must end with an assistant. */
  leading: KiroHistoryEntry[];
}

/** Result of converting `messages`. */
export interface ConvertedMessages {
  history: KiroHistoryEntry[];
  /** The current user message; `userInputMessageContext` holds toolResults only (tools are added later). */
  current: KiroUserInputMessage;
  /** Kiro names of the tools used by the toolUses kept in history, for placeholder declarations. */
  historyToolNames: Set<string>;
  /** §8 estimate over all messages (dropped prefill included, as kiro.rs counts the request). */
  messageTokens: number;
}

function hasNonSpace(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return true;
  }
  return false;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An assistant entry whose toolUses still wait for their results in the next user turn. */
interface OpenAssistant {
  message: KiroAssistantResponseMessage;
  ids: Set<string>;
}

/**
 * Streams messages into alternating history entries. Same-role runs are merged on role change;
 * pairing of an assistant turn's toolUses is settled when the following user turn is flushed.
 */
class HistoryBuilder {
  readonly entries: KiroHistoryEntry[];
  readonly toolNames = new Set<string>();
  private role: 'user' | 'assistant' | undefined;
  private user = new UserParts();
  private assistantTexts: string[] = [];
  private assistantToolUses: KiroToolUse[] = [];
  private open: OpenAssistant | undefined;
  private readonly seenToolUseIds = new Set<string>();

  constructor(private readonly ctx: MessagesContext) {
    this.entries = [...ctx.leading];
  }

  add(message: MessageParam): void {
    const role = message.role === 'assistant' ? 'assistant' : 'user';
    if (this.role !== undefined && this.role !== role) this.flush();
    this.role = role;
    if (role === 'user') this.user.add(message, message.role === 'system');
    else this.addAssistant(message);
  }

  /**
   * Flushes the pending turn and makes history end with an assistant entry. If that entry has
   * toolUses they stay pending until `pairResults` is called with the current message's results.
   */
  finish(): void {
    this.flush();
    const last = this.entries[this.entries.length - 1];
    if (last && 'userInputMessage' in last) {
      this.entries.push({ assistantResponseMessage: { content: ASSISTANT_FILLER } });
    }
  }

  /**
   * Keeps the results that answer a pending toolUse of the last assistant turn (first answer
   * wins), then drops that turn's toolUses that got no answer.
   */
  pairResults(results: KiroToolResult[]): KiroToolResult[] {
    const open = this.open;
    this.open = undefined;
    if (!open) return [];
    const answered = new Set<string>();
    const kept: KiroToolResult[] = [];
    for (const r of results) {
      if (open.ids.has(r.toolUseId) && !answered.has(r.toolUseId)) {
        answered.add(r.toolUseId);
        kept.push(r);
      }
    }
    const message = open.message;
    const toolUses = message.toolUses!.filter((u) => answered.has(u.toolUseId));
    if (toolUses.length > 0) {
      message.toolUses = toolUses;
      for (const u of toolUses) this.toolNames.add(u.name);
    } else {
      delete message.toolUses;
      if (!hasNonSpace(message.content)) message.content = ASSISTANT_FILLER;
    }
    return kept;
  }

  private addAssistant(message: MessageParam): void {
    const content = message.content;
    if (typeof content === 'string') {
      if (hasNonSpace(content)) this.assistantTexts.push(content);
      return;
    }
    let thinking = '';
    let text = '';
    for (const block of content as ContentBlockParam[]) {
      if (block.type === 'text') text += (block as { text: string }).text;
      else if (block.type === 'thinking') thinking += (block as ThinkingBlock).thinking;
      else if (block.type === 'tool_use') this.addToolUse(block as ToolUseBlock);
    }
    // Kiro has no thinking blocks: previous reasoning goes back inline, as the model emitted it.
    let converted = text;
    if (thinking !== '') {
      converted = text !== '' ? `<thinking>${thinking}</thinking>\n\n${text}` : `<thinking>${thinking}</thinking>`;
    }
    if (hasNonSpace(converted)) this.assistantTexts.push(converted);
  }

  private addToolUse(block: ToolUseBlock): void {
    const id = block.id;
    // Duplicate ids (a replayed turn after a drop) would make pairing ambiguous upstream.
    if (id === '' || this.seenToolUseIds.has(id)) return;
    this.seenToolUseIds.add(id);
    this.assistantToolUses.push({
      toolUseId: id,
      name: this.ctx.namer.kiroName(block.name),
      input: isPlainObject(block.input) ? block.input : {},
    });
  }

  private flush(): void {
    if (this.role === 'user') this.flushUser();
    else if (this.role === 'assistant') this.flushAssistant();
    this.role = undefined;
  }

  private flushUser(): void {
    const parts = this.user;
    this.user = new UserParts();
    const toolResults = this.pairResults(parts.toolResults);
    const message: KiroUserInputMessage = {
      content: parts.texts.join('\n'),
      modelId: this.ctx.modelId,
      origin: 'AI_EDITOR',
    };
    if (parts.images.length > 0) message.images = parts.images;
    if (toolResults.length > 0) message.userInputMessageContext = { toolResults };
    else if (message.content === '' && parts.images.length === 0) message.content = USER_FILLER;
    this.entries.push({ userInputMessage: message });
  }

  private flushAssistant(): void {
    const last = this.entries[this.entries.length - 1];
    // History must start with user, and the system pair already ends with an assistant.
    if (!last || 'assistantResponseMessage' in last) {
      const filler: KiroUserInputMessage = { content: USER_FILLER, modelId: this.ctx.modelId, origin: 'AI_EDITOR' };
      this.entries.push({ userInputMessage: filler });
    }
    const toolUses = this.assistantToolUses;
    const content = this.assistantTexts.join('\n\n');
    this.assistantTexts = [];
    this.assistantToolUses = [];
    let fallback = ASSISTANT_FILLER;
    if (toolUses.length > 0) fallback = TOOL_ONLY_ASSISTANT_CONTENT;
    const message: KiroAssistantResponseMessage = { content: content !== '' ? content : fallback };
    if (toolUses.length > 0) {
      message.toolUses = toolUses;
      this.open = { message, ids: new Set(toolUses.map((u) => u.toolUseId)) };
    }
    this.entries.push({ assistantResponseMessage: message });
  }
}

/**
 * Index range of the current message: the last `user` message (after dropping trailing
 * assistant prefill) plus the `system` messages directly around it.
 */
function currentRange(messages: readonly MessageParam[]): { start: number; end: number } {
  let end = messages.length - 1;
  while (end >= 0 && messages[end].role === 'assistant') end--;
  let i = end;
  while (i >= 0 && messages[i].role === 'system') i--;
  if (i >= 0 && messages[i].role === 'user') {
    i--;
    while (i >= 0 && messages[i].role === 'system') i--;
  }
  return { start: i + 1, end };
}

/**
 * Converts `messages` into Kiro history and current message.
 *
 * `role: "system"` messages (Claude Code's mid-conversation system beta) become user text: Kiro
 * has no system role and history must alternate, so they are merged into the neighbouring user
 * turn (the current message when they sit next to it).
 *
 * @throws InvalidRequestError when there is no user message.
 */
export function convertMessages(messages: readonly MessageParam[], ctx: MessagesContext): ConvertedMessages {
  const { start, end } = currentRange(messages);
  const builder = new HistoryBuilder(ctx);
  const current = new UserParts();
  let messageTokens = 0;
  let sawUser = false;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    messageTokens += estimateMessageTokens(message);
    if (message.role === 'user') sawUser = true;
    if (i < start) builder.add(message);
    else if (i <= end) current.add(message, message.role === 'system');
    // else: trailing assistant prefill, which Kiro cannot express (§4.3 step 2).
  }
  if (!sawUser) throw new InvalidRequestError('messages: at least one user message is required');
  builder.finish();

  const toolResults = builder.pairResults(current.toolResults);
  const message: KiroUserInputMessage = {
    content: current.texts.join('\n'),
    modelId: ctx.modelId,
    origin: 'AI_EDITOR',
    userInputMessageContext: {},
  };
  if (current.images.length > 0) message.images = current.images;
  if (toolResults.length > 0) message.userInputMessageContext!.toolResults = toolResults;
  else if (message.content === '' && current.images.length === 0) message.content = USER_FILLER;
  return { history: builder.entries, current: message, historyToolNames: builder.toolNames, messageTokens };
}
