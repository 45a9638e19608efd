/**
 * Anthropic model names → Kiro model ids (docs/kiro-protocol.md §4.2, docs/kiro-protocol-newer.md §1–§3).
 *
 * A name is parsed into family (sonnet / opus / haiku) and version, then matched against the
 * models on offer: the union of the pool's ListAvailableModels answers, or the built-in table
 * (newest upstream kiro.rs) while nothing has been fetched. A known version resolves exactly
 * (`claude-opus-4-8` → `claude-opus-4.8`). A version nobody offers (`claude-opus-4-9`) resolves to
 * the newest offered model of its family and major version — the response's `x-kiro-model` header
 * says which — unless `strict` (kiro.rs's rule) rejects it.
 */
import type { ThinkingParam } from '../anthropic/types.js';
import { NotFoundError } from '../errors.js';

export type Family = 'sonnet' | 'opus' | 'haiku';

/** A model a credential (or the built-in table) offers, as the resolver and /v1/models need it. */
export interface OfferedModel {
  /** Kiro `modelId`, e.g. `claude-opus-4.8` (or a non-Claude id such as `deepseek-3.2`). */
  readonly kiroModelId: string;
  /** Context window (tokenLimits.maxInputTokens); turns contextUsagePercentage into tokens. */
  readonly windowSize: number;
  /** tokenLimits.maxOutputTokens; the `max_tokens` of /v1/models. */
  readonly maxOutputTokens: number;
  /** supportedInputTypes contains IMAGE (unknown → true). */
  readonly images: boolean;
}

/** What the converter needs to know about a requested model. */
export interface ResolvedModel {
  /** Dotted lowercase id sent as `modelId` upstream, e.g. `claude-sonnet-4.5`. */
  kiroModelId: string;
  /** Context window used to turn `contextUsagePercentage` into tokens (§6.1). */
  windowSize: number;
  /** Set when the model name asks for thinking (`…-thinking`); overrides the request's `thinking`. */
  forceThinking?: ThinkingParam;
  /** The model accepts images. */
  images: boolean;
  /** The requested version is not offered: a neighbour of its family answers (see x-kiro-model). */
  substituted: boolean;
}

export interface ResolveOptions {
  /** Models on offer; default the built-in table. */
  offered?: readonly OfferedModel[];
  /** Reject versions that are not offered, as kiro.rs does, instead of taking the newest of the family. */
  strict?: boolean;
}

export const WINDOW_1M = 1_000_000;
export const WINDOW_200K = 200_000;
const DEFAULT_MAX_OUTPUT = 64_000;
/** Budget forced by `-thinking` model names on models that still take a manual budget (§4.7). */
const FORCED_THINKING_BUDGET = 20_000;

/** One entry of the built-in table. */
interface BuiltinModel extends OfferedModel {
  /** The name /v1/models lists (kiro.rs's names). */
  readonly anthropicId: string;
  readonly displayName: string;
  /** Unix seconds, as kiro.rs lists them. */
  readonly created: number;
}

/** Newest upstream kiro.rs (b9e757e, 2026-05-29), in its /v1/models order. */
export const BUILTIN_MODELS: readonly BuiltinModel[] = Object.freeze([
  builtin('claude-opus-4.8', 'claude-opus-4-8', 'Claude Opus 4.8', 1_779_897_600, WINDOW_1M, 128_000),
  builtin('claude-opus-4.7', 'claude-opus-4-7', 'Claude Opus 4.7', 1_776_276_000, WINDOW_1M, 64_000),
  builtin('claude-opus-4.6', 'claude-opus-4-6', 'Claude Opus 4.6', 1_770_249_600, WINDOW_1M, 64_000),
  builtin('claude-sonnet-4.6', 'claude-sonnet-4-6', 'Claude Sonnet 4.6', 1_771_286_400, WINDOW_1M, 64_000),
  builtin('claude-opus-4.5', 'claude-opus-4-5-20251101', 'Claude Opus 4.5', 1_761_955_200, WINDOW_200K, 64_000),
  builtin('claude-sonnet-4.5', 'claude-sonnet-4-5-20250929', 'Claude Sonnet 4.5', 1_759_104_000, WINDOW_200K, 64_000),
  builtin('claude-haiku-4.5', 'claude-haiku-4-5-20251001', 'Claude Haiku 4.5', 1_759_276_800, WINDOW_200K, 64_000),
]);

