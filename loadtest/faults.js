// faults: steady streaming load while something breaks (driven by loadtest/stack/faults.ts, which
// injects the fault: a killed replica or Redis, an upstream 429/5xx storm, or — with K6_FAULT_SCRIPT —
// a simulator fault script embedded in every K6_FAULT_EVERY-th request). K6_RATE (8/s) for
// K6_RUN_TIME (8s). No thresholds on purpose: the driver reads the counters (complete, clean SSE
// error, cut, failed) and asserts the exact numbers each fault allows. Requests retry as the
// Anthropic SDKs do (lib/retry.js): `failed` counts requests lost after those retries, and with
// K6_MAX_RETRIES above the SDKs' default 2, `faults_beyond_default_retries` counts the requests that
// needed more.
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import { API_KEY, TARGET, numberEnv } from './lib/config.js';
import { readSse } from './lib/sse.js';
import { SDK_DEFAULT_RETRIES, postWithRetries } from './lib/retry.js';
import { SUMMARY_TREND_STATS, summaryFor, vusFor } from './lib/summary.js';

const RATE = numberEnv('K6_RATE', 8);
const FAULT = __ENV.K6_FAULT_SCRIPT || '';
const EVERY = numberEnv('K6_FAULT_EVERY', 5);

const outcome = {
  complete: new Counter('faults_complete'),
  cleanError: new Counter('faults_clean_error'),
  cut: new Counter('faults_cut'),
  failed: new Counter('faults_failed'),
  faulted: new Counter('faults_injected'),
  faultedComplete: new Counter('faults_injected_complete'),
  faultedCleanError: new Counter('faults_injected_clean_error'),
  // Served only after more retries than the SDKs make by default (K6_MAX_RETRIES above 2).
  beyondDefaultRetries: new Counter('faults_beyond_default_retries'),
};

export const options = {
  summaryTrendStats: SUMMARY_TREND_STATS,
  scenarios: {
    faults: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: __ENV.K6_RUN_TIME || '8s',
      preAllocatedVUs: vusFor(RATE, 10),
      maxVUs: vusFor(RATE, 10) * 4,
      gracefulStop: '90s',
    },
  },
};

export default function () {
  const faulted = FAULT !== '' && exec.scenario.iterationInTest % EVERY === 0;
  const script = faulted ? `<sim>${FAULT}</sim>` : '<sim>{"chunkDelayMs":40}</sim>';
  const { res, attempts } = postWithRetries(
    `${TARGET}/v1/messages`,
    JSON.stringify({ model: 'claude-sonnet-4-5-20250929', max_tokens: 512, stream: true, messages: [{ role: 'user', content: `Tell me something. ${script}` }] }),
    { headers: { 'content-type': 'application/json', 'x-api-key': API_KEY }, timeout: '80s', responseType: 'text', tags: { faulted: String(faulted) } },
  );
  if (faulted) outcome.faulted.add(1);
  if (attempts > 1 + SDK_DEFAULT_RETRIES) outcome.beyondDefaultRetries.add(1);
  // A stream that began and then broke off (its replica died) is a cut stream, not a refused request:
  // k6 reports it as status 0 with the part that arrived.
  const began = res.status === 0 && String(res.body || '').startsWith('event: ');
  if (res.status !== 200 && !began) {
    outcome.failed.add(1);
    if (__ENV.K6_LOG_PROBLEMS === '1') console.warn(`status ${res.status} ${res.error || ''} ${String(res.body).slice(0, 160)}`);
    return;
  }
  const sse = readSse(res.body);
  if (sse.outcome === 'complete') {
    outcome.complete.add(1);
    if (faulted) outcome.faultedComplete.add(1);
  } else if (sse.outcome === 'clean-error') {
    outcome.cleanError.add(1);
    if (faulted) outcome.faultedCleanError.add(1);
  } else {
    outcome.cut.add(1);
    if (__ENV.K6_LOG_PROBLEMS === '1') console.warn(`cut: ${sse.problem}`);
  }
  check(res, { 'stream finished cleanly or with an SSE error': () => sse.outcome !== 'cut' });
}

export const handleSummary = summaryFor('faults');
