import { describe, expect, it } from 'vitest';
import { MODEL_LIST, resolveModel } from '../../src/kiro/models.js';
import { NotFoundError } from '../../src/errors.js';

describe('resolveModel', () => {
  it.each([
    ['claude-sonnet-4-6', 'claude-sonnet-4.6', 1_000_000],
    ['claude-sonnet-4.6', 'claude-sonnet-4.6', 1_000_000],
    ['claude-sonnet-4-7', 'claude-sonnet-4.6', 1_000_000],
    ['claude-sonnet-5', 'claude-sonnet-4.6', 1_000_000],
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4.5', 200_000],
    ['claude-sonnet-4-20250514', 'claude-sonnet-4.5', 200_000],
    ['claude-3-7-sonnet-20250219', 'claude-sonnet-4.5', 200_000],
    ['claude-3-5-sonnet-latest', 'claude-sonnet-4.5', 200_000],
    ['Claude-Sonnet', 'claude-sonnet-4.5', 200_000],
    ['claude-opus-4-5-20251101', 'claude-opus-4.5', 200_000],
    ['claude-opus-4.5', 'claude-opus-4.5', 200_000],
    ['claude-opus-4-6', 'claude-opus-4.6', 1_000_000],
    ['claude-opus-4-8', 'claude-opus-4.6', 1_000_000],
    ['claude-opus-4-1-20250805', 'claude-opus-4.6', 1_000_000],
    ['claude-haiku-4-5-20251001', 'claude-haiku-4.5', 200_000],
    ['claude-3-5-haiku-20241022', 'claude-haiku-4.5', 200_000],
  ])('maps %s to %s by family', (name, id, window) => {
    const r = resolveModel(name);
    expect(r.kiroModelId).toBe(id);
    expect(r.windowSize).toBe(window);
    expect(r.forceThinking).toBeUndefined();
  });

  it('forces adaptive thinking for opus 4.6+ thinking names and enabled 20000 for others', () => {
    expect(resolveModel('claude-opus-4-6-thinking').forceThinking).toEqual({ type: 'adaptive' });
    expect(resolveModel('claude-opus-4-8-thinking').forceThinking).toEqual({ type: 'adaptive' });
    expect(resolveModel('claude-opus-4-5-20251101-thinking').forceThinking).toEqual({ type: 'enabled', budget_tokens: 20000 });
    expect(resolveModel('claude-sonnet-4-6-thinking')).toEqual({
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

describe('MODEL_LIST', () => {
  it('has the §7.8 shape and only resolvable ids, each with a -thinking variant', () => {
    expect(MODEL_LIST.object).toBe('list');
    const ids = MODEL_LIST.data.map((m) => m.id);
    expect(ids).toContain('claude-opus-4-8');
    expect(ids).toContain('claude-sonnet-4-5-20250929-thinking');
    expect(new Set(ids).size).toBe(ids.length);
    for (const m of MODEL_LIST.data) {
      expect(m).toMatchObject({ object: 'model', owned_by: 'anthropic', type: 'chat', max_tokens: 64000 });
      expect(typeof m.display_name).toBe('string');
      expect(Number.isInteger(m.created)).toBe(true);
      expect(() => resolveModel(m.id)).not.toThrow();
      expect(ids).toContain(m.id.endsWith('-thinking') ? m.id.slice(0, -9) : `${m.id}-thinking`);
    }
    expect(MODEL_LIST.first_id).toBe(ids[0]);
    expect(MODEL_LIST.last_id).toBe(ids[ids.length - 1]);
    expect(Object.isFrozen(MODEL_LIST.data)).toBe(true);
  });
});
