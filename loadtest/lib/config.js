// Settings every profile reads from the environment (k6 `-e NAME=value` or the process env).
//   K6_TARGET       base URL of the gateway or its load balancer (default http://127.0.0.1:8080)
//   K6_API_KEY      client key (x-api-key); required
//   K6_SIM_SCRIPTS  1 = embed simulator scripts (<sim>…</sim>) so the Kiro simulator answers with
//                   tool calls, thinking and long streams; leave unset against a real deployment
//   K6_RESULTS_DIR  where handleSummary writes (default loadtest/results)
//   K6_TTFB_P95_MS, K6_TTFB_P99_MS, K6_DURATION_P99_MS, K6_ERROR_RATE  threshold overrides

export const TARGET = (__ENV.K6_TARGET || 'http://127.0.0.1:8080').replace(/\/+$/, '');
export const API_KEY = __ENV.K6_API_KEY || '';
export const SIM_SCRIPTS = __ENV.K6_SIM_SCRIPTS === '1';
export const RESULTS_DIR = (__ENV.K6_RESULTS_DIR || 'loadtest/results').replace(/\/+$/, '');

if (!API_KEY) throw new Error('K6_API_KEY is not set: pass the gateway client key (-e K6_API_KEY=… or the environment)');

/** Models a real user population sends; the gateway maps each to a Kiro model. */
export const MODELS = ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-20250514', 'claude-haiku-4-5-20251001', 'claude-opus-4-5-20251101'];

export function numberEnv(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${raw}`);
  return n;
}