function builtin(
  kiroModelId: string,
  anthropicId: string,
  displayName: string,
  created: number,
  windowSize: number,
  maxOutputTokens: number,
): BuiltinModel {
  return Object.freeze({ kiroModelId, anthropicId, displayName, created, windowSize, maxOutputTokens, images: true });
}

const BUILTIN_BY_ID = new Map(BUILTIN_MODELS.map((m) => [m.kiroModelId, m]));

/** The built-in entry of a Kiro model id, if it has one. */
export function builtinModel(kiroModelId: string): BuiltinModel | undefined {
  return BUILTIN_BY_ID.get(kiroModelId);
}

/** `claude-sonnet-4-5-20250929`, `claude-opus-4.8`, `claude-sonnet-5`, `claude-sonnet-4-20250514` (minor 0). */
const VERSION_AFTER_FAMILY = /(sonnet|opus|haiku)[-._ ]?(\d{1,2})(?:[-.](\d{1,2}))?(?!\d)/;
/** The pre-4 naming, `claude-3-7-sonnet-20250219`. */
const VERSION_BEFORE_FAMILY = /(\d{1,2})(?:[-.](\d{1,2}))?[-._ ](sonnet|opus|haiku)/;

/** major*100 + minor, or undefined when the name carries no version. */
function parseVersion(lower: string): number | undefined {
  let m = VERSION_AFTER_FAMILY.exec(lower);
  if (m) return Number(m[2]) * 100 + Number(m[3] ?? 0);
  m = VERSION_BEFORE_FAMILY.exec(lower);
  if (m) return Number(m[1]) * 100 + Number(m[2] ?? 0);
  return undefined;
}

function familyOf(lower: string): Family | undefined {
  if (lower.includes('sonnet')) return 'sonnet';
  if (lower.includes('opus')) return 'opus';
  if (lower.includes('haiku')) return 'haiku';
  return undefined;
}

/**
 * Answers already computed by {@link kiroModelVersion} and {@link resolveModel} (both run a few
 * regular expressions, several times per request, on the same few names). Names can come from
 * clients, so the memory is bounded: past `MEMO_LIMIT` entries it starts afresh.
 */
const MEMO_LIMIT = 256;
const versions = new Map<string, { family: Family; version: number } | null>();

/** Family and version of a Kiro model id (`claude-opus-4.8` → opus 408), undefined for non-Claude ids. */
export function kiroModelVersion(kiroModelId: string): { family: Family; version: number } | undefined {
  let known = versions.get(kiroModelId);
  if (known === undefined) {
    const lower = kiroModelId.toLowerCase();
    const family = lower.startsWith('claude-') ? familyOf(lower) : undefined;
    const version = family ? parseVersion(lower) : undefined;
    known = family && version !== undefined ? Object.freeze({ family, version }) : null;
    if (versions.size >= MEMO_LIMIT) versions.clear();
    versions.set(kiroModelId, known);
  }
  return known ?? undefined;
}

/**
 * Models whose thinking is adaptive only (Opus 4.7+, Sonnet 5): Anthropic deprecates `enabled` +
 * budget from Opus 4.7 on, and Sonnet 5 rejects it with a 400 (newer notes §1, §2).
 */
export function adaptiveThinkingOnly(kiroModelId: string): boolean {
  const v = kiroModelVersion(kiroModelId);
  if (!v) return false;
  return (v.family === 'opus' && v.version >= 407) || (v.family === 'sonnet' && v.version >= 500);
}

