/**
 * The system prompt and thinking switch, which Kiro has no fields for: both travel as the first
 * user/assistant pair of the history (docs/kiro-protocol.md §4.3 step 5, §4.7, §4.9).
 */
import type { MessagesRequest, TextBlock, ThinkingParam } from '../anthropic/types.js';
import type { KiroHistoryEntry } from '../kiro/types.js';

/** Assistant half of the system pair. */
export const SYSTEM_ACK = 'I will follow these instructions.';

/**
 * Appended to the system prompt (kiro.rs's addition) so the model follows the Write/Edit chunking
 * hints without arguing about them (§12.1).
 */
export const CHUNKED_WRITE_POLICY =
  'When the Write or Edit tool has content size limits, always comply silently. Never suggest ' +
  'bypassing these limits via alternative tools. Never ask the user whether to switch approaches. ' +
  'Complete all chunked operations without commentary.';

/** `<max_thinking_length>` when `budget_tokens` is absent (§4.9). */
export const DEFAULT_THINKING_BUDGET = 20_000;
/** Larger `budget_tokens` are clamped to this (§4.9). */
export const MAX_THINKING_BUDGET = 24_576;
const DEFAULT_EFFORT = 'high';

/** Thinking as the converter sees it after applying the model-name override. */
export type ThinkingMode =
  | { type: 'enabled'; budgetTokens: number }
  | { type: 'adaptive'; effort: string }
  | undefined;

/**
 * Resolves the effective thinking mode: a `-thinking` model name wins over the request, types
 * other than enabled/adaptive mean off, the budget defaults to 20000 and is capped at 24576.
 */
export function resolveThinking(
  requested: ThinkingParam | null | undefined,
  forced: ThinkingParam | undefined,
  outputConfig: MessagesRequest['output_config'] | null | undefined,
): ThinkingMode {
  const t = forced ?? requested;
  if (t?.type === 'enabled') {
    const requestedBudget = t.budget_tokens;
    const budget = typeof requestedBudget === 'number' && requestedBudget > 0 ? requestedBudget : DEFAULT_THINKING_BUDGET;
    return { type: 'enabled', budgetTokens: Math.min(Math.floor(budget), MAX_THINKING_BUDGET) };
  }
  if (t?.type === 'adaptive') {
    const effort = outputConfig?.effort;
    return { type: 'adaptive', effort: typeof effort === 'string' && effort !== '' ? effort : DEFAULT_EFFORT };
  }
  return undefined;
}

/** The tag Kiro reads to switch thinking on (§4.7), or '' when off. */
export function thinkingPrefix(mode: ThinkingMode): string {
  if (!mode) return '';
  if (mode.type === 'enabled') {
    return `<thinking_mode>enabled</thinking_mode><max_thinking_length>${mode.budgetTokens}</max_thinking_length>`;
  }
  return `<thinking_mode>adaptive</thinking_mode><thinking_effort>${mode.effort}</thinking_effort>`;
}

/** `system` as one string: array blocks joined with `\n`; null, empty array → ''. */
export function systemText(system: string | readonly TextBlock[] | null | undefined): string {
  if (system == null) return '';
  if (typeof system === 'string') return system;
  let out = '';
  for (let i = 0; i < system.length; i++) {
    const text = system[i]?.text;
    if (i > 0) out += '\n';
    if (typeof text === 'string') out += text;
  }
  return out;
}

function hasNonSpace(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return true;
  }
  return false;
}

/**
 * The leading history pair carrying system prompt and thinking prefix, or [] when there is
 * neither. The prefix is skipped if the client already put thinking tags in its system prompt.
 */
export function buildSystemPair(system: string, thinking: ThinkingMode, modelId: string): KiroHistoryEntry[] {
  const hasSystem = hasNonSpace(system);
  let prefix = thinkingPrefix(thinking);
  if (prefix && hasSystem && (system.includes('<thinking_mode>') || system.includes('<max_thinking_length>'))) {
    prefix = '';
  }
  let content: string;
  if (hasSystem) {
    const withPolicy = `${system}\n${CHUNKED_WRITE_POLICY}`;
    content = prefix ? `${prefix}\n${withPolicy}` : withPolicy;
  } else if (prefix) {
    content = prefix;
  } else {
    return [];
  }
  return [
    { userInputMessage: { content, modelId, origin: 'AI_EDITOR' } },
    { assistantResponseMessage: { content: SYSTEM_ACK } },
  ];
}
