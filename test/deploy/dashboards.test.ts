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
import { DASHBOARDS } from '../../deploy/generate/dashboards.js';
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

  it('overview, credentials, Redis and runtime, with unique uids and panel ids', () => {
    const all = [...dashboards().values()];
    expect(all.map((d) => d.uid).sort()).toEqual(['kiro-gateway-credentials', 'kiro-gateway-overview', 'kiro-gateway-redis', 'kiro-gateway-runtime']);
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
      expect(rest.map((v) => v.name), file).toEqual(['namespace', 'pod']);
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
