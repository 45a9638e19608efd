/**
 * Cheap token estimates (docs/kiro-protocol.md §7.4 and §8). No tokenizer: Kiro reports the real
 * input size only through `contextUsageEvent`, so these numbers just need to be in the right
 * ballpark and fast (they run on every request, over the whole history).
 */
import type { MessageParam, TextBlock, ToolParam } from '../anthropic/types.js';

/** Char units per token in the §8 heuristic; non-Western chars weigh this much, Western ones 1. */
const UNITS_PER_TOKEN = 4;
const NON_WESTERN_UNITS = 4;

/** True for code points counted as "Western" by §8 (Latin, Latin Extended, …). */
function isWesternAbove024f(cp: number): boolean {
  return (
    (cp >= 0x1e00 && cp <= 0x1eff) ||
    (cp >= 0x2c60 && cp <= 0x2c7f) ||
    (cp >= 0xa720 && cp <= 0xa7ff) ||
    (cp >= 0xab30 && cp <= 0xab6f)
  );
}

/**
 * Texts with no code point above U+024F count one unit per char: found with a regular expression,
 * which V8 answers at once for a one-byte (Latin-1) string, the usual case, as it cannot match
 * one. Instead of a loop over every char of the history on every request: Claude Code's
 * tool-result turn 11 µs → under 0.1 µs.
 */
const ABOVE_LATIN_EXTENDED = /[^\u0000-\u024f]/;
/** Chars the §7.4 output estimate counts apart: CJK, and high surrogates (a pair is one code point). */
const CJK_OR_SURROGATE = /[\u4e00-\u9fff\ud800-\udbff]/;

/** Small texts carry proportionally more tokens (§8 correction factors). */
function correctionFactor(tokens: number): number {
  if (tokens < 100) return 1.5;
  if (tokens < 200) return 1.3;
  if (tokens < 300) return 1.25;
  if (tokens < 800) return 1.2;
  return 1;
}

/**
 * §8 estimate of one string: 1 unit per Western code point, 4 per other code point, 4 units per
 * token, times a size-dependent factor, truncated. A surrogate pair is one (non-Western) code point.
 */
export function estimateTokensOfString(s: string): number {
  const len = s.length;
  if (len === 0) return 0;
  const units = ABOVE_LATIN_EXTENDED.test(s) ? unitsOf(s) : len;
  const tokens = units / UNITS_PER_TOKEN;
  return Math.trunc(tokens * correctionFactor(tokens));
}

/** §8 units of `s`, char by char. */
function unitsOf(s: string): number {
  const len = s.length;
  let units = 0;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x024f) {
      units += 1;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      units += NON_WESTERN_UNITS;
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    } else {
      units += isWesternAbove024f(c) ? 1 : NON_WESTERN_UNITS;
    }
  }
  return units;
}

/**
 * §7.4 streaming output estimate of one text fragment: `ceil(cjk/1.5) + ceil(other/4)`, at least 1.
 * CJK is U+4E00..U+9FFF; counts are in code points.
 */
export function estimateTextOutputTokens(text: string): number {
  // Without CJK or surrogates every char counts as one `other`.
  if (!CJK_OR_SURROGATE.test(text)) return outputTokens(0, text.length);
  let cjk = 0;
  let other = 0;
  const len = text.length;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x4e00 && c <= 0x9fff) {
      cjk++;
    } else {
      other++;
      if (c >= 0xd800 && c <= 0xdbff) {
        const next = text.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) i++;
      }
    }
  }
  return outputTokens(cjk, other);
}

function outputTokens(cjk: number, other: number): number {
  const tokens = Math.floor((cjk * 2 + 2) / 3) + Math.floor((other + 3) / 4);
  return tokens > 0 ? tokens : 1;
}

/** §7.4 streaming output estimate of one tool-input JSON fragment: `ceil(utf8 bytes / 4)`. */
export function estimateToolInputOutputTokens(fragment: string): number {
  return Math.floor((Buffer.byteLength(fragment, 'utf8') + 3) / 4);
}

/** §8 tokens of the `system` field: each text block counted on its own. */
export function estimateSystemTokens(system: string | readonly TextBlock[] | null | undefined): number {
  if (system == null) return 0;
  if (typeof system === 'string') return estimateTokensOfString(system);
  let total = 0;
  for (const block of system) {
    if (typeof block?.text === 'string') total += estimateTokensOfString(block.text);
  }
  return total;
}

/**
 * §8 tokens of one message: its string content, or the top-level `text` of each block. Tool
 * inputs, tool_result bodies, thinking and images are not counted (as in kiro.rs).
 */
export function estimateMessageTokens(message: MessageParam): number {
  const content = message.content;
  if (typeof content === 'string') return estimateTokensOfString(content);
  let total = 0;
  if (!Array.isArray(content)) return total;
  for (const block of content) {
    const text = (block as { text?: unknown }).text;
    if (typeof text === 'string') total += estimateTokensOfString(text);
  }
  return total;
}

/** §8 tokens of the tool declarations: name, description and the JSON of `input_schema`. */
export function estimateToolsTokens(tools: readonly ToolParam[] | null | undefined): number {
  if (!tools) return 0;
  let total = 0;
  for (const tool of tools) {
    total += estimateTokensOfString(tool.name ?? '');
    if (typeof tool.description === 'string') total += estimateTokensOfString(tool.description);
    if (tool.input_schema !== undefined) total += estimateTokensOfString(JSON.stringify(tool.input_schema) ?? '');
  }
  return total;
}

/**
 * §8 input estimate of a Messages or count_tokens request: system + messages + tools, at least 1.
 * Used for `message_start.usage.input_tokens` and `/v1/messages/count_tokens`.
 */
export function estimateInputTokens(req: {
  system?: string | readonly TextBlock[] | null;
  messages: readonly MessageParam[];
  tools?: readonly ToolParam[] | null;
}): number {
  let total = estimateSystemTokens(req.system) + estimateToolsTokens(req.tools);
  for (const message of req.messages) total += estimateMessageTokens(message);
  return total > 0 ? total : 1;
}
