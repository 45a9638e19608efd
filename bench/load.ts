/**
 * The bench's closed-loop load generator: `concurrency` streaming requests in a loop for a while,
 * time to first body byte per request, every answer verified. Shared by the bench scenarios.
 */
import { Pool } from 'undici';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface Result {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  outOfOrder: number;
  /** Sorted TTFB samples (ms) and wall time (s), for merging runs. */
  ttfb: number[];
  elapsed: number;
}

/** Combines runs of the same configuration (e.g. the halves of an ABBA sequence). */
export function merge(runs: Result[]): Result {
  const ttfb = runs.flatMap((r) => r.ttfb).sort((a, b) => a - b);
  const elapsed = runs.reduce((a, r) => a + r.elapsed, 0);
  const sum = (k: 'requests' | 'errors' | 'outOfOrder') => runs.reduce((a, r) => a + r[k], 0);
  return {
    rps: ttfb.length / elapsed,
    p50: percentile(ttfb, 50),
    p99: percentile(ttfb, 99),
    requests: sum('requests'),
    errors: sum('errors'),
    outOfOrder: sum('outOfOrder'),
    ttfb,
    elapsed,
  };
}

export async function load(
  url: string,
  path: string,
  headers: Record<string, string>,
  body: string,
  concurrency: number,
  verify: (text: string) => boolean,
  durationMs: number,
  pacing: { staggerMs?: number; thinkMs?: number } = {},
): Promise<Result> {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
  const ttfb: number[] = [];
  let errors = 0;
  let outOfOrder = 0;
  const deadline = performance.now() + durationMs;
  const started = performance.now();
  const { staggerMs = 0, thinkMs = 0 } = pacing;
  // Optional pacing, for streams that last long: workers start spread over `staggerMs` and pause a
  // random 0–`thinkMs` between requests, so they do not all wait on the upstream in lockstep.
  const pause = (ms: number) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : undefined);
  const worker = async (_: unknown, i: number) => {
    await pause((i / concurrency) * staggerMs);
    while (performance.now() < deadline) {
      await pause(Math.random() * thinkMs);
      const t0 = performance.now();
      try {
        const res = await pool.request({ path, method: 'POST', headers, body });
        let first = true;
        const parts: Buffer[] = [];
        for await (const chunk of res.body) {
          if (first) {
            ttfb.push(performance.now() - t0);
            first = false;
          }
          parts.push(chunk as Buffer);
        }
        if (res.statusCode !== 200) errors++;
        else if (!verify(Buffer.concat(parts).toString('utf8'))) outOfOrder++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  ttfb.sort((a, b) => a - b);
  return { rps: ttfb.length / elapsed, p50: percentile(ttfb, 50), p99: percentile(ttfb, 99), requests: ttfb.length, errors, outOfOrder, ttfb, elapsed };
}

