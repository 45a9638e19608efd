// spike: a sudden burst, as when a team's CI fans out Claude Code agents at once. K6_BASE (2/s) for
// 30 s, then K6_PEAK (default 100/s) within 10 s, held 1 min, back to base within 10 s, 1 min of
// recovery. Shows whether new replicas (HPA) or admission control (529 + retry-after) absorb it;
// thresholds allow 5 % errors during the burst but TTFB p95 must recover.
//   k6 run -e K6_TARGET=https://gateway.example -e K6_API_KEY=sk-… loadtest/spike.js
import { mixedTraffic } from './lib/traffic.js';
import { numberEnv } from './lib/config.js';
import { SUMMARY_TREND_STATS, summaryFor, thresholds, vusFor } from './lib/summary.js';

const BASE = numberEnv('K6_BASE', 2);
const PEAK = numberEnv('K6_PEAK', 100);
const ITERATION_P99_S = numberEnv('K6_ITERATION_P99_S', 8);

export const options = {
  summaryTrendStats: SUMMARY_TREND_STATS,
  scenarios: {
    spike: {
      executor: 'ramping-arrival-rate',
      startRate: BASE,
      timeUnit: '1s',
      stages: [
        { target: BASE, duration: '30s' },
        { target: PEAK, duration: '10s' },
        { target: PEAK, duration: __ENV.K6_HOLD || '1m' },
        { target: BASE, duration: '10s' },
        { target: BASE, duration: '1m' },
      ],
      preAllocatedVUs: vusFor(PEAK, ITERATION_P99_S),
      maxVUs: vusFor(PEAK, ITERATION_P99_S) * 2,
      gracefulStop: '2m',
    },
  },
  thresholds: thresholds({ errorRate: 0.05, ttfbP95: 4000, ttfbP99: 8000, durationP99: 30000 }),
};

export default function () {
  mixedTraffic();
}

export const handleSummary = summaryFor('spike');
