/**
 * The Prometheus alert rules: `promtool check rules` accepts them, `promtool test rules` fires each
 * alert from synthetic series and shows healthy series fire nothing (deploy/prometheus/tests/), every
 * alert follows the mixin conventions with a runbook section that exists in the README, the chart's
 * copy is identical, and the rules read only metrics the gateway exports (or Prometheus /
 * kube-state-metrics ones, named in the rule file's header).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REFRESH_FAILURES, UPSTREAM_FAILURES } from '../../deploy/generate/dashboards.js';
import { RULES_CHART_COPY } from '../../deploy/generate/outputs.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { parseProm } from '../observability/prom-parse.js';
import { requireTool } from '../helpers/tools.js';
import { ROOT, RULES_FILE, RULE_TESTS_DIR, alertRules, familyOf, metricNames } from './promql.js';

const PROMTOOL_HINT = '`apt-get install prometheus` (Debian; it brings promtool)';
const RUNBOOK_BASE = 'https://github.com/kiro-gateway/kiro-gateway/blob/main/README.md#';
/** Metrics that come from Prometheus itself or kube-state-metrics, not from the gateway. */
const EXTERNAL = /^(up|kube_.*)$/;

function promtool(...args: string[]): { status: number | null; output: string } {
  const res = spawnSync(requireTool('promtool', PROMTOOL_HINT), args, { cwd: join(ROOT, 'deploy', 'prometheus'), encoding: 'utf8', timeout: 60_000 });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}

/** GitHub's anchor of a Markdown heading. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-');
}

describe('alert rules', () => {
  it('pass promtool check rules', () => {
    const res = promtool('check', 'rules', RULES_FILE);
    expect(res.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(res.status, res.output).toBe(0);
  });

  it('pass their promtool unit tests (each alert fires from synthetic series; healthy series fire nothing)', () => {
    const files = readdirSync(RULE_TESTS_DIR).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(0);
    const res = promtool('test', 'rules', ...files.map((f) => join(RULE_TESTS_DIR, f)));
    expect(res.status, res.output).toBe(0);
    expect(res.output).toContain('SUCCESS');
  });

  it('every alert has a unit test where it fires and is checked silent on healthy series', () => {
    const fired = new Set<string>();
    const silentOnHealthy = new Set<string>();
    for (const file of readdirSync(RULE_TESTS_DIR).filter((f) => f.endsWith('.yaml'))) {
      const doc = parse(readFileSync(join(RULE_TESTS_DIR, file), 'utf8')) as {
        tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
      };
      for (const t of doc.tests) {
        for (const a of t.alert_rule_test ?? []) {
          if (a.exp_alerts.length > 0) fired.add(a.alertname);
          else if (/healthy/.test(t.name)) silentOnHealthy.add(a.alertname);
        }
      }
    }
    const names = alertRules().map((r) => r.alert);
    expect([...fired].sort()).toEqual([...names].sort());
    expect([...silentOnHealthy].sort()).toEqual([...names].sort());
  });

  it('follow the mixin conventions, with a README runbook section per alert', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const anchors = new Set([...readme.matchAll(/^#{2,4} (.+)$/gm)].map((m) => anchor(m[1])));
    const rules = alertRules();
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'KiroGatewayNoEnabledCredential',
        'KiroGatewayUpstreamErrorRatioHigh',
        'KiroGatewayTokenRefreshFailing',
        'KiroGatewayAllCredentialsRateLimited',
        'KiroGatewayRedisUnreachable',
        'KiroGatewayRedisDegraded',
        'KiroGatewayTimeToFirstByteHigh',
        'KiroGatewayPodsNotReady',
      ]),
    );
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const r of rules) {
      expect(r.alert, r.alert).toMatch(/^KiroGateway[A-Z][A-Za-z0-9]+$/);
      expect(r.for, r.alert).toMatch(/^\d+m$/);
      expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toMatch(/^[A-Z].*\.$/);
      expect(r.annotations?.summary, `${r.alert}: summary is static`).not.toContain('{{');
      // absent() has no labels to template; every other description names what fired.
      if (!r.expr.startsWith('absent(')) expect(r.annotations?.description, `${r.alert}: description is templated`).toMatch(/\{\{ \$(labels|value)/);
      else expect(r.annotations?.description, r.alert).toBeTruthy();
      expect(r.annotations?.runbook_url, r.alert).toBe(`${RUNBOOK_BASE}${r.alert.toLowerCase()}`);
      expect(anchors.has(r.alert.toLowerCase()), `README has no runbook section "### ${r.alert}"`).toBe(true);
    }
  });

  it('classify failures as the gateway does (same outcome sets as the dashboards)', () => {
    const byName = new Map(alertRules().map((r) => [r.alert, r.expr]));
    expect(byName.get('KiroGatewayUpstreamErrorRatioHigh')).toContain(`outcome=~"${UPSTREAM_FAILURES}"`);
    expect(byName.get('KiroGatewayTokenRefreshFailing')).toContain(`outcome=~"${REFRESH_FAILURES}"`);
  });

  it('read only metrics the gateway exports, besides up and kube-state-metrics', async () => {
    const families = new Set(parseProm(await new GatewayMetrics({ collectDefault: true }).metricsText()).types.keys());
    for (const r of alertRules()) {
      const names = metricNames(r.expr);
      expect(names.length, r.alert).toBeGreaterThan(0);
      for (const name of names) {
        if (EXTERNAL.test(name)) continue;
        expect(families.has(familyOf(name, families)), `${r.alert}: ${name} is not exported`).toBe(true);
      }
    }
  });

  it('ship identically in the Helm chart (charts/kiro-gateway/files/prometheus-rules.yaml)', () => {
    expect(readFileSync(join(ROOT, RULES_CHART_COPY), 'utf8')).toBe(readFileSync(RULES_FILE, 'utf8'));
    expect(Object.keys(parse(readFileSync(join(ROOT, RULES_CHART_COPY), 'utf8')))).toEqual(['groups']);
  });
});
