/**
 * The JSON of a Messages request body, parsed, with Claude Code's tool list parsed once.
 *
 * Claude Code sends the same `tools` (~63 KB, 80 % of a 76 KB body) with every turn, serialised
 * the same way. When the raw text of a request's tool list is byte for byte one parsed before,
 * the rest of the body is parsed with a stand-in where the list was and the list parsed before is
 * put back: the parse, the depth check and the tool-list cache's comparison of that part are
 * skipped (about 0.1 ms of a Claude Code request before its upstream call; bench/README.md).
 *
 * The result is always what `JSON.parse` of the whole text gives (tests compare the two):
 * - the stand-in is a string chosen at random per process, and a hit counts only when the
 *   top-level `tools` of the parsed rest is that stand-in — so the text replaced was the top-level
 *   tool list and no other `"tools":[…]` (nested in a schema or a message, or in a duplicate key);
 * - a list is remembered only when its raw text is exactly `JSON.stringify` of what it parsed to,
 *   so the remembered text ends where the array ends.
 * Anything else (no tools, other whitespace, a new list) takes the plain parse.
 */
import { randomUUID } from 'node:crypto';
import { parseJsonText } from '../http/body.js';
import { LongTextMemo } from '../long-text-memo.js';
import { deepFreeze } from '../convert/tool-list-cache.js';

const TOOLS_KEY = '"tools":';
const STAND_IN = `kiro-gateway-parsed-tools-${randomUUID()}`;
const STAND_IN_JSON = JSON.stringify(STAND_IN);
/** Lists shorter than this are parsed as they come: nothing worth saving. */
const MIN_RAW_LENGTH = 2_048;

/**
 * Parsed tool lists by their raw text, frozen: shared by every request that sends the same text
 * (a Claude Code list and its parse hold ~0.3 MB).
 */
const lists = new LongTextMemo<unknown[]>(16);

/** Hits and misses, for tests. */
export const messagesBodyStats = { hits: 0, misses: 0 };

/** Parses a Messages request body (400 on malformed or too deeply nested JSON, like `parseJsonText`). */
export function parseMessagesBody(text: string): unknown {
  const at = text.indexOf(TOOLS_KEY);
  const start = at + TOOLS_KEY.length;
  if (at < 0 || text.charCodeAt(start) !== 0x5b /* [ */) return parseJsonText(text);
  const hit = lists.findAt(text, start);
  if (hit) {
    let rest: Record<string, unknown> | undefined;
    try {
      rest = parseJsonText(text.slice(0, start) + STAND_IN_JSON + text.slice(start + hit.text.length)) as Record<string, unknown>;
    } catch {
      // Malformed: the plain parse below reports it, with the position in the text as sent.
    }
    if (rest !== null && typeof rest === 'object' && rest.tools === STAND_IN) {
      messagesBodyStats.hits++;
      rest.tools = hit.value;
      return rest;
    }
  }
  messagesBodyStats.misses++;
  const body = parseJsonText(text);
  remember(text, start, body);
  return body;
}

function remember(text: string, start: number, body: unknown): void {
  const tools = (body as { tools?: unknown } | null)?.tools;
  if (!Array.isArray(tools)) return;
  const raw = JSON.stringify(tools);
  if (raw.length < MIN_RAW_LENGTH || text.slice(start, start + raw.length) !== raw) return;
  lists.set(raw, deepFreeze(tools));
}
