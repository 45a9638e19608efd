/**
 * Writes a StreamPlan to an HTTP response: pacing (chunk delay), awkward chunk splits, and the
 * endings a fault asks for (clean end, stall, cut mid-frame).
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { HEADERS_OFFSET, PRELUDE_LENGTH, PRELUDE_MEMBER_LENGTH } from '../kiro/frames.js';
import type { StreamPlan } from './reply.js';

/** Minimum pause between the pieces of a split frame, so they reach the client as separate reads. */
const SPLIT_PIECE_DELAY_MS = 1;

/**
 * Offsets at which `splitFrames` cuts a frame: inside the total-length field, inside the prelude CRC,
 * just after it, and in the middle of the rest.
 */
export function awkwardCuts(length: number): number[] {
  const cuts = [PRELUDE_MEMBER_LENGTH - 2, PRELUDE_LENGTH + 1, HEADERS_OFFSET + 1, Math.floor(length / 2), length - 2];
  return [...new Set(cuts)].filter((c) => c > 0 && c < length).sort((a, b) => a - b);
}

/** How the stream ended, for the caller's bookkeeping. */
export type StreamOutcome = 'finished' | 'stalled' | 'cut' | 'aborted';

async function write(res: ServerResponse, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
  if (!res.write(bytes)) await once(res, 'drain', { signal });
}

/**
 * Sends the plan's frames (the response head must already be written). Resolves when the plan is
 * done or the client went away (`signal` aborted); a stall resolves only then. `onSelfClose` runs
 * just before the simulator itself kills the socket, so that is not counted as a client abort.
 */
export async function sendPlan(
  res: ServerResponse,
  plan: StreamPlan,
  signal: AbortSignal,
  onSelfClose: () => void,
): Promise<StreamOutcome> {
  try {
    const paced = plan.chunkDelayMs > 0 || plan.splitFrames;
    if (!paced) {
      if (plan.frames.length > 0) await write(res, Buffer.concat(plan.frames), signal);
    } else {
      for (let i = 0; i < plan.frames.length; i++) {
        if (i > 0 && plan.chunkDelayMs > 0) await sleep(plan.chunkDelayMs, undefined, { signal });
        const frame = plan.frames[i];
        if (!plan.splitFrames) {
          await write(res, frame, signal);
          continue;
        }
        let last = 0;
        for (const cut of [...awkwardCuts(frame.length), frame.length]) {
          if (last > 0) await sleep(Math.max(SPLIT_PIECE_DELAY_MS, plan.chunkDelayMs), undefined, { signal });
          await write(res, frame.subarray(last, cut), signal);
          last = cut;
        }
      }
    }
    switch (plan.ending.kind) {
      case 'end':
        res.end();
        return 'finished';
      case 'stall':
        if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        return 'stalled';
      case 'cut': {
        if (plan.chunkDelayMs > 0) await sleep(plan.chunkDelayMs, undefined, { signal });
        const { partial, mode } = plan.ending;
        if (mode === 'end') {
          res.end(partial);
        } else {
          // Let the bytes reach the socket first, so the client really receives half a frame.
          onSelfClose();
          res.write(partial, () => res.socket?.destroy());
        }
        return 'cut';
      }
    }
  } catch (err) {
    if (signal.aborted) return 'aborted';
    throw err;
  }
}
