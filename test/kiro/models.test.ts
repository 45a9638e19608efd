import { describe, expect, it } from 'vitest';
import {
  BUILTIN_MODELS,
  MODEL_LIST,
  adaptiveThinkingOnly,
  modelListBody,
  resolveModel,
  thinksByDefault,
  type OfferedModel,
} from '../../src/kiro/models.js';
import { offeredModelsOf } from '../../src/kiro/list-models.js';
import { NotFoundError } from '../../src/errors.js';

const offer = (kiroModelId: string, windowSize = 200_000, images = true): OfferedModel => ({
  kiroModelId,
  windowSize,
  maxOutputTokens: 64_000,
  images,
});

describe('resolveModel against the built-in table (newest upstream kiro.rs)', () => {
  it.each([
    ['claude-sonnet-4-6', 'claude-sonnet-4.6', 1_000_000, false],
    ['claude-sonnet-4.6', 'claude-sonnet-4.6', 1_000_000, false],
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4.5', 200_000, false],
    ['claude-opus-4-5-20251101', 'claude-opus-4.5', 200_000, false],
    ['claude-opus-4.5', 'claude-opus-4.5', 200_000, false],
    ['claude-opus-4-6', 'claude-opus-4.6', 1_000_000, false],
    ['claude-opus-4-7', 'claude-opus-4.7', 1_000_000, false],
    ['claude-opus-4-8', 'claude-opus-4.8', 1_000_000, false],
    ['claude-haiku-4-5-20251001', 'claude-haiku-4.5', 200_000, false],
    ['claude-3-5-haiku-20241022', 'claude-haiku-4.5', 200_000, true],
    // Versions nobody offers: the newest of the family and major, or the oldest when older than all.
    ['claude-opus-4-9', 'claude-opus-4.8', 1_000_000, true],
    ['claude-sonnet-4-7', 'claude-sonnet-4.6', 1_000_000, true],
    ['claude-sonnet-5', 'claude-sonnet-4.6', 1_000_000, true],
    ['claude-sonnet-4-20250514', 'claude-sonnet-4.5', 200_000, true],
    ['claude-3-7-sonnet-20250219', 'claude-sonnet-4.5', 200_000, true],
    ['claude-opus-4-1-20250805', 'claude-opus-4.5', 200_000, true],
    ['Claude-Sonnet', 'claude-sonnet-4.6', 1_000_000, true],
  ])('maps %s to %s', (name, id, window, substituted) => {
    const r = resolveModel(name);
    expect(r.kiroModelId).toBe(id);
    expect(r.windowSize).toBe(window);
    expect(r.substituted).toBe(substituted);
    expect(r.forceThinking).toBeUndefined();
  });

  it('strict mode rejects a version nobody offers (kiro.rs), naming the available models', () => {
    expect(() => resolveModel('claude-opus-4-9', { strict: true })).toThrow(NotFoundError);
    expect(() => resolveModel('claude-sonnet-4-20250514', { strict: true })).toThrow(/available models: claude-opus-4-8, .*claude-haiku-4-5-20251001/);
    expect(resolveModel('claude-opus-4-8', { strict: true }).kiroModelId).toBe('claude-opus-4.8');
    expect(resolveModel('claude-3-5-haiku-20241022', { strict: true }).kiroModelId).toBe('claude-haiku-4.5');
  });

  it('forces adaptive thinking for Opus 4.6+ -thinking names and enabled 20000 for older ones', () => {
    expect(resolveModel('claude-opus-4-6-thinking').forceThinking).toEqual({ type: 'adaptive' });
    expect(resolveModel('claude-opus-4-7-thinking').forceThinking).toEqual({ type: 'adaptive' });
    expect(resolveModel('claude-opus-4-8-thinking').forceThinking).toEqual({ type: 'adaptive' });
    expect(resolveModel('claude-opus-4-5-20251101-thinking').forceThinking).toEqual({ type: 'enabled', budget_tokens: 20000 });
    expect(resolveModel('claude-sonnet-4-6-thinking')).toMatchObject({
      kiroModelId: 'claude-sonnet-4.6',
      windowSize: 1_000_000,
      forceThinking: { type: 'enabled', budget_tokens: 20000 },
    });
  });

  it('rejects non-Claude names with not_found naming the model', () => {
    expect(() => resolveModel('gpt-4o')).toThrow(NotFoundError);
    expect(() => resolveModel('gpt-4o')).toThrow('model: gpt-4o is not supported; use a claude sonnet, opus or haiku model');
    expect(() => resolveModel('claude-2.1')).toThrow(NotFoundError);
  });
});

