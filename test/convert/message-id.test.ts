import { describe, expect, it } from 'vitest';
import { newMessageId } from '../../src/convert/message-id.js';

describe('newMessageId', () => {
  it('gives msg_ and 32 hex digits, a different one each time, across refills of its random pool', () => {
    const ids = Array.from({ length: 2_000 }, newMessageId);
    for (const id of ids) expect(id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