/** Sonnet 5 thinks when the request has no `thinking` field (newer notes §2). Matched exactly, not by "contains 5". */
export function thinksByDefault(kiroModelId: string): boolean {
  const v = kiroModelVersion(kiroModelId);
  return v !== undefined && v.family === 'sonnet' && v.version >= 500;
}

/** The Anthropic-style name of a Kiro id: the built-in name, else dots → dashes (`claude-sonnet-5`). */
export function anthropicIdOf(kiroModelId: string): string {
  return builtinModel(kiroModelId)?.anthropicId ?? kiroModelId.replaceAll('.', '-');
}

function notOffered(model: string, offered: readonly OfferedModel[], why: string): NotFoundError {
  const names = modelListBody(offered)
    .data.filter((m) => !m.id.endsWith('-thinking'))
    .map((m) => m.id);
  return new NotFoundError(
    `model: ${model} ${why}; available models: ${names.length > 0 ? names.join(', ') : 'none (no credential offers a model)'}`,
  );
}

/**
 * Picks the offered model for a name whose exact version is not on offer: the newest of the same
 * family and major version, else (another major, or no version) the newest of the family below
 * the next major; a version older than every offered one takes the oldest.
 */
function neighbour(candidates: Array<{ m: OfferedModel; version: number }>, version: number | undefined): OfferedModel | undefined {
  if (candidates.length === 0) return undefined;
  const byVersion = [...candidates].sort((a, b) => a.version - b.version);
  if (version === undefined) {
    // Unversioned ("claude-sonnet"): the newest of the oldest major still offered, not a preview generation.
    const major = Math.floor(byVersion[0].version / 100);
    return byVersion.filter((c) => Math.floor(c.version / 100) === major).at(-1)!.m;
  }
  if (version < byVersion[0].version) return byVersion[0].m;
  const major = Math.floor(version / 100);
  const sameMajor = byVersion.filter((c) => Math.floor(c.version / 100) === major);
  if (sameMajor.length > 0) return sameMajor.at(-1)!.m;
  const below = byVersion.filter((c) => c.version < version);
  return (below.at(-1) ?? byVersion.at(-1)!).m;
}

/**
 * Maps an Anthropic model name to the Kiro model id, its window and image support.
 *
 * @throws NotFoundError for names outside the sonnet/opus/haiku families (and not an offered Kiro
 *   id), for a family nobody offers, and in strict mode for a version nobody offers; the message
 *   lists the available models.
 * @example resolveModel('claude-opus-4-8').kiroModelId // 'claude-opus-4.8'
 */
export function resolveModel(model: string, opts: ResolveOptions = {}): ResolvedModel {
  const offered = opts.offered ?? BUILTIN_MODELS;
  // Per offered list: a new ListAvailableModels answer is a new list, and starts afresh.
  let known = resolutions.get(offered);
  if (!known) resolutions.set(offered, (known = new Map()));
  const key = opts.strict ? `strict ${model}` : model;
  let resolved = known.get(key);
  if (!resolved) {
    resolved = resolveUncached(model, offered, opts.strict === true);
    // Shared by every request for this name: read-only.
    if (resolved.forceThinking) Object.freeze(resolved.forceThinking);
    Object.freeze(resolved);
    if (known.size >= MEMO_LIMIT) known.clear();
    known.set(key, resolved);
  }
  return resolved;
}

const resolutions = new WeakMap<readonly OfferedModel[], Map<string, ResolvedModel>>();

