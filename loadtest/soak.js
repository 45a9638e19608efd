// soak: a steady, moderate rate for a long time (K6_RATE 10/s for K6_RUN_TIME, default 1 h) to
// surface leaks (RSS growth, file descriptors), token refreshes across expiry, and slow drift in
// TTFB. Thresholds as in `load`; watch the replicas' RSS on the dashboard meanwhile.
//   k6 run -e K6_TARGET=https://gateway.example -e K6_API_KEY=sk-… -e K6_RUN_TIME=4h loadtest/soak.js
import { mixedTraffic } from './lib/traffic.js';
import { numberEnv } from './lib/config.js';
import { SUMMARY_TREND_STATS, summaryFor, thresholds, vusFor } from './lib/summary.js';

const RATE = numberEnv('K6_RATE', 10);
const ITERATION_P99_S = numberEnv('K6_ITERATION_P99_S', 6);

export const options = {
  summaryTrendStats: SUMMARY_TREND_STATS,
  scenarios: {
    soak: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: __ENV.K6_RUN_TIME || '1h',
      preAllocatedVUs: vusFor(RATE, ITERATION_P99_S),
      maxVUs: vusFor(RATE, ITERATION_P99_S) * 3,
      gracefulStop: '2m',
    },
  },
  thresholds: thresholds(),
};

export default function () {
  mixedTraffic();
}

export const handleSummary = summaryFor('soak');
