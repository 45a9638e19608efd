/**
 * A request's tool list, converted once per distinct list. Claude Code sends the same tools (24 of
 * them, ~63 KB of descriptions and schemas) with every turn of a session; converting them to Kiro's
 * shape (tools.ts), estimating their tokens (tokens.ts) and serialising them was about 40 % of the
 * gateway's CPU for such a request (bench/README.md). Each distinct list is now done once and kept,
 * with its JSON, in a small LRU cache.
 *
 * A list is looked up by a fingerprint that is cheap to build (each tool's name and description
 * length) and a hit is confirmed by comparing the request's tools with the cached ones value by
 * value, keys in order: a hit is always the same list, never a look-alike, and its conversion is
 * exactly what converting it again would give.
 */
import type { ToolParam } from '../anthropic/types.js';
import type { KiroToolSpecification } from '../kiro/types.js';
import { estimateToolsTokens } from './tokens.js';
import { toKiroToolSpec, ToolNamer } from './tools.js';

/** A request tool list in Kiro's shape. Shared by every request that sends the same list: read-only. */
export interface ConvertedToolList {
  /** Specifications of the request's tools, in order; the first of a duplicate name (case-insensitive) wins. */
  readonly specs: readonly KiroToolSpecification[];
  /** Lower-cased Kiro names of `specs`. */
  readonly declared: ReadonlySet<string>;
  /** `JSON.stringify(specs)` as UTF-8, ready to go into a request body. */
  readonly json: Buffer;
  /** §8 estimate of the tools' tokens (`estimateToolsTokens`). */
  readonly tokens: number;
  /** Kiro name → the client's name, for the tools whose names had to be shortened (usually none). */
  readonly renamed: ReadonlyMap<string, string>;
}

const EMPTY: ConvertedToolList = Object.freeze({ specs: [], declared: new Set<string>(), json: Buffer.from('[]'), tokens: 0, renamed: new Map<string, string>() });

/** Distinct tool lists kept; a Claude Code list with its JSON holds ~0.3 MB. */
const DEFAULT_TOOL_LIST_CACHE_SIZE = 16;

/** Equal JSON values (as parsed from a request body): same types, array items, and object keys in the same order. */
export function sameJsonValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJsonValue(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!;
    if (k !== kb[i] || !sameJsonValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** Freezes `value` and everything in it (values shared by requests must not be written to). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Converts a list from scratch (what a cache miss does). */
export function convertToolList(tools: readonly ToolParam[]): ConvertedToolList {
  const namer = new ToolNamer();
  const specs: KiroToolSpecification[] = [];
  const declared = new Set<string>();
  for (const tool of tools) {
    const spec = toKiroToolSpec(tool, namer);
    const key = spec.toolSpecification.name.toLowerCase();
    if (declared.has(key)) continue;
    declared.add(key);
    specs.push(spec);
  }
  return { specs, declared, json: Buffer.from(JSON.stringify(specs)), tokens: estimateToolsTokens(tools), renamed: namer.reverse };
}

interface Entry {
  key: string;
  /** The list as first seen (frozen): what later requests are compared with. */
  tools: readonly ToolParam[];
  converted: ConvertedToolList;
}

/** The converted tool lists of recent requests; least recently used dropped first. */
export class ToolListCache {
  /** By fingerprint; Map order is the LRU order (a hit moves its entry to the end). */
  private readonly entries = new Map<string, Entry>();
  /**
   * By the cached list object itself: a Claude Code body hands over the very list parsed before
   * (anthropic/messages-body.ts), found here without a fingerprint (~5 µs of a request).
   */
  private readonly byList = new WeakMap<readonly ToolParam[], Entry>();
  hits = 0;
  misses = 0;

  constructor(private readonly capacity = DEFAULT_TOOL_LIST_CACHE_SIZE) {}

  /** The list converted, from the cache when the same list was converted before. */
  get(tools: readonly ToolParam[] | null | undefined): ConvertedToolList {
    if (!tools || tools.length === 0) return EMPTY;
    const same = this.byList.get(tools);
    if (same && this.entries.get(same.key) === same) return this.hit(same);
    const key = fingerprint(tools);
    const entry = this.entries.get(key);
    if (entry && sameJsonValue(entry.tools, tools)) return this.hit(entry);
    this.misses++;
    const converted = convertToolList(tools);
    deepFreeze(converted.specs);
    Object.freeze(converted);
    // The request's own objects become the cached copy; nothing downstream writes to them.
    const added: Entry = { key, tools: deepFreeze(tools), converted };
    this.entries.delete(key);
    this.entries.set(key, added);
    this.byList.set(added.tools, added);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return converted;
  }

  private hit(entry: Entry): ConvertedToolList {
    this.hits++;
    this.entries.delete(entry.key);
    this.entries.set(entry.key, entry);
    return entry.converted;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Names and description lengths: tells most lists apart without reading their schemas. */
function fingerprint(tools: readonly ToolParam[]): string {
  let key = '';
  for (const tool of tools) {
    const description = typeof tool.description === 'string' ? tool.description.length : -1;
    key += `${tool.name}\u0000${description}\u0000`;
  }
  return key;
}
