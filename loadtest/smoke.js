// smoke: does every kind of request work end to end, under a light open-model load?
// 5 user actions per second for 20 s (K6_RATE, K6_RUN_TIME), drawn from the full traffic mix
// (streaming, JSON, tool round trip, thinking, Claude Code first turn, count_tokens, four models).
// Any failed request, failed check or stream without message_stop fails the run.
//   k6 run -e K6_TARGET=https://gateway.example -e K6_API_KEY=sk-… loadtest/smoke.js
import { mixedTraffic } from './lib/traffic.js';
import { numberEnv } from './lib/config.js';
import { SUMMARY_TREND_STATS, summaryFor, thresholds, vusFor } from './lib/summary.js';

const RATE = numberEnv('K6_RATE', 5);
// A tool round trip is two streams; ~3 s at p99 on the simulator, more on a real model.
const ITERATION_P99_S = numberEnv('K6_ITERATION_P99_S', 4);

export const options = {
  summaryTrendStats: SUMMARY_TREND_STATS,
  scenarios: {
    smoke: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: __ENV.K6_RUN_TIME || '20s',
      preAllocatedVUs: vusFor(RATE, ITERATION_P99_S),
      maxVUs: vusFor(RATE, ITERATION_P99_S) * 4,
      gracefulStop: '60s',
    },
  },
  thresholds: Object.assign(thresholds({ errorRate: 0.0001 }), { http_req_failed: ['rate==0'], checks: ['rate==1'], stream_ok: ['rate==1'] }),
};

export default function () {
  mixedTraffic();
}

export const handleSummary = summaryFor('smoke');
