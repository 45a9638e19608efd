/**
 * What the disconnect tests of both APIs (disconnect.test.ts, openai-disconnect.test.ts) share: an
 * answer long enough to leave in the middle of, and the check that the request gave everything back.
 */
import { expect } from 'vitest';
import type { Script } from '../../src/simulator/index.js';
import { eventually, type Stack } from '../helpers/stack.js';

/** 100 text events 30 ms apart: a 3-second answer, far longer than any of these tests waits. */
export const LONG: Script = { events: Array.from({ length: 100 }, (_, i) => ({ text: `word${i} ` })), chunkDelayMs: 30 };

/**
 * Within a second of the abort: upstream aborted, nothing in flight, the slot of credential `id`
 * free and the credential unblamed.
 */
export async function expectReleased(stack: Stack, id: number, abortedAt: number): Promise<void> {
  await eventually(() => stack.sim.stats.streamsAborted === 1, 1_000);
  expect(Date.now() - abortedAt).toBeLessThan(1_000);
  await eventually(
    () => stack.sim.stats.streamsInFlight === 0 && stack.gateway.lifecycle.inFlight === 0 && stack.gateway.pool.inFlight(id) === 0,
    1_000,
  );
  expect(stack.sim.stats.streamsCompleted).toBe(0);
  const record = stack.gateway.store.get(id)!;
  expect(record.credential.disabled).toBe(false);
  expect(record.stats.failureCount).toBe(0);
}
