/**
 * Anthropic model names → Kiro model ids (docs/kiro-protocol.md §4.2, §4.7, §7.8).
 *
 * Mapping is by family and version rather than by a table of exact names, so names newer than
 * anything listed here (Claude Code already sends `claude-opus-4-8`) still resolve.
 */
import type { ThinkingParam } from '../anthropic/types.js';
import { NotFoundError } from '../errors.js';

/** What the converter needs to know about a requested model. */
export interface ResolvedModel {
  /** Dotted lowercase id sent as `modelId` upstream, e.g. `claude-sonnet-4.5`. */
  kiroModelId: string;
  /** Context window used to turn `contextUsagePercentage` into tokens (§6.1). */
  windowSize: number;
  /** Set when the model name asks for thinking (`…-thinking`); overrides the request's `thinking`. */
  forceThinking?: ThinkingParam;
}

const WINDOW_1M = 1_000_000;
const WINDOW_200K = 200_000;
/** Budget forced by `-thinking` model names (§4.7). */
const FORCED_THINKING_BUDGET = 20_000;

const SONNET_4_6 = { kiroModelId: 'claude-sonnet-4.6', windowSize: WINDOW_1M } as const;
const SONNET_4_5 = { kiroModelId: 'claude-sonnet-4.5', windowSize: WINDOW_200K } as const;
const OPUS_4_6 = { kiroModelId: 'claude-opus-4.6', windowSize: WINDOW_1M } as const;
const OPUS_4_5 = { kiroModelId: 'claude-opus-4.5', windowSize: WINDOW_200K } as const;
const HAIKU_4_5 = { kiroModelId: 'claude-haiku-4.5', windowSize: WINDOW_200K } as const;

type Family = 'sonnet' | 'opus' | 'haiku';

/** `claude-sonnet-4-5-20250929`, `claude-opus-4.8`, `claude-sonnet-4-20250514` (minor 0). */
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
 * Maps an Anthropic model name to the Kiro model id and context window.
 *
 * Sonnet 4.6 and newer → `claude-sonnet-4.6`, older or unversioned sonnet → `claude-sonnet-4.5`;
 * opus 4.5 → `claude-opus-4.5`, any other opus (newer included) → `claude-opus-4.6`;
 * haiku → `claude-haiku-4.5`. A name containing `thinking` forces thinking on (§4.7).
 *
 * @throws NotFoundError for names outside the sonnet/opus/haiku families.
 * @example resolveModel('claude-opus-4-8') // { kiroModelId: 'claude-opus-4.6', windowSize: 1000000 }
 */
export function resolveModel(model: string): ResolvedModel {
  const lower = model.toLowerCase();
  const family = familyOf(lower);
  if (!family) {
    throw new NotFoundError(`model: ${model} is not supported; use a claude sonnet, opus or haiku model`);
  }
  const version = parseVersion(lower);
  let base: { kiroModelId: string; windowSize: number };
  if (family === 'sonnet') base = version !== undefined && version >= 406 ? SONNET_4_6 : SONNET_4_5;
  else if (family === 'opus') base = version === 405 ? OPUS_4_5 : OPUS_4_6;
  else base = HAIKU_4_5;

  const resolved: ResolvedModel = { kiroModelId: base.kiroModelId, windowSize: base.windowSize };
  if (lower.includes('thinking')) {
    resolved.forceThinking =
      base === OPUS_4_6 ? { type: 'adaptive' } : { type: 'enabled', budget_tokens: FORCED_THINKING_BUDGET };
  }
  return resolved;
}

/** One entry of `GET /v1/models` in kiro.rs's shape (§7.8). */
export interface ModelInfo {
  readonly id: string;
  readonly object: 'model';
  /** Unix seconds; approximate release dates, informational only. */
  readonly created: number;
  readonly owned_by: 'anthropic';
  readonly display_name: string;
  readonly type: 'chat';
  readonly max_tokens: number;
}

const MAX_OUTPUT_TOKENS = 64_000;

function model(id: string, displayName: string, created: number): ModelInfo[] {
  const base = { object: 'model', owned_by: 'anthropic', type: 'chat', max_tokens: MAX_OUTPUT_TOKENS } as const;
  return [
    { id, display_name: displayName, created, ...base },
    { id: `${id}-thinking`, display_name: `${displayName} (Thinking)`, created, ...base },
  ];
}

/**
 * The body of `GET /v1/models`: kiro.rs's list (§4.2) plus the newest names Claude Code sends,
 * each with its `-thinking` variant. `first_id`/`last_id`/`has_more` make it also readable by
 * clients that page through Anthropic's models endpoint.
 */
export const MODEL_LIST: {
  readonly object: 'list';
  readonly data: readonly ModelInfo[];
  readonly has_more: false;
  readonly first_id: string;
  readonly last_id: string;
} = (() => {
  const data = Object.freeze([
    ...model('claude-opus-4-8', 'Claude Opus 4.8', 1_780_272_000),
    ...model('claude-opus-4-6', 'Claude Opus 4.6', 1_770_249_600),
    ...model('claude-sonnet-4-6', 'Claude Sonnet 4.6', 1_771_286_400),
    ...model('claude-opus-4-5-20251101', 'Claude Opus 4.5', 1_761_955_200),
    ...model('claude-sonnet-4-5-20250929', 'Claude Sonnet 4.5', 1_759_104_000),
    ...model('claude-haiku-4-5-20251001', 'Claude Haiku 4.5', 1_759_276_800),
  ].map((m) => Object.freeze(m)));
  return Object.freeze({
    object: 'list' as const,
    data,
    has_more: false as const,
    first_id: data[0].id,
    last_id: data[data.length - 1].id,
  });
})();
