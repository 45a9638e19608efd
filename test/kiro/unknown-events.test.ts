import { describe, expect, it } from 'vitest';
import { eventTypeName, MAX_UNKNOWN_EVENT_TYPES, OTHER_EVENT_TYPE, UnknownEventTypes } from '../../src/kiro/unknown-events.js';

describe('UnknownEventTypes', () => {
  it('says first only once per type', () => {
    const types = new UnknownEventTypes();
    expect(types.note('citationEvent')).toEqual({ name: 'citationEvent', first: true });
    expect(types.note('citationEvent')).toEqual({ name: 'citationEvent', first: false });
    expect(types.note('followupPromptEvent')).toEqual({ name: 'followupPromptEvent', first: true });
  });

  it(`names at most ${MAX_UNKNOWN_EVENT_TYPES} types; the rest share "${OTHER_EVENT_TYPE}", itself first once`, () => {
    const types = new UnknownEventTypes();
    const names = Array.from({ length: MAX_UNKNOWN_EVENT_TYPES + 5 }, (_, i) => types.note(`event${i}`));
    expect(names.slice(0, MAX_UNKNOWN_EVENT_TYPES).every((n, i) => n.name === `event${i}` && n.first)).toBe(true);
    expect(names.slice(MAX_UNKNOWN_EVENT_TYPES).map((n) => n.name)).toEqual(Array(5).fill(OTHER_EVENT_TYPE));
    expect(names.slice(MAX_UNKNOWN_EVENT_TYPES).map((n) => n.first)).toEqual([true, false, false, false, false]);
    // A type named before the cap keeps its name.
    expect(types.note('event3')).toEqual({ name: 'event3', first: false });
  });

  it('keeps names fit for logs and labels: safe characters, at most 64', () => {
    expect(eventTypeName('weird type\n"x"')).toBe('weird_type__x_');
    expect(eventTypeName('a'.repeat(100))).toHaveLength(64);
    expect(eventTypeName('')).toBe('unnamed');
  });
});