describe('resolveModel against offered lists', () => {
  const offered = [offer('claude-sonnet-4.5'), offer('claude-sonnet-5', 1_000_000, false), offer('claude-opus-4.7', 1_000_000), offer('deepseek-3.2', 128_000)];

  it('takes exact ids, windows and image support from the list', () => {
    expect(resolveModel('claude-sonnet-5', { offered })).toMatchObject({ kiroModelId: 'claude-sonnet-5', windowSize: 1_000_000, images: false, substituted: false });
    expect(resolveModel('claude-opus-4-8', { offered })).toMatchObject({ kiroModelId: 'claude-opus-4.7', substituted: true });
    expect(resolveModel('deepseek-3.2', { offered })).toMatchObject({ kiroModelId: 'deepseek-3.2', windowSize: 128_000 });
    // Another major is never the fallback of a versioned name when its own major is offered.
    expect(resolveModel('claude-sonnet-4-6', { offered }).kiroModelId).toBe('claude-sonnet-4.5');
  });

  it('answers 404 naming the offered models when nobody offers the family', () => {
    expect(() => resolveModel('claude-haiku-4-5', { offered })).toThrow(/not offered by any credential; available models: claude-opus-4-7, claude-sonnet-4-5-20250929, claude-sonnet-5, deepseek-3.2/);
  });
});

describe('thinking per model', () => {
  it('is adaptive only for Opus 4.7+ and Sonnet 5, and on by default only for Sonnet 5', () => {
    expect(['claude-opus-4.7', 'claude-opus-4.8', 'claude-sonnet-5'].every(adaptiveThinkingOnly)).toBe(true);
    expect(['claude-opus-4.6', 'claude-opus-4.5', 'claude-sonnet-4.6', 'claude-haiku-4.5'].some(adaptiveThinkingOnly)).toBe(false);
    expect(thinksByDefault('claude-sonnet-5')).toBe(true);
    // Exact version match, not "contains 5".
    expect(thinksByDefault('claude-sonnet-4.5')).toBe(false);
    expect(thinksByDefault('claude-opus-4.8')).toBe(false);
  });
});

describe('ListAvailableModels answers', () => {
  it('reads ids, tokenLimits and supportedInputTypes; skips auto and duplicates', () => {
    const models = offeredModelsOf({
      models: [
        { modelId: 'auto', tokenLimits: { maxInputTokens: 1_000_000, maxOutputTokens: 64_000 } },
        { modelId: 'claude-opus-4.8', supportedInputTypes: ['TEXT', 'IMAGE'], tokenLimits: { maxInputTokens: 1_000_000, maxOutputTokens: 128_000 } },
        { modelId: 'claude-sonnet-4.5', supportedInputTypes: ['TEXT'] },
        { modelId: 'claude-sonnet-4.5' },
        { modelId: 'gpt-5.6-sol', tokenLimits: { maxInputTokens: 272_000 } },
        {},
      ],
    });
    expect(models).toEqual([
      { kiroModelId: 'claude-opus-4.8', windowSize: 1_000_000, maxOutputTokens: 128_000, images: true },
      { kiroModelId: 'claude-sonnet-4.5', windowSize: 200_000, maxOutputTokens: 64_000, images: false },
      { kiroModelId: 'gpt-5.6-sol', windowSize: 272_000, maxOutputTokens: 64_000, images: true },
    ]);
  });
});

describe('MODEL_LIST', () => {
  it('is newest upstream kiro.rs: Opus 4.8 / 4.7 first with 1M windows, each with a -thinking variant', () => {
    expect(MODEL_LIST.object).toBe('list');
    const ids = MODEL_LIST.data.map((m) => m.id);
    expect(ids.slice(0, 4)).toEqual(['claude-opus-4-8', 'claude-opus-4-8-thinking', 'claude-opus-4-7', 'claude-opus-4-7-thinking']);
    expect(MODEL_LIST.data[0]).toMatchObject({ max_tokens: 128_000, context_window: 1_000_000, created: 1_779_897_600 });
    expect(MODEL_LIST.data[2]).toMatchObject({ max_tokens: 64_000, context_window: 1_000_000, created: 1_776_276_000 });
    expect(ids).toContain('claude-sonnet-4-5-20250929-thinking');
    expect(new Set(ids).size).toBe(ids.length);
    for (const m of MODEL_LIST.data) {
      expect(m).toMatchObject({ object: 'model', owned_by: 'anthropic', type: 'chat' });
      expect(typeof m.display_name).toBe('string');
      expect(Number.isInteger(m.created)).toBe(true);
      expect(resolveModel(m.id).substituted).toBe(false);
      expect(ids).toContain(m.id.endsWith('-thinking') ? m.id.slice(0, -9) : `${m.id}-thinking`);
    }
    expect(MODEL_LIST.data).toHaveLength(BUILTIN_MODELS.length * 2);
    expect(MODEL_LIST.first_id).toBe(ids[0]);
    expect(MODEL_LIST.last_id).toBe(ids[ids.length - 1]);
    expect(Object.isFrozen(MODEL_LIST.data)).toBe(true);
  });

  it('lists fetched models in built-in order, then the rest', () => {
    const body = modelListBody([offer('claude-sonnet-5', 1_000_000), offer('claude-sonnet-4.5')]);
    expect(body.data.map((m) => m.id)).toEqual(['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5-20250929-thinking', 'claude-sonnet-5', 'claude-sonnet-5-thinking']);
  });
});
