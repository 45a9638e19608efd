// scale: long streams whose arrival rate ramps up and down, to watch an autoscaler follow
// kiro_gateway_inflight_streams (npm run loadtest -- scale plays the HPA on a local stack; on a
// cluster, watch `kubectl get hpa -w` meanwhile). Up to K6_PEAK (10/s) in K6_RAMP_UP (10s), held
// K6_HOLD (15s), down to K6_LOW (2/s) in 5 s, held K6_LOW_HOLD (30s). Every stream must end with
// message_stop while replicas come and go: 0 failed requests allowed.
//   k6 run -e K6_TARGET=https://gateway.example -e K6_API_KEY=sk-… -e K6_HOLD=10m loadtest/scale.js
import { streamingChat } from './lib/traffic.js';
import { numberEnv } from './lib/config.js';
import { SUMMARY_TREND_STATS, summaryFor, thresholds, vusFor } from './lib/summary.js';

const PEAK = numberEnv('K6_PEAK', 10);
const LOW = numberEnv('K6_LOW', 2);
// Stream length on the simulator: K6_STREAM_CHUNKS × K6_CHUNK_DELAY_MS (lib/traffic.js); ~4.5 s in the play.
const ITERATION_P99_S = numberEnv('K6_ITERATION_P99_S', 15);

export const options = {
  summaryTrendStats: SUMMARY_TREND_STATS,
  scenarios: {
    scale: {
      executor: 'ramping-arrival-rate',
      startRate: LOW,
      timeUnit: '1s',
      stages: [
        { target: PEAK, duration: __ENV.K6_RAMP_UP || '10s' },
        { target: PEAK, duration: __ENV.K6_HOLD || '15s' },
        { target: LOW, duration: '5s' },
        { target: LOW, duration: __ENV.K6_LOW_HOLD || '30s' },
      ],
      preAllocatedVUs: vusFor(PEAK, ITERATION_P99_S),
      maxVUs: vusFor(PEAK, ITERATION_P99_S) * 2,
      gracefulStop: '60s',
    },
  },
  thresholds: Object.assign(thresholds({ ttfbP95: 3000, ttfbP99: 6000, durationP99: 30000 }), {
    http_req_failed: ['rate==0'],
    stream_ok: ['rate==1'],
  }),
};

export default function () {
  streamingChat();
}

export const handleSummary = summaryFor('scale');
