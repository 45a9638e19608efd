/**
 * The Grafana dashboards: the committed JSON (deploy/ and the chart's copy) is what the generator in
 * deploy/generate/ makes (`npm run dashboards`), uses a `datasource` variable and no `__inputs`,
 * filters every query on the namespace and pod variables, names only metrics the gateway exports, and
 * holds no secret. test/deploy/prometheus-scrape.test.ts runs every query against real replicas.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARDS, KEY, KEY_METRICS } from '../../deploy/generate/dashboards.js';
import { generatedFiles } from '../../deploy/generate/outputs.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { parseProm } from '../observability/prom-parse.js';
import { ROOT, dashboardExprs, dashboards, familyOf, metricNames } from './promql.js';

describe('generated dashboards', () => {
  it('the committed files are current (run `npm run dashboards` after changing deploy/generate/ or the rules)', () => {
    const files = generatedFiles(ROOT);
    expect(files.size).toBe(DASHBOARDS.length * 2 + 1);
    for (const [path, content] of files) {
      expect(readFileSync(join(ROOT, path), 'utf8'), `${path} is stale: run npm run dashboards`).toBe(content);
    }
  });

  it('overview, credentials, client keys, Redis and runtime, with unique uids and panel ids', () => {
    const all = [...dashboards().values()];
    expect(all.map((d) => d.uid).sort()).toEqual([
      'kiro-gateway-client-keys',
      'kiro-gateway-credentials',
      'kiro-gateway-overview',
      'kiro-gateway-redis',
      'kiro-gateway-runtime',
    ]);
    for (const d of all) {
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size, d.uid).toBe(ids.length);
      expect(d.panels.filter((p) => p.type !== 'row').length, d.uid).toBeGreaterThanOrEqual(6);
    }
  });

  it('pick their datasource through a `datasource` variable, never an __inputs block', () => {
    for (const [file, d] of dashboards()) {
      const text = JSON.stringify(d);
      expect(d.__inputs, file).toBeUndefined();
      expect(text, file).not.toMatch(/\$\{DS_/);
      const [first, ...rest] = d.templating.list;
      expect(first, file).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
      expect(rest.map((v) => v.name), file).toEqual(d.uid === 'kiro-gateway-client-keys' ? ['namespace', 'pod', 'key'] : ['namespace', 'pod']);
      for (const v of rest) expect(v.datasource?.uid, `${file} $${v.name}`).toBe('$datasource');
      for (const p of d.panels.filter((x) => x.type !== 'row')) {
        expect(p.datasource?.uid, `${file} / ${p.title}`).toBe('$datasource');
        expect(p.targets?.length, `${file} / ${p.title}`).toBeGreaterThan(0);
        for (const t of p.targets ?? []) expect(t.datasource?.uid, `${file} / ${p.title}`).toBe('$datasource');
      }
    }
  });

  it('filter every query on $namespace and $pod, and rate over $__rate_interval', () => {
    for (const { source, expr } of dashboardExprs()) {
      expect(expr, source).toContain('namespace=~"$namespace"');
      expect(expr, source).toContain('pod=~"$pod"');
      for (const range of expr.matchAll(/rate\([^[]*\[([^\]]+)\]/g)) expect(range[1], source).toBe('$__rate_interval');
    }
  });

  it('client keys: a `key` variable of key ids (All = any, later keys included) that every key-labelled query filters on', () => {
    const d = dashboards().get('kiro-gateway-client-keys.json')!;
    expect(d.templating.list.find((v) => v.name === 'key')).toMatchObject({
      type: 'query',
      multi: true,
      includeAll: true,
      allValue: '.*',
      query: 'label_values(kiro_gateway_client_key_requests_total{namespace=~"$namespace"}, key)',
    });
    const exprs = d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ source: p.title, expr: t.expr })));
    for (const { source, expr } of exprs) {
      const keyed = metricNames(expr).some((n) => KEY_METRICS.includes(n));
      if (keyed) expect(expr, source).toContain(KEY);
      else expect(expr, `${source}: ${expr} has no key label`).not.toContain('$key');
    }
    // Every other dashboard leaves $key alone (it has no such variable).
    for (const { source, expr } of dashboardExprs()) if (!source.startsWith('kiro-gateway-client-keys')) expect(expr, source).not.toContain('$key');
  });

  it('client keys: the panels an operator looks for, each on the metric it needs', () => {
    const d = dashboards().get('kiro-gateway-client-keys.json')!;
    const exprOf = (title: string) => {
      const p = d.panels.find((x) => x.title === title);
      expect(p, title).toBeDefined();
      return (p!.targets ?? []).map((t) => t.expr).join('\n');
    };
    expect(exprOf('Requests by key')).toMatch(/sum by \(key\) \(rate\(kiro_gateway_client_key_requests_total\{/);
    expect(exprOf('Error ratio by key')).toMatch(/client_key_errors_total.*\/.*client_key_requests_total/);
    expect(exprOf('Tokens by key and direction')).toContain('sum by (key, direction)');
    expect(exprOf('Credits per day by key')).toMatch(/increase\(kiro_gateway_client_key_credits_total\{[^}]*\}\[1d\]\)/);
    expect(exprOf('429s by limit')).toContain('sum by (limit) (rate(kiro_gateway_client_key_rate_limited_total{');
    const latency = exprOf('Limit check latency');
    expect(latency).toContain('histogram_quantile(0.5, sum by (le, scope) (rate(kiro_gateway_client_key_limit_check_seconds_bucket{');
    expect(latency).toContain('histogram_quantile(0.99, sum by (le, scope)');
    expect(exprOf('Local limits per pod')).toContain('max by (pod) (kiro_gateway_client_key_limits_local{');
    const top = d.panels.filter((p) => p.type !== 'row' && p.title.startsWith('Top keys'));
    expect(top.map((p) => p.type)).toEqual(['bargauge', 'bargauge', 'bargauge', 'bargauge']);
    for (const p of top) {
      for (const t of p.targets ?? []) {
        expect(t.expr, p.title).toMatch(/^topk\(10, sum by \(key\) \(increase\(.*\[\$__range\]\)\)\)$/);
        expect(t, p.title).toMatchObject({ instant: true, range: false });
      }
    }
  });

  it('name only metrics the gateway exports (offline check; the scrape test checks them on real replicas)', async () => {
    const exported = parseProm(await new GatewayMetrics({ collectDefault: true }).metricsText());
    const families = new Set(exported.types.keys());
    for (const { source, expr } of dashboardExprs()) {
      const names = metricNames(expr);
      expect(names.length, source).toBeGreaterThan(0);
      for (const name of names) expect(families.has(familyOf(name, families)), `${source}: ${name} is not exported`).toBe(true);
    }
  });

  it('hold no secret', () => {
    for (const [file, d] of dashboards()) {
      const text = JSON.stringify(d);
      expect(text, file).not.toMatch(/sk-[A-Za-z0-9]|Bearer |refreshToken|accessToken|clientSecret|password/i);
    }
  });

  it('are provisioned from files beside them (Grafana provisioning)', () => {
    const provider = parse(readFileSync(join(ROOT, 'deploy/grafana/provisioning/dashboards/kiro-gateway.yaml'), 'utf8'));
    expect(provider.apiVersion).toBe(1);
    expect(provider.providers[0]).toMatchObject({ type: 'file', options: { path: '/var/lib/grafana/dashboards/kiro-gateway' } });
    const ds = parse(readFileSync(join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yaml'), 'utf8'));
    expect(ds.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
  });
});
