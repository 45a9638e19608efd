/**
 * Anthropic `tools` → Kiro `toolSpecification`s (docs/kiro-protocol.md §4.3 step 9).
 *
 * Everything here exists to keep Kiro from answering 400 "Improperly formed request" (§12.2):
 * schemas always have an object `type`, `properties` and a string-array `required`; names fit in
 * 63 bytes; every tool referenced in history is declared.
 */
import { createHash } from 'node:crypto';
import type { ToolParam } from '../anthropic/types.js';
import type { KiroToolSpecification } from '../kiro/types.js';

/** Kiro rejects longer tool names. */
export const MAX_TOOL_NAME_BYTES = 63;
const SHORT_NAME_HASH_CHARS = 8;
/** Shortened name = prefix + "_" + 8 hex chars = exactly MAX_TOOL_NAME_BYTES for ASCII names. */
const SHORT_NAME_PREFIX_BYTES = MAX_TOOL_NAME_BYTES - SHORT_NAME_HASH_CHARS - 1;
/** Descriptions are cut to this many Unicode code points. */
export const MAX_TOOL_DESCRIPTION_CHARS = 10_000;
/** A UTF-16 code unit is at most 3 UTF-8 bytes, so names this short never need a byte count. */
const SAFE_NAME_UNITS = Math.floor(MAX_TOOL_NAME_BYTES / 3);

/** Description of tools declared only because history uses them. */
export const PLACEHOLDER_TOOL_DESCRIPTION = 'Tool used in conversation history';

/**
 * Appended to Claude Code's `Write` / `Edit` descriptions: Kiro cuts long outputs mid tool call
 * (§12.1) and Claude Code then retries the same giant write forever; small chunks avoid the cut.
 */
export const WRITE_TOOL_HINT =
  '\n\nOutput limit: a single Write call must not contain more than 50 lines. For a longer file, ' +
  'Write the first 50 lines, then add the remainder with Edit calls of at most 50 lines each.';
/** See WRITE_TOOL_HINT. */
export const EDIT_TOOL_HINT =
  '\n\nOutput limit: keep new_string to at most 50 lines per Edit call; split larger changes into ' +
  'several consecutive Edit calls.';

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Maps client tool names to Kiro-safe names (≤ 63 bytes) and remembers the reverse mapping so
 * tool_use names in responses can be restored.
 */
export class ToolNamer {
  private readonly shortened = new Map<string, string>();
  /** Kiro name → original name, only for names that had to be shortened. */
  readonly reverse = new Map<string, string>();

  /** The name to send upstream for `name`. */
  kiroName(name: string): string {
    if (name.length <= SAFE_NAME_UNITS) return name;
    const known = this.shortened.get(name);
    if (known !== undefined) return known;
    if (Buffer.byteLength(name, 'utf8') <= MAX_TOOL_NAME_BYTES) return name;
    const short = shortenToolName(name);
    this.shortened.set(name, short);
    this.reverse.set(short, name);
    return short;
  }
}

/**
 * `first 54 bytes' worth of chars + "_" + first 8 hex of sha256(name)`; the hash keeps names that
 * share a long prefix apart. Only call for names longer than MAX_TOOL_NAME_BYTES.
 */
export function shortenToolName(name: string): string {
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, SHORT_NAME_HASH_CHARS);
  let end = 0;
  let bytes = 0;
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + size > SHORT_NAME_PREFIX_BYTES) break;
    bytes += size;
    end += ch.length;
  }
  return `${name.slice(0, end)}_${hash}`;
}

function truncateCodePoints(s: string, max: number): string {
  // Fast path: at most `max` UTF-16 units means at most `max` code points.
  if (s.length <= max) return s;
  let count = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        if (count === max) return s.slice(0, i);
        count++;
        i++;
        continue;
      }
    }
    if (count === max) return s.slice(0, i);
    count++;
  }
  return s;
}

/** Nested JSON-schema keywords whose values are schemas or maps/lists of schemas. */
const SCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties', '$defs', 'definitions'] as const;
const SCHEMA_LIST_KEYWORDS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'] as const;
const SCHEMA_KEYWORDS = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains'] as const;

/** Numeric (Draft 2020-12) exclusive bounds; Draft-07 validators of Kiro's CLI wire refuse them. */
const DRAFT_2020_EXCLUSIVE_BOUNDS = ['exclusiveMinimum', 'exclusiveMaximum'] as const;
/** Bounds Kiro's validator reads as 32-bit integers. */
const INT32_BOUNDS = ['minimum', 'maximum'] as const;
const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);

/**
 * Cleans a nested schema: `null` `type`/`properties`/`required` are removed and a non-array
 * `required` dropped (MCP servers emit these); `$schema`, numeric `exclusiveMinimum` /
 * `exclusiveMaximum` and `minimum` / `maximum` outside the 32-bit range are removed. Returns the input itself when nothing changed, so
 * well-formed schemas cost one read-only walk and no copies.
 */
