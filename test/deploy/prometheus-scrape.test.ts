/**
 * Every PromQL expression of every dashboard panel and alert rule, run against a real Prometheus
 * scraping three real gateway processes (sharing a real redis-server) while traffic runs: an ok
 * stream on every replica, a quota answer (credential disabled, failover), a 429 (cool-down,
 * failover), a 500 (retry), a forced token refresh. Prometheus scrapes every second with the labels a
 * Kubernetes ServiceMonitor gives (namespace, pod) and loads the alert rules itself.
 *
 * The rule of the check:
 * - a dashboard query (template variables substituted as Grafana would) must parse and return at
 *   least one series — so a panel naming a metric the gateway does not export fails;
 * - an alert expression must parse; since a healthy system legitimately fires nothing, each metric
 *   it names must return series instead (`kube_*` come from kube-state-metrics, which is not here:
 *   those rules are covered by the promtool unit tests in deploy/prometheus/tests/).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { adminPost, message, sleep, startCluster, type Cluster } from '../helpers/replicas.js';
import { refreshTokenFor } from '../helpers/stack.js';
import { RULES_FILE, alertRules, dashboardExprs, metricNames, substitute } from './promql.js';

const NAMESPACE = 'kiro-test';
const SCRAPE_INTERVAL = '1s';
/** What Grafana's `$__rate_interval` becomes with a 1 s scrape interval and a short range. */
const RATE_INTERVAL = '10s';
const A = refreshTokenFor('prom-a');
const B = refreshTokenFor('prom-b');
const C = refreshTokenFor('prom-c');

let redis: RedisServer;
let sim: Simulator;
let cluster: Cluster;
let prometheus: PrometheusServer;
let pods: string[];

function prometheusConfig(targets: { pod: string; address: string }[]): string {
  const statics = targets
    .map((t) => `      - targets: ['${t.address}']\n        labels: { namespace: '${NAMESPACE}', pod: '${t.pod}' }`)
    .join('\n');
  return [
    'global:',
    `  scrape_interval: ${SCRAPE_INTERVAL}`,
    `  evaluation_interval: ${SCRAPE_INTERVAL}`,
    'rule_files:',
    `  - '${RULES_FILE}'`,
    'scrape_configs:',
    '  - job_name: kiro-gateway',
    '    metrics_path: /metrics',
    '    static_configs:',
    statics,
    '',
  ].join('\n');
}

async function traffic(): Promise<void> {
  const urls = cluster.replicas.map((r) => r.url);
  const ok = async (url: string) => {
    const res = await message(url, { stream: true });
    expect(res.status, String(res.body).slice(0, 300)).toBe(200);
  };
  for (const url of urls) await ok(url); // first use refreshes credential 1 (others wait on the lock)
  sim.setAccount(A, { mode: 'quota-402', times: 1 }); // credential 1 disabled (QuotaExceeded), failover to 2
  await ok(urls[0]);
  sim.setAccount(B, { mode: 'rate-limit-429', times: 1 }); // credential 2 cools down, failover to 3
  await ok(urls[1]);
  sim.setAccount(C, { mode: 'server-error-500', times: 1 }); // retried
  await ok(urls[2]);
  expect((await adminPost(urls[0], '/credentials/3/refresh')).status).toBe(200);
  // Steady traffic while Prometheus scrapes a few times more.
  const until = Date.now() + 6_000;
  let i = 0;
  while (Date.now() < until) {
    await Promise.all(urls.map((url) => ok(url)));
    await message(urls[i++ % urls.length], { stream: false });
    await sleep(100);
  }
}