function resolveUncached(model: string, offered: readonly OfferedModel[], strict: boolean): ResolvedModel {
  const lower = model.toLowerCase();
  const thinkingName = lower.endsWith('-thinking') || lower.includes('thinking');
  const exact = offered.find((m) => m.kiroModelId.toLowerCase() === lower);
  const family = familyOf(lower);
  if (!family && !exact) {
    throw new NotFoundError(`model: ${model} is not supported; use a claude sonnet, opus or haiku model`);
  }
  let chosen: OfferedModel | undefined = exact;
  let substituted = false;
  if (!chosen && family) {
    const version = parseVersion(lower);
    const candidates: Array<{ m: OfferedModel; version: number }> = [];
    for (const m of offered) {
      const v = kiroModelVersion(m.kiroModelId);
      if (v && v.family === family) candidates.push({ m, version: v.version });
    }
    // Haiku has one generation on Kiro; any haiku name is that one (kiro.rs does the same).
    chosen = candidates.find((c) => c.version === version)?.m;
    if (!chosen) {
      if (candidates.length === 0) throw notOffered(model, offered, `is not offered by any credential`);
      if (strict && family !== 'haiku') throw notOffered(model, offered, 'is not supported (strict model mapping)');
      chosen = neighbour(candidates, version);
      substituted = true;
    }
  }
  const resolved: ResolvedModel = {
    kiroModelId: chosen!.kiroModelId,
    windowSize: chosen!.windowSize,
    images: chosen!.images,
    substituted,
  };
  if (thinkingName) {
    const id = resolved.kiroModelId;
    resolved.forceThinking =
      adaptiveThinkingOnly(id) || id === 'claude-opus-4.6'
        ? { type: 'adaptive' }
        : { type: 'enabled', budget_tokens: FORCED_THINKING_BUDGET };
  }
  return resolved;
}

/** One entry of `GET /v1/models` in kiro.rs's shape (§7.8), plus the context window. */
export interface ModelInfo {
  readonly id: string;
  readonly object: 'model';
  /** Unix seconds; approximate release dates, informational only. */
  readonly created: number;
  readonly owned_by: 'anthropic';
  readonly display_name: string;
  readonly type: 'chat';
  readonly max_tokens: number;
  readonly context_window: number;
}

export interface ModelListBody {
  readonly object: 'list';
  readonly data: readonly ModelInfo[];
  readonly has_more: false;
  readonly first_id: string | null;
  readonly last_id: string | null;
}

function displayNameOf(kiroModelId: string): string {
  const known = builtinModel(kiroModelId)?.displayName;
  if (known) return known;
  return kiroModelId
    .split('-')
    .map((w) => (w.length > 0 ? w[0].toUpperCase() + w.slice(1) : w))
    .join(' ');
}

/**
 * The body of `GET /v1/models` for these offered models: built-in ones in kiro.rs's order first,
 * then the rest newest family version first; Claude models each with a `-thinking` variant.
 */
export function modelListBody(offered: readonly OfferedModel[]): ModelListBody {
  const order = (m: OfferedModel) => {
    const i = BUILTIN_MODELS.findIndex((b) => b.kiroModelId === m.kiroModelId);
    return i < 0 ? BUILTIN_MODELS.length : i;
  };
  const unique = [...new Map(offered.map((m) => [m.kiroModelId, m])).values()].sort((a, b) => order(a) - order(b));
  const data: ModelInfo[] = [];
  for (const m of unique) {
    const id = anthropicIdOf(m.kiroModelId);
    const created = builtinModel(m.kiroModelId)?.created ?? 0;
    const base = { object: 'model', owned_by: 'anthropic', type: 'chat', max_tokens: m.maxOutputTokens || DEFAULT_MAX_OUTPUT, context_window: m.windowSize, created } as const;
    const name = displayNameOf(m.kiroModelId);
    data.push(Object.freeze({ id, display_name: name, ...base }));
    if (kiroModelVersion(m.kiroModelId)) data.push(Object.freeze({ id: `${id}-thinking`, display_name: `${name} (Thinking)`, ...base }));
  }
  Object.freeze(data);
  return Object.freeze({ object: 'list', data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
}

/** The built-in `GET /v1/models` body (used until a ListAvailableModels answer is known). */
export const MODEL_LIST: ModelListBody = modelListBody(BUILTIN_MODELS);