function cleanNestedSchema(node: unknown): unknown {
  if (!isObj(node)) return node;
  let out: Json | undefined;
  const set = (key: string, value: unknown) => {
    out ??= { ...node };
    if (value === undefined) delete out[key];
    else out[key] = value;
  };
  if ('type' in node && node.type === null) set('type', undefined);
  // Kiro validates against Draft-07 and rejects what MCP servers copy from newer drafts (newer notes §4).
  if ('$schema' in node) set('$schema', undefined);
  for (const key of DRAFT_2020_EXCLUSIVE_BOUNDS) if (typeof node[key] === 'number') set(key, undefined);
  for (const key of INT32_BOUNDS) {
    const bound = node[key];
    if (typeof bound === 'number' && (bound > INT32_MAX || bound < INT32_MIN)) set(key, undefined);
  }
  if ('properties' in node && !isObj(node.properties)) set('properties', undefined);
  if ('required' in node) {
    const req = node.required;
    if (!Array.isArray(req)) set('required', undefined);
    else if (req.some((r) => typeof r !== 'string')) set('required', req.filter((r) => typeof r === 'string'));
  }
  for (const key of SCHEMA_MAP_KEYWORDS) {
    const map = (out ?? node)[key];
    if (!isObj(map)) continue;
    let newMap: Json | undefined;
    for (const name of Object.keys(map)) {
      const cleaned = cleanNestedSchema(map[name]);
      if (cleaned !== map[name]) (newMap ??= { ...map })[name] = cleaned;
    }
    if (newMap) set(key, newMap);
  }
  for (const key of SCHEMA_LIST_KEYWORDS) {
    const list = node[key];
    if (!Array.isArray(list)) continue;
    let changed = false;
    const cleaned = list.map((s) => {
      const c = cleanNestedSchema(s);
      if (c !== s) changed = true;
      return c;
    });
    if (changed) set(key, cleaned);
  }
  for (const key of SCHEMA_KEYWORDS) {
    const sub = node[key];
    if (Array.isArray(sub)) {
      let changed = false;
      const cleaned = sub.map((s) => {
        const c = cleanNestedSchema(s);
        if (c !== s) changed = true;
        return c;
      });
      if (changed) set(key, cleaned);
    } else if (isObj(sub)) {
      const c = cleanNestedSchema(sub);
      if (c !== sub) set(key, c);
    }
  }
  return out ?? node;
}

/**
 * Normalises a tool's `input_schema` into what Kiro accepts at the top level: an object with a
 * non-empty string `type` (default `object`), an object `properties`, a string-array `required`
 * and a boolean-or-object `additionalProperties` (default true). Nested nulls are removed too.
 */
export function normalizeToolSchema(schema: unknown): Json {
  if (!isObj(schema)) return { type: 'object', properties: {}, required: [], additionalProperties: true };
  const cleaned = cleanNestedSchema(schema) as Json;
  const out: Json = { ...cleaned };
  if (typeof out.type !== 'string' || out.type === '') out.type = 'object';
  if (!isObj(out.properties)) out.properties = {};
  out.required = Array.isArray(out.required) ? out.required.filter((r) => typeof r === 'string') : [];
  const ap = out.additionalProperties;
  if (typeof ap !== 'boolean' && !isObj(ap)) out.additionalProperties = true;
  return out;
}

/** One Anthropic tool as a Kiro tool specification. */
export function toKiroToolSpec(tool: ToolParam, namer: ToolNamer): KiroToolSpecification {
  const hint = tool.name === 'Write' ? WRITE_TOOL_HINT : tool.name === 'Edit' ? EDIT_TOOL_HINT : '';
  // The hint is ASCII, so its length is its code-point count; it must survive the truncation.
  const raw = typeof tool.description === 'string' ? tool.description : '';
  let description = truncateCodePoints(raw, MAX_TOOL_DESCRIPTION_CHARS - hint.length);
  // An empty description is "Improperly formed request" on Kiro's CLI wire (newer notes §4); MCP
  // tools often have none. The name is a harmless stand-in.
  if (description.trim() === '') description = tool.name;
  description += hint;
  return {
    toolSpecification: {
      name: namer.kiroName(tool.name),
      description,
      inputSchema: { json: normalizeToolSchema(tool.input_schema) },
    },
  };
}

/** Declaration for a tool that history uses but the request no longer lists (§4.3 step 9). */
export function placeholderToolSpec(kiroName: string): KiroToolSpecification {
  return {
    toolSpecification: {
      name: kiroName,
      description: PLACEHOLDER_TOOL_DESCRIPTION,
      inputSchema: {
        json: {
          type: 'object',
          properties: {},
          required: [],
          additionalProperties: true,
        },
      },
    },
  };
}

/**
 * Declarations for the tools history uses but `declared` (lower-cased names) lacks, each once
 * (§4.3 step 9). Kiro compares names case-insensitively, so this does too.
 *
 * @param historyToolNames Kiro (already shortened) names of the toolUses kept in history.
 */
export function historyPlaceholders(declared: ReadonlySet<string>, historyToolNames: Iterable<string>): KiroToolSpecification[] {
  const specs: KiroToolSpecification[] = [];
  let added: Set<string> | undefined;
  for (const name of historyToolNames) {
    const key = name.toLowerCase();
    if (declared.has(key) || added?.has(key)) continue;
    (added ??= new Set()).add(key);
    specs.push(placeholderToolSpec(name));
  }
  return specs;
}
