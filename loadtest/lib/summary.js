// Thresholds shared by the profiles, and handleSummary: a JSON file and a short text summary
// under K6_RESULTS_DIR (loadtest/results/ by default, git-ignored), the text also on stdout.
// A failed threshold makes `k6 run` exit with 99; the files are written either way.
import { RESULTS_DIR, numberEnv } from './config.js';

export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'];

/**
 * Fails the run on: more than K6_ERROR_RATE (default 1 %) failed requests, any failed check or
 * stream without message_stop, time to first byte (http_req_waiting: headers + message_start + the
 * first content, see README) of streams over K6_TTFB_P95_MS / K6_TTFB_P99_MS, full responses over
 * K6_DURATION_P99_MS at p99.
 */
export function thresholds(defaults) {
  const d = Object.assign({ ttfbP95: 2000, ttfbP99: 4000, durationP99: 15000, errorRate: 0.01 }, defaults || {});
  const ttfbP95 = numberEnv('K6_TTFB_P95_MS', d.ttfbP95);
  const ttfbP99 = numberEnv('K6_TTFB_P99_MS', d.ttfbP99);
  const durationP99 = numberEnv('K6_DURATION_P99_MS', d.durationP99);
  const errorRate = numberEnv('K6_ERROR_RATE', d.errorRate);
  return {
    http_req_failed: [`rate<${errorRate}`],
    checks: [`rate>${1 - errorRate}`],
    stream_ok: [`rate>${1 - errorRate}`],
    'http_req_waiting{kind:stream}': [`p(95)<${ttfbP95}`, `p(99)<${ttfbP99}`],
    'http_req_duration': [`p(99)<${durationP99}`],
    dropped_iterations: ['count<1'],
  };
}

function fmt(v) {
  if (typeof v !== 'number') return String(v);
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function textSummary(data, profile) {
  const lines = [`k6 ${profile}: ${new Date().toISOString()}`];
  const failed = [];
  const names = Object.keys(data.metrics).sort();
  for (const name of names) {
    const m = data.metrics[name];
    const v = m.values;
    let shown;
    if (m.type === 'trend') shown = SUMMARY_TREND_STATS.map((s) => `${s}=${fmt(v[s])}`).join(' ');
    else if (m.type === 'rate') shown = `rate=${fmt(v.rate)} (${v.passes} / ${v.passes + v.fails})`;
    else if (m.type === 'counter') shown = `count=${fmt(v.count)} rate=${fmt(v.rate)}/s`;
    else shown = Object.entries(v).map(([k, x]) => `${k}=${fmt(x)}`).join(' ');
    lines.push(`  ${name.padEnd(44)} ${shown}`);
    for (const [expr, t] of Object.entries(m.thresholds || {})) {
      lines.push(`    ${t.ok ? 'ok  ' : 'FAIL'} ${expr}`);
      if (!t.ok) failed.push(`${name}: ${expr}`);
    }
  }
  const checks = (data.root_group && data.root_group.checks) || [];
  for (const c of checks) lines.push(`  check ${c.name}: ${c.passes} passed, ${c.fails} failed`);
  lines.push(failed.length === 0 ? 'thresholds: all passed' : `thresholds FAILED: ${failed.join('; ')}`);
  return lines.join('\n') + '\n';
}

/** handleSummary for `profile`: results/<profile>-summary.json and .txt, text on stdout. */
export function summaryFor(profile) {
  return function handleSummary(data) {
    const text = textSummary(data, profile);
    return {
      stdout: text,
      [`${RESULTS_DIR}/${profile}-summary.json`]: JSON.stringify(data, null, 2),
      [`${RESULTS_DIR}/${profile}-summary.txt`]: text,
    };
  };
}

/** preAllocatedVUs by Little's law: arrival rate × p99 seconds one iteration holds its VU. */
export function vusFor(ratePerSecond, p99IterationSeconds) {
  return Math.max(2, Math.ceil(ratePerSecond * p99IterationSeconds));
}