beforeAll(async () => {
  redis = await startRedis();
  sim = await createSimulator();
  cluster = await startCluster({
    n: 3,
    simUrl: sim.url,
    redisUrl: redis.url,
    credentials: [
      { id: 1, refreshToken: A, authMethod: 'social', priority: 0 },
      { id: 2, refreshToken: B, authMethod: 'social', priority: 1 },
      { id: 3, refreshToken: C, authMethod: 'social', priority: 2 },
    ],
    env: { KIRO_METRICS_ENABLED: 'true', KIRO_REDIS_KEY_PREFIX: 'prom-scrape:' },
  });
  pods = cluster.replicas.map((_, i) => `gw${i}`);
  prometheus = await startPrometheus(
    prometheusConfig(cluster.replicas.map((r, i) => ({ pod: pods[i], address: new URL(r.url).host }))),
  );
  await traffic();
  await sleep(2_500); // the last increments scraped and the rules evaluated
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await cluster?.close();
  await sim?.close();
  await redis?.stop();
});

const vars = () => ({ namespace: NAMESPACE, pod: `(${pods.join('|')})`, rateInterval: RATE_INTERVAL });

describe('dashboards and alerts against a real Prometheus scraping real replicas', () => {
  it('scrapes every replica', async () => {
    const up = await prometheus.query('up{job="kiro-gateway"} == 1');
    expect(up.status === 'success' ? up.result.map((s) => s.metric.pod).sort() : up).toEqual(pods);
  });

  it('the traffic produced the failure, failover, retry and refresh series', async () => {
    const expectSome = async (expr: string) => {
      const answer = await prometheus.query(expr);
      expect(answer.status === 'success' && answer.result.length > 0, `${expr} → ${JSON.stringify(answer)}`).toBe(true);
    };
    await expectSome('sum(kiro_gateway_upstream_calls_total{outcome="quota"}) > 0');
    await expectSome('sum(kiro_gateway_upstream_calls_total{outcome="rate_limited"}) > 0');
    await expectSome('sum(kiro_gateway_upstream_calls_total{outcome="server_error"}) > 0');
    await expectSome('sum(kiro_gateway_credential_failovers_total) > 0');
    await expectSome('sum(kiro_gateway_upstream_retries_total) > 0');
    await expectSome('sum(kiro_gateway_token_refreshes_total{outcome="ok"}) > 0');
    await expectSome('max(kiro_gateway_credentials_disabled{reason="QuotaExceeded"}) == 1');
    await expectSome('sum(kiro_gateway_redis_command_duration_seconds_count) > 0');
  });

  it('every dashboard query parses and returns series', async () => {
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThan(40);
    const failures: string[] = [];
    for (const { source, expr } of exprs) {
      const concrete = substitute(expr, vars());
      const answer = await prometheus.query(concrete);
      if (answer.status === 'error') failures.push(`${source}: ${answer.error}\n  ${concrete}`);
      else if (answer.result.length === 0) failures.push(`${source}: no series\n  ${concrete}`);
    }
    expect(failures).toEqual([]);
  });

  it('every alert expression parses, and each metric it reads has series (kube-state-metrics aside)', async () => {
    const failures: string[] = [];
    for (const rule of alertRules()) {
      const answer = await prometheus.query(rule.expr);
      if (answer.status === 'error') failures.push(`${rule.alert}: ${answer.error}`);
      for (const name of metricNames(rule.expr)) {
        if (name.startsWith('kube_')) continue;
        const selector = name === 'up' || name.startsWith('process_') ? `${name}{job=~".*kiro-gateway.*"}` : name;
        const series = await prometheus.query(selector);
        if (series.status !== 'success' || series.result.length === 0) failures.push(`${rule.alert}: ${selector} has no series`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('Prometheus loaded the rule file and evaluates every rule without error', async () => {
    const body = await prometheus.api('rules');
    const rules = (body.data.groups as { rules: { name: string; health: string; lastError?: string }[] }[]).flatMap((g) => g.rules);
    expect(rules.map((r) => r.name).sort()).toEqual(alertRules().map((r) => r.alert).sort());
    for (const r of rules) expect(r.health, `${r.name}: ${r.lastError}`).toBe('ok');
  });
});
