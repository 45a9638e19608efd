/**
 * The HPA spec the chart renders, read from charts/kiro-gateway/values.yaml (`autoscaling`:
 * minReplicas, maxReplicas, inflightStreams.targetPerPod, behavior), so the play scales with the
 * settings users install.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../../test/helpers/replicas.js';
import type { HpaPolicy, HpaScalingRules, HpaSpec } from './hpa-controller.js';

export const CHART_VALUES = join(ROOT, 'charts', 'kiro-gateway', 'values.yaml');

function rules(raw: any, where: string): HpaScalingRules {
  if (!raw || !Array.isArray(raw.policies)) throw new Error(`${where}.policies missing in ${CHART_VALUES}`);
  return {
    stabilizationWindowSeconds: Number(raw.stabilizationWindowSeconds ?? 0),
    selectPolicy: raw.selectPolicy ?? 'Max',
    policies: raw.policies.map(
      (p: any): HpaPolicy => ({ type: p.type, value: Number(p.value), periodSeconds: Number(p.periodSeconds) }),
    ),
  };
}

/** Parses the `autoscaling` block of a values.yaml text. */
export function hpaSpecFromValues(yamlText: string): HpaSpec {
  const a = parse(yamlText)?.autoscaling;
  if (!a) throw new Error('values have no autoscaling block');
  return {
    minReplicas: Number(a.minReplicas),
    maxReplicas: Number(a.maxReplicas),
    targetPerPod: Number(a.inflightStreams?.targetPerPod),
    behavior: { scaleUp: rules(a.behavior?.scaleUp, 'behavior.scaleUp'), scaleDown: rules(a.behavior?.scaleDown, 'behavior.scaleDown') },
  };
}

export function chartHpaSpec(): HpaSpec {
  return hpaSpecFromValues(readFileSync(CHART_VALUES, 'utf8'));
}
