/**
 * The HPA decision the play uses, against the chart's values.yaml (autoscaling: min 2, max 10, 50
 * streams per pod; scale up by max(100 %, 4 pods) per 15 s; scale down 1 pod per 120 s after a 600 s
 * window), with hand-computed autoscaling/v2 outcomes.
 */
import { describe, expect, it } from 'vitest';
import { HpaController, scaleTime } from '../../loadtest/stack/hpa-controller.js';
import { chartHpaSpec } from '../../loadtest/stack/hpa-values.js';

const spec = chartHpaSpec();

describe('HPA controller (autoscaling/v2 formula + the chart behavior)', () => {
  it('reads the chart values', () => {
    expect(spec).toEqual({
      minReplicas: 2,
      maxReplicas: 10,
      targetPerPod: 50,
      behavior: {
        scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }, { type: 'Pods', value: 4, periodSeconds: 15 }] },
        scaleDown: { stabilizationWindowSeconds: 600, selectPolicy: 'Min', policies: [{ type: 'Pods', value: 1, periodSeconds: 120 }] },
      },
    });
  });

  it('keeps the count within the 10 % tolerance', () => {
    const hpa = new HpaController(spec);
    expect(hpa.decide(2, [52, 54], 0).desired).toBe(2);
    expect(hpa.decide(2, [60, 60], 15).desired).toBe(3);
  });

  it('scales up by the larger policy per 15 s period, up to maxReplicas', () => {
    const hpa = new HpaController({ ...spec, minReplicas: 1 });
    // 300 streams on 1 pod: ceil(6) → limited to max(1 × 2, 1 + 4) = 5.
    expect(hpa.decide(1, [300], 0)).toMatchObject({ recommendation: 6, desired: 5 });
    // Same period: the period started at 1 replica, so 5 is still the limit.
    expect(hpa.decide(5, [120, 120, 120, 120, 120], 5).desired).toBe(5);
    // Next period: max(5 × 2, 5 + 4) = 10 = maxReplicas.
    expect(hpa.decide(5, [120, 120, 120, 120, 120], 16)).toMatchObject({ recommendation: 12, desired: 10 });
  });

  it('holds replicas for the 600 s window, then removes one pod per 120 s down to minReplicas', () => {
    const hpa = new HpaController(spec);
    expect(hpa.decide(4, [50, 50, 50, 50], 0).desired).toBe(4);
    expect(hpa.decide(4, [0, 0, 0, 0], 15).desired).toBe(4); // window still holds the 4
    expect(hpa.decide(4, [0, 0, 0, 0], 599).desired).toBe(4);
    expect(hpa.decide(4, [0, 0, 0, 0], 601).desired).toBe(3);
    expect(hpa.decide(3, [0, 0, 0], 700).desired).toBe(3); // 1 pod per 120 s
    expect(hpa.decide(3, [0, 0, 0], 722).desired).toBe(2);
    expect(hpa.decide(2, [0, 0], 900).desired).toBe(2); // minReplicas
  });

  it('scales windows and periods by a time factor', () => {
    const fast = scaleTime(spec, 30);
    expect(fast.behavior.scaleDown.stabilizationWindowSeconds).toBe(20);
    expect(fast.behavior.scaleDown.policies[0]!.periodSeconds).toBe(4);
    expect(fast.behavior.scaleUp.policies[0]!.periodSeconds).toBe(0.5);
  });
});
