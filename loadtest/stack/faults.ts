/**
 * Faults under load (issue 11 §4): on one local stack with 3 replicas, each scenario runs the k6
 * `faults` profile (steady streaming load) while it injects one fault, then counts what clients saw
 * and what the credentials look like afterwards. Every scenario states the exact numbers it allows;
 * `printFaultTable` prints them side by side.
 */
import { request, Agent } from 'node:http';
import { readFileSync } from 'node:fs';
import { simScript } from '../../src/simulator/index.js';
import { adminCredentials } from '../../test/helpers/replicas.js';
import { parseProm, type PromExposition } from '../../test/observability/prom-parse.js';
import { runK6, type K6Result } from './k6.js';
import type { LocalStack } from './local-stack.js';

export interface FaultCounts {
  requests: number;
  failed: number;
  complete: number;
  cleanError: number;
  cut: number;
  injected: number;
  injectedComplete: number;
  injectedCleanError: number;
  /** Served only after more retries than the SDKs' default 2 (when K6_MAX_RETRIES allows more). */
  beyondDefaultRetries: number;
  /** Retried answers that were 529 overloaded_error with retry-after, and of any other kind. */
  retriedOverloaded: number;
  retriedOther: number;
}

export interface FaultRow {
  name: string;
  counts: FaultCounts;
  /** What was allowed, in words, and whether it held. */
  expectations: Array<{ what: string; ok: boolean; got: string }>;
  /** What k6 logged about lost requests and cut streams, shown when an expectation fails. */
  problems?: string[];
}

export interface FaultContext {
  stack: LocalStack;
  k6Binary: string;
  resultsDir?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Retries the load's clients may make (retry-after honoured, capped at 5 s): enough to outlast a
 * fault, so `failed` counts only requests that retrying could not save. How many needed more than
 * the SDKs' default 2 is counted (`beyondDefaultRetries`) and each scenario says how many it allows.
 */
export const FAULT_MAX_RETRIES = 10;

/** Runs the k6 faults profile while `during` runs (started `delayMs` after k6 begins). */
export async function loadWith(
  ctx: FaultContext,
  env: Record<string, string>,
  during?: () => Promise<void>,
  delayMs = 3_000,
): Promise<{ counts: FaultCounts; k6: K6Result; problems: string[] }> {
  const run = runK6({
    k6Binary: ctx.k6Binary,
    profile: 'faults',
    target: ctx.stack.url,
    apiKey: ctx.stack.apiKey,
    resultsDir: ctx.resultsDir,
    quiet: true,
    env: { K6_LOG_PROBLEMS: '1', K6_MAX_RETRIES: String(FAULT_MAX_RETRIES), ...env },
  });
  if (during) {
    await sleep(delayMs);
    await during();
  }
  const k6 = await run;
  const m = k6.summary?.metrics ?? {};
  const n = (name: string) => Number(m[name]?.values?.count ?? 0);
  return {
    k6,
    // What K6_LOG_PROBLEMS printed: the status of each request lost after retries, each cut stream.
    problems: k6.output.split('\n').filter((l) => /level=warning msg="(status|cut:)/.test(l)).map((l) => /msg="(.*)"/.exec(l)?.[1] ?? l),
    counts: {
      // Iterations, not HTTP requests: a request retried after a 529 is one request of the user's.
      requests: n('iterations'),
      failed: n('faults_failed'),
      complete: n('faults_complete'),
      cleanError: n('faults_clean_error'),
      cut: n('faults_cut'),
      injected: n('faults_injected'),
      injectedComplete: n('faults_injected_complete'),
      injectedCleanError: n('faults_injected_clean_error'),
      beyondDefaultRetries: n('faults_beyond_default_retries'),
      retriedOverloaded: n('retried_overloaded'),
      retriedOther: n('retried_other'),
    },
  };
}

export function expect(what: string, ok: boolean, got: string | number): { what: string; ok: boolean; got: string } {
  return { what, ok, got: String(got) };
}

/** Every replica sees every credential enabled with the same refresh token. */
export async function credentialsIntact(stack: LocalStack): Promise<{ ok: boolean; got: string }> {
  const deadline = Date.now() + 15_000;
  let got = '';
  for (;;) {
    const views = await Promise.all(stack.replicas.map((r) => adminCredentials(r.url).catch(() => undefined)));
    const summary = views.map((v) => (v ? [...v.values()].map((c) => `${c.id}:${c.disabled ? 'DISABLED' : 'ok'}:${(c.refreshTokenHash ?? '').slice(0, 8)}`).join(',') : 'unreachable'));
    got = summary.join(' | ');
    const ok = views.every((v) => v && [...v.values()].every((c) => !c.disabled)) && new Set(summary).size === 1;
    if (ok || Date.now() > deadline) return { ok, got };
    await sleep(250);
  }
}

/** RSS of a process in MiB. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** `n` clients that read until the first text delta and then disconnect. */
export async function disconnectMidStream(stack: LocalStack, n: number): Promise<number> {
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const body = JSON.stringify({
    model: 'claude-sonnet-4-5-20250929',
    max_tokens: 512,
    stream: true,
    messages: [{ role: 'user', content: `bye ${simScript({ events: Array.from({ length: 30 }, (_, i) => ({ text: `part ${i} ` })), chunkDelayMs: 100 })}` }],
  });
  let left = 0;
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve) => {
          const req = request(`${stack.url}/v1/messages`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-api-key': stack.apiKey } }, (res) => {
            res.on('data', (c: Buffer) => {
              if (c.toString('utf8').includes('text_delta')) {
                left++;
                req.destroy();
                resolve();
              }
            });
            res.on('end', resolve);
          });
          req.on('error', () => resolve());
          req.end(body);
        }),
    ),
  );
  agent.destroy();
  return left;
}

/** One replica's /metrics, parsed. */
export async function scrape(url: string): Promise<PromExposition> {
  return parseProm(await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text());
}

/** Streams open on one replica (kiro_gateway_inflight_streams). */
export async function inflightOn(url: string): Promise<number> {
  return (await scrape(url)).sum('kiro_gateway_inflight_streams');
}

/** Sum of kiro_gateway_inflight_streams over the replicas. */
export async function inflight(stack: LocalStack): Promise<number> {
  const values = await Promise.all(stack.replicas.map((r) => inflightOn(r.url)));
  return values.reduce((s, v) => s + v, 0);
}

export function printFaultTable(rows: FaultRow[], write: (s: string) => void = (s) => process.stdout.write(s)): void {
  write('\nFaults under load (3 replicas behind nginx, steady k6 streaming load)\n');
  write('| scenario | requests | failed | complete | SSE error | cut | injected | retried (529 / other) | > 2 retries | expectations |\n');
  write('|---|---|---|---|---|---|---|---|---|---|\n');
  for (const r of rows) {
    const c = r.counts;
    const exp = r.expectations.map((e) => `${e.ok ? '✓' : '✗'} ${e.what} (${e.got})`).join('; ');
    write(
      `| ${r.name} | ${c.requests} | ${c.failed} | ${c.complete} | ${c.cleanError} | ${c.cut} | ${c.injected} | ${c.retriedOverloaded} / ${c.retriedOther} | ` +
        `${c.beyondDefaultRetries} | ${exp} |\n`,
    );
  }
}
