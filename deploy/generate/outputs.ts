/**
 * What `npm run dashboards` writes: the dashboard JSON files (deploy/grafana/dashboards/ and the
 * chart's files/dashboards/) and the chart's copy of the alert rules. The test that the committed
 * files are current compares each with {@link generatedFiles}.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DASHBOARDS } from './dashboards.js';
import { buildDashboard } from './panels.js';

/** Where the rules are written by hand, and where the chart's PrometheusRule template reads them. */
export const RULES_SOURCE = 'deploy/prometheus/rules/kiro-gateway.rules.yaml';
export const RULES_CHART_COPY = 'charts/kiro-gateway/files/prometheus-rules.yaml';
export const DASHBOARD_DIRS = ['deploy/grafana/dashboards', 'charts/kiro-gateway/files/dashboards'] as const;

/** Repository-relative path → file content. */
export function generatedFiles(root: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const spec of DASHBOARDS) {
    const json = `${JSON.stringify(buildDashboard(spec), null, 2)}\n`;
    for (const dir of DASHBOARD_DIRS) files.set(`${dir}/${spec.uid}.json`, json);
  }
  files.set(RULES_CHART_COPY, readFileSync(join(root, RULES_SOURCE), 'utf8'));
  return files;
}
