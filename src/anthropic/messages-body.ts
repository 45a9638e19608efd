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
import { deepFreeze } from '../convert/tool-list-cache.js';

const TOOLS_KEY = '"tools":';
const STAND_IN = `kiro-gateway-parsed-tools-${randomUUID()}`;
const STAND_IN_JSON = JSON.stringify(STAND_IN);
/** Tool lists remembered by their raw text (a Claude Code list and its parse hold ~0.3 MB). */
const CAPACITY = 16;
/** Lists shorter than this are parsed as they come: nothing worth saving. */
const MIN_RAW_LENGTH = 2_048;

interface RawList {
  raw: string;
  /** The parsed list, frozen: shared by every request that sends the same text. */
  tools: unknown[];
}

/** Raw tool lists by length, most recently used last; a few share a length at most. */
const lists = new Map<number, RawList[]>();
let remembered = 0;

/** Hits and misses, for tests. */
export const messagesBodyStats = { hits: 0, misses: 0 };

/** Parses a Messages request body (400 on malformed or too deeply nested JSON, like `parseJsonText`). */
export function parseMessagesBody(text: string): unknown {
  const at = text.indexOf(TOOLS_KEY);
  const start = at + TOOLS_KEY.length;
  if (at < 0 || text.charCodeAt(start) !== 0x5b /* [ */) return parseJsonText(text);
  const hit = findList(text, start);
  if (hit) {
    // Most recently used last.
    const bucket = lists.get(hit.raw.length)!;
    lists.delete(hit.raw.length);
    lists.set(hit.raw.length, bucket);
    let rest: Record<string, unknown> | undefined;
    try {
      rest = parseJsonText(text.slice(0, start) + STAND_IN_JSON + text.slice(start + hit.raw.length)) as Record<string, unknown>;
    } catch {
      // Malformed: the plain parse below reports it, with the position in the text as sent.
    }
    if (rest !== null && typeof rest === 'object' && rest.tools === STAND_IN) {
      messagesBodyStats.hits++;
      rest.tools = hit.tools;
      return rest;
    }
  }
  messagesBodyStats.misses++;
  const body = parseJsonText(text);
  remember(text, start, body);
  return body;
}

function findList(text: string, start: number): RawList | undefined {
  for (const [length, candidates] of lists) {
    const end = start + length;
    if (end > text.length) continue;
    const raw = text.slice(start, end);
    for (const candidate of candidates) if (candidate.raw === raw) return candidate;
  }
  return undefined;
}

function remember(text: string, start: number, body: unknown): void {
  const tools = (body as { tools?: unknown } | null)?.tools;
  if (!Array.isArray(tools)) return;
  const raw = JSON.stringify(tools);
  if (raw.length < MIN_RAW_LENGTH || text.slice(start, start + raw.length) !== raw) return;
  if (remembered >= CAPACITY) forgetOldest();
  const candidates = lists.get(raw.length) ?? [];
  candidates.push({ raw, tools: deepFreeze(tools) });
  lists.delete(raw.length);
  lists.set(raw.length, candidates);
  remembered++;
}

function forgetOldest(): void {
  const [length, candidates] = lists.entries().next().value!;
  candidates.shift();
  if (candidates.length === 0) lists.delete(length);
  remembered--;
}
