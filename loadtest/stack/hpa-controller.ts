/**
 * The autoscaling/v2 HorizontalPodAutoscaler decision for one Pods metric with an AverageValue
 * target, as kube-controller-manager computes it (pkg/controller/podautoscaler):
 *
 * 1. usage ratio = average metric over the pods / target; within the tolerance (10 %) of 1 the
 *    recommendation is the current count, else ceil(ratio × pods reporting);
 * 2. stabilization: the recommendation is held between the lowest recommendation of the scale-up
 *    window and the highest of the scale-down window (recommendations are remembered with their time);
 * 3. rate limits: the `behavior` policies bound the change against the replica count at the start of
 *    each policy's period (scale events are remembered), `selectPolicy` picks the most (Max) or least
 *    (Min) permissive policy, then min/maxReplicas clamp.
 *
 * Time is whatever clock `now` is in (seconds); the play feeds it scaled time.
 */

export interface HpaPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

export interface HpaScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: HpaPolicy[];
}

export interface HpaSpec {
  minReplicas: number;
  maxReplicas: number;
  /** Target average value of the metric per pod. */
  targetPerPod: number;
  behavior: { scaleUp: HpaScalingRules; scaleDown: HpaScalingRules };
  /** Default 0.1, the controller's --horizontal-pod-autoscaler-tolerance. */
  tolerance?: number;
}

export interface HpaDecision {
  /** Replicas the HPA sets on the Deployment. */
  desired: number;
  /** ceil(ratio × pods) before stabilization and rate limits. */
  recommendation: number;
  averageMetric: number;
  reason: string;
}

interface Timed {
  at: number;
  value: number;
}

export class HpaController {
  private readonly recommendations: Timed[] = [];
  private readonly scaleUpEvents: Timed[] = [];
  private readonly scaleDownEvents: Timed[] = [];
  private readonly tolerance: number;

  constructor(readonly spec: HpaSpec) {
    this.tolerance = spec.tolerance ?? 0.1;
  }

  /**
   * One sync: `current` is the Deployment's replica count, `podMetrics` the metric of each pod that
   * reports it, `now` in seconds. Returns the new desired count (and records it as a scale event when it changed).
   */
  decide(current: number, podMetrics: readonly number[], now: number): HpaDecision {
    const sum = podMetrics.reduce((s, v) => s + v, 0);
    const average = podMetrics.length > 0 ? sum / podMetrics.length : 0;
    const ratio = average / this.spec.targetPerPod;
    const recommendation =
      podMetrics.length === 0 || Math.abs(ratio - 1) <= this.tolerance ? current : Math.ceil(ratio * podMetrics.length);

    const stabilized = this.stabilize(current, recommendation, now);
    const desired = this.limitRate(current, stabilized, now);
    if (desired > current) this.scaleUpEvents.push({ at: now, value: desired - current });
    if (desired < current) this.scaleDownEvents.push({ at: now, value: current - desired });
    const reason =
      desired !== stabilized ? 'rate limited (behavior policies, min/max)' : stabilized !== recommendation ? 'held by the stabilization window' : 'recommendation';
    return { desired, recommendation, averageMetric: average, reason };
  }

  private stabilize(current: number, recommendation: number, now: number): number {
    const { scaleUp, scaleDown } = this.spec.behavior;
    this.recommendations.push({ at: now, value: recommendation });
    const longest = Math.max(scaleUp.stabilizationWindowSeconds, scaleDown.stabilizationWindowSeconds);
    while (this.recommendations.length > 0 && this.recommendations[0]!.at < now - longest) this.recommendations.shift();
    let upLimit = recommendation;
    let downLimit = recommendation;
    for (const r of this.recommendations) {
      if (r.at > now - scaleUp.stabilizationWindowSeconds) upLimit = Math.min(upLimit, r.value);
      if (r.at > now - scaleDown.stabilizationWindowSeconds) downLimit = Math.max(downLimit, r.value);
    }
    let result = current;
    if (result < upLimit) result = upLimit;
    if (result > downLimit) result = downLimit;
    return result;
  }

  private changedWithin(events: Timed[], periodSeconds: number, now: number): number {
    return events.filter((e) => e.at > now - periodSeconds).reduce((s, e) => s + e.value, 0);
  }

  private limitRate(current: number, desired: number, now: number): number {
    const { minReplicas, maxReplicas, behavior } = this.spec;
    if (desired > current) {
      const rules = behavior.scaleUp;
      if (rules.selectPolicy === 'Disabled') return current;
      let limit = rules.selectPolicy === 'Min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
      for (const p of rules.policies) {
        const periodStart = current - this.changedWithin(this.scaleUpEvents, p.periodSeconds, now) + this.changedWithin(this.scaleDownEvents, p.periodSeconds, now);
        const proposed = p.type === 'Pods' ? periodStart + p.value : Math.ceil(periodStart * (1 + p.value / 100));
        limit = rules.selectPolicy === 'Min' ? Math.min(limit, proposed) : Math.max(limit, proposed);
      }
      return Math.max(current, Math.min(desired, limit, maxReplicas));
    }
    if (desired < current) {
      const rules = behavior.scaleDown;
      if (rules.selectPolicy === 'Disabled') return current;
      let limit = rules.selectPolicy === 'Min' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
      for (const p of rules.policies) {
        const periodStart = current + this.changedWithin(this.scaleDownEvents, p.periodSeconds, now) - this.changedWithin(this.scaleUpEvents, p.periodSeconds, now);
        const proposed = p.type === 'Pods' ? periodStart - p.value : Math.floor(periodStart * (1 - p.value / 100));
        // Min = the policy allowing the smallest change = the highest floor.
        limit = rules.selectPolicy === 'Min' ? Math.max(limit, proposed) : Math.min(limit, proposed);
      }
      return Math.min(current, Math.max(desired, limit, minReplicas));
    }
    return Math.min(Math.max(desired, minReplicas), maxReplicas);
  }
}

/** The spec with every time (windows, policy periods) divided by `factor`, for a short play. */
export function scaleTime(spec: HpaSpec, factor: number): HpaSpec {
  const rules = (r: HpaScalingRules): HpaScalingRules => ({
    ...r,
    stabilizationWindowSeconds: r.stabilizationWindowSeconds / factor,
    policies: r.policies.map((p) => ({ ...p, periodSeconds: p.periodSeconds / factor })),
  });
  return { ...spec, behavior: { scaleUp: rules(spec.behavior.scaleUp), scaleDown: rules(spec.behavior.scaleDown) } };
}
