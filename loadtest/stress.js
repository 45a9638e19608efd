// stress: where does it bend? Arrival rate climbs in steps (K6_RATE × 1, 2, 4, 6; default base 20/s),
// 2 min each, then ramps down. The thresholds are looser (5 % errors, TTFB p99 < 8 s): the run shows
// the knee in TTFB and the first 529 overloaded_error answers, and fails only when the gateway falls over.
//   k6 run -e K6_TARGET=https://gateway.example -e K6_API_KEY=sk-… loadtest/stress.js
import { mixedTraffic } from './lib/traffic.js';
import { numberEnv } from './lib/config.js';
import { SUMMARY_TREND_STATS, summaryFor, thresholds, vusFor } from './lib/summary.js';

const BASE = numberEnv('K6_RATE', 20);
const STEP = __ENV.K6_STEP || '2m';
const ITERATION_P99_S = numberEnv('K6_ITERATION_P99_S', 10);

export const options = {
  summaryTrendStats: SUMMARY_TREND_STATS,
  scenarios: {
    stress: {
      executor: 'ramping-arrival-rate',
      startRate: 1,
      timeUnit: '1s',
      stages: [1, 2, 4, 6].flatMap((k) => [
        { target: BASE * k, duration: '30s' },
        { target: BASE * k, duration: STEP },
      ]).concat([{ target: 0, duration: '1m' }]),
      preAllocatedVUs: vusFor(BASE * 6, ITERATION_P99_S),
      maxVUs: vusFor(BASE * 6, ITERATION_P99_S) * 2,
      gracefulStop: '3m',
    },
  },
  thresholds: Object.assign(thresholds({ errorRate: 0.05, ttfbP95: 5000, ttfbP99: 8000, durationP99: 30000 }), {
    dropped_iterations: ['count<100'],
  }),
};

export default function () {
  mixedTraffic();
}

export const handleSummary = summaryFor('stress');
