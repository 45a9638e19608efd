// load: the expected daily peak. Arrival rate ramps from 1 to K6_RATE user actions/s (default 20)
// over 1 min, holds it for K6_HOLD (default 3m), ramps down over 30 s. Thresholds: < 1 % failed
// requests and checks, every stream ends with message_stop, TTFB p95 < 2 s / p99 < 4 s, p99 < 15 s.
//   k6 run -e K6_TARGET=https://gateway.example -e K6_API_KEY=sk-… loadtest/load.js
import { mixedTraffic } from './lib/traffic.js';
import { numberEnv } from './lib/config.js';
import { SUMMARY_TREND_STATS, summaryFor, thresholds, vusFor } from './lib/summary.js';

const RATE = numberEnv('K6_RATE', 20);
const ITERATION_P99_S = numberEnv('K6_ITERATION_P99_S', 6);

export const options = {
  summaryTrendStats: SUMMARY_TREND_STATS,
  scenarios: {
    load: {
      executor: 'ramping-arrival-rate',
      startRate: 1,
      timeUnit: '1s',
      stages: [
        { target: RATE, duration: __ENV.K6_RAMP || '1m' },
        { target: RATE, duration: __ENV.K6_HOLD || '3m' },
        { target: 0, duration: '30s' },
      ],
      preAllocatedVUs: vusFor(RATE, ITERATION_P99_S),
      maxVUs: vusFor(RATE, ITERATION_P99_S) * 3,
      // Longer than the longest stream: the 30 s default would cut streams still open at the end.
      gracefulStop: '2m',
    },
  },
  thresholds: thresholds(),
};

export default function () {
  mixedTraffic();
}

export const handleSummary = summaryFor('load');
