/**
 * The ListAvailableModels answer (docs/kiro-protocol-newer.md §3): which models an account may call,
 * with their windows and input types.
 */
import { builtinModel, WINDOW_200K, type OfferedModel } from './models.js';

/** One model of the answer, as Kiro sends it (every field but `modelId` optional). */
export interface KiroAvailableModel {
  modelId?: string;
  modelName?: string;
  rateMultiplier?: number;
  supportedInputTypes?: string[];
  tokenLimits?: { maxInputTokens?: number; maxOutputTokens?: number };
}

/** `GET /ListAvailableModels?origin=AI_EDITOR` body. */
export interface ListAvailableModelsResponse {
  defaultModel?: KiroAvailableModel;
  models?: KiroAvailableModel[];
  nextToken?: string | null;
}

const DEFAULT_MAX_OUTPUT = 64_000;
/** Not a model a client can name: Kiro's router (`auto`). */
const NOT_CALLABLE = new Set(['auto']);

function positive(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : undefined;
}

/**
 * The offered models of one answer: windows and output limits from `tokenLimits` (else the built-in
 * table, else 200K / 64K), images when `supportedInputTypes` lists IMAGE (unknown → allowed).
 */
export function offeredModelsOf(res: ListAvailableModelsResponse): OfferedModel[] {
  const out = new Map<string, OfferedModel>();
  for (const m of res.models ?? []) {
    const id = typeof m?.modelId === 'string' ? m.modelId.trim() : '';
    if (id === '' || NOT_CALLABLE.has(id.toLowerCase()) || out.has(id)) continue;
    const known = builtinModel(id);
    const types = Array.isArray(m.supportedInputTypes) ? m.supportedInputTypes.map((t) => String(t).toUpperCase()) : undefined;
    out.set(id, {
      kiroModelId: id,
      windowSize: positive(m.tokenLimits?.maxInputTokens) ?? known?.windowSize ?? WINDOW_200K,
      maxOutputTokens: positive(m.tokenLimits?.maxOutputTokens) ?? known?.maxOutputTokens ?? DEFAULT_MAX_OUTPUT,
      images: types === undefined ? true : types.includes('IMAGE'),
    });
  }
  return [...out.values()];
}
