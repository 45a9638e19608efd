/**
 * Issue 11 §3: the HPA played for real (loadtest/stack/hpa-play.ts). The chart's autoscaling values
 * with time ÷ 60 (600 s scale-down window → 10 s), k6 ramping long streams up and down through nginx,
 * replicas started and drained (nginx first, then SIGTERM) as the controller decides, access tokens
 * expired at the peak and during scale-down. Asserts 1 → N → 1, no failed or cut stream, one refresh
 * per expiring token across the changing replica set, and the same counters on every replica.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printHpaReport, runHpaPlay } from '../../loadtest/stack/hpa-play.js';
import { requireTool } from '../helpers/tools.js';

describe('HPA play on the local stack', () => {
  it('scales 1 → N → 1 under ramping long streams without losing a stream or a refresh token', async () => {
    const report = await runHpaPlay({
      k6Binary: requireTool('k6', 'bash .ci/tools/40-k6.sh'),
      nginxBinary: requireTool('nginx', 'apt-get install nginx'),
      chromiumPath: requireTool('chromium', 'apt-get install chromium'),
      quiet: true,
      // Correctness thresholds only: timings on a shared 2-core machine are the bench's business.
      timingThresholds: false,
    });
    let printed = '';
    printHpaReport(report, (s) => (printed += s));
    process.stdout.write(printed);

    expect(report.problems, printed).toEqual([]);
    expect(report.replicaSteps[0]).toBe(1);
    expect(report.peakReplicas).toBeGreaterThanOrEqual(3);
    expect(report.finalReplicas).toBe(1);
    expect(report.failedRequests).toBe(0);
    expect(report.streamsCut).toBe(0);
    expect(report.k6Code).toBe(0);
    for (const n of Object.values(report.refreshes)) expect(n).toBe(report.expectedRefreshesPerCredential);
    expect(existsSync(report.files.png!)).toBe(true);
  }, 240_000);
});
