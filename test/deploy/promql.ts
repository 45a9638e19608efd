/**
 * Helpers for the deploy tests: the PromQL of the committed dashboards and alert rules, the metric
 * names an expression reads, and template-variable substitution.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DASHBOARD_DIR = join(ROOT, 'deploy', 'grafana', 'dashboards');
export const RULES_FILE = join(ROOT, 'deploy', 'prometheus', 'rules', 'kiro-gateway.rules.yaml');
export const RULE_TESTS_DIR = join(ROOT, 'deploy', 'prometheus', 'tests');

/** Where a query comes from, for failure messages. */
export interface SourcedExpr {
  source: string;
  expr: string;
}

/** One alerting rule as the rule file spells it. */
export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface DashboardJson {
  uid: string;
  title: string;
  panels: {
    id: number;
    type: string;
    title: string;
    datasource?: { uid?: string; type?: string };
    targets?: { expr: string; legendFormat?: string; instant?: boolean; datasource?: { uid?: string } }[];
  }[];
  templating: { list: { name: string; type: string; query?: unknown; datasource?: { uid?: string } }[] };
  [key: string]: unknown;
}

/** The committed dashboard JSON files, by file name. */
export function dashboards(): Map<string, DashboardJson> {
  const out = new Map<string, DashboardJson>();
  for (const file of readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json')).sort()) {
    out.set(file, JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) as DashboardJson);
  }
  return out;
}

/** Every panel query of every dashboard. */
export function dashboardExprs(): SourcedExpr[] {
  const out: SourcedExpr[] = [];
  for (const [file, d] of dashboards()) {
    for (const p of d.panels) for (const t of p.targets ?? []) out.push({ source: `${file} / ${p.title}`, expr: t.expr });
  }
  return out;
}

/** Every alerting rule of the rule file. */
export function alertRules(): AlertRule[] {
  const doc = parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: AlertRule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

/** Metric names an expression selects (string literals removed first, so label values never count). */
export function metricNames(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const names = code.match(/\b(?:kiro_gateway_[a-z0-9_]+|nodejs_[a-z0-9_]+|process_[a-z0-9_]+|kube_[a-z0-9_]+|up)\b(?!\s*\()/g) ?? [];
  return [...new Set(names)];
}

/** The metric family a sample name belongs to (`_bucket`, `_sum`, `_count` of a histogram removed). */
export function familyOf(name: string, families: ReadonlySet<string>): string {
  if (families.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return families.has(base) ? base : name;
}

/** Replaces the dashboards' template variables with concrete values (`$key` of the client keys dashboard, `$__range` of its instant queries). */
export function substitute(expr: string, vars: { namespace: string; pod: string; key: string; rateInterval: string; range: string }): string {
  return expr
    .replaceAll('$__rate_interval', vars.rateInterval)
    .replaceAll('$__range', vars.range)
    .replaceAll('$namespace', vars.namespace)
    .replaceAll('$pod', vars.pod)
    .replaceAll('$key', vars.key);
}
