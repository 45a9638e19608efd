/**
 * Every PromQL expression of every dashboard panel and alert rule, run against a real Prometheus
 * scraping three real gateway processes (sharing a real redis-server) while traffic runs: an ok
 * stream on every replica, a quota answer (credential disabled, failover), a 429 (cool-down,
 * failover), a 500 (retry), a forced token refresh, and steady traffic through a real nginx running
 * the compose trial's deploy/nginx/nginx.conf. Two managed client keys are created through the admin
 * API and used meanwhile: one with a limit of 2 requests a minute, sent far over it (429s), and one
 * whose every other answer ends with an error event (errors). Prometheus runs the compose trial's
 * deploy/prometheus/prometheus.yml (targets pointed at the real replicas, scrape interval 1 s): its
 * namespace and pod labels are what a Kubernetes ServiceMonitor gives, and it loads the alert rules.
 *
 * The rule of the check:
 * - a dashboard query (template variables substituted as Grafana would) must parse and return at
 *   least one series — so a panel naming a metric the gateway does not export fails;
 * - an alert expression must parse; since a healthy system legitimately fires nothing, each metric
 *   it names must return series instead (`kube_*` come from kube-state-metrics, which is not here:
 *   those rules are covered by the promtool unit tests in deploy/prometheus/tests/).
 * The Client keys dashboard's queries are run once more with `$key` set to the limited key's id. The
 * conditions of the client key alerts (their `expr`, without the `for`) hold for exactly the key
 * that earned them. Last, two outages are caused for real — every credential disabled, Redis
 * killed — and the conditions of KiroGatewayNoEnabledCredential, KiroGatewayRedisDegraded,
 * KiroGatewayRedisUnreachable and KiroGatewayClientKeyLimitsLocal turn true on the scraped series,
 * and the limit checks of the limited key are counted as local.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createSimulator, simScript, type Simulator } from '../../src/simulator/index.js';
import { startNginx, type NginxServer } from '../helpers/nginx.js';
import { startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { adminPost, message, sleep, startCluster, type Cluster } from '../helpers/replicas.js';
import { ADMIN_KEY, refreshTokenFor } from '../helpers/stack.js';
import { ROOT, RULES_FILE, alertRules, dashboardExprs, dashboards, metricNames, substitute } from './promql.js';

/** The namespace label deploy/prometheus/prometheus.yml gives the compose replicas. */
const NAMESPACE = 'compose';
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
let nginx: NginxServer;
let pods: string[];
/** The managed keys: over its limit of 2 requests a minute, and with failing answers. */
let limited: { id: string; secret: string };
let failing: { id: string; secret: string };

/** Answers that end with an error event after some text (a failed request of its key). */
const FAILING_PROMPT = `Fail ${simScript({ events: [{ text: 'Partial' }, { error: { code: 'InternalServerException', message: 'scripted failure' } }] })}`;

/** Creates a managed key through replica 0's admin API and waits until every replica knows it. */
async function createKey(body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const created = await adminPost(cluster.replicas[0].url, '/keys', body);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const { id } = created.body.key as { id: string };
  const deadline = Date.now() + 5_000;
  for (const r of cluster.replicas) {
    while ((await fetch(`${r.url}/api/admin/keys/${id}`, { headers: { 'x-api-key': ADMIN_KEY } })).status !== 200) {
      if (Date.now() > deadline) throw new Error(`${r.url} does not know key ${id} after 5 s`);
      await sleep(100);
    }
  }
  return { id, secret: created.body.secret as string };
}

/** A streamed Messages request with a managed key; resolves with the status once the body is read. */
async function withKey(url: string, secret: string, text = 'Say hello'): Promise<number> {
  const res = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': secret },
    body: JSON.stringify({ model: 'claude-sonnet-4-5-20250929', max_tokens: 64, stream: true, messages: [{ role: 'user', content: text }] }),
    signal: AbortSignal.timeout(30_000),
  });
  await res.text();
  return res.status;
}

/** The compose trial's Prometheus config, its targets (`gateway-N:8080`) mapped to the real replicas. */
function prometheusConfig(addresses: Record<string, string>): string {
  const config = parse(readFileSync(join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8'));
  config.global = { scrape_interval: SCRAPE_INTERVAL, evaluation_interval: SCRAPE_INTERVAL };
  config.rule_files = [RULES_FILE];
  for (const job of config.scrape_configs) {
    for (const s of job.static_configs) s.targets = s.targets.map((t: string) => addresses[t] ?? t);
  }
  return stringify(config);
}

async function traffic(): Promise<void> {
  const urls = cluster.replicas.map((r) => r.url);
  const ok = async (url: string) => {
    const res = await message(url, { stream: true });
    expect(res.status, String(res.body).slice(0, 300)).toBe(200);
  };
  for (const url of urls) await ok(url); // the first use refreshes credential 1
  sim.setAccount(A, { mode: 'quota-402', times: 1 }); // credential 1 disabled (QuotaExceeded), failover to 2
  await ok(urls[0]);
  sim.setAccount(B, { mode: 'rate-limit-429', times: 1 }); // credential 2 cools down, failover to 3
  await ok(urls[1]);
  // Retried. Sent to the replica that saw the 429: its own view has credential 2 cooling at once,
  // while the others learn of it with the next batched stats flush, and until then would serve
  // this from credential 2 and leave the 500 unused.
  sim.setAccount(C, { mode: 'server-error-500', times: 1 });
  await ok(urls[1]);
  expect((await adminPost(urls[0], '/credentials/3/refresh')).status).toBe(200);
  limited = await createKey({ name: 'prom-limited', owner: 'scrape test', limits: { requestsPerMinute: 2 } });
  failing = await createKey({ name: 'prom-failing', owner: 'scrape test' });
  // Steady traffic through the load balancer while Prometheus scrapes a few times more (6 s, and
  // 18 rounds at least on a slow machine). Each round also sends the limited key (over its limit
  // after 2) and the failing key (failing in every other group of 3 rounds) to the next replica,
  // so their series grow over several scrapes and pass each alert's floor (5 in 5 minutes).
  const statuses = { limited: [] as number[], failing: [] as number[] };
  const until = Date.now() + 6_000;
  for (let round = 0; Date.now() < until || round < 18; round++) {
    const url = urls[round % urls.length];
    const fails = Math.floor(round / urls.length) % 2 === 1;
    const [limitedStatus, failingStatus] = await Promise.all([
      withKey(url, limited.secret),
      withKey(url, failing.secret, fails ? FAILING_PROMPT : 'Say hello'),
      ok(nginx.url),
      ok(nginx.url),
      ok(nginx.url),
    ]);
    statuses.limited.push(limitedStatus);
    statuses.failing.push(failingStatus);
    expect((await message(nginx.url, { stream: false })).status).toBe(200);
    await sleep(100);
  }
  // A burst admits the bucket (2) plus what refills while it runs; every other request is refused.
  const admitted = statuses.limited.filter((s) => s === 200).length;
  expect(admitted, JSON.stringify(statuses.limited)).toBeGreaterThanOrEqual(2);
  expect(admitted, JSON.stringify(statuses.limited)).toBeLessThanOrEqual(3);
  expect(statuses.limited.filter((s) => s === 429).length, JSON.stringify(statuses.limited)).toBeGreaterThanOrEqual(10);
  // Errors after the head: the failing key's answers are all 200 with an SSE error event.
  expect(new Set(statuses.failing)).toEqual(new Set([200]));
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
  // The compose services gateway-1..3 are these replicas.
  pods = cluster.replicas.map((_, i) => `gateway-${i + 1}`);
  const addresses = Object.fromEntries(cluster.replicas.map((r, i) => [`${pods[i]}:8080`, new URL(r.url).host]));
  prometheus = await startPrometheus(prometheusConfig(addresses));
  nginx = await startNginx(readFileSync(join(ROOT, 'deploy/nginx/nginx.conf'), 'utf8'), addresses, 8080);
  await traffic();
  await sleep(2_500); // the last increments scraped and the rules evaluated
}, 120_000);

afterAll(async () => {
  await nginx?.stop();
  await prometheus?.stop();
  await cluster?.close();
  await sim?.close();
  await redis?.stop();
});

/** As Grafana substitutes them: every pod selected, `$key` at All (`.*`), the last hour as the range. */
const vars = (key = '.*') => ({ namespace: NAMESPACE, pod: `(${pods.join('|')})`, key, rateInterval: RATE_INTERVAL, range: '1h' });

describe('dashboards and alerts against a real Prometheus scraping real replicas', () => {
  it('scrapes every replica', async () => {
    const up = await prometheus.query('up{job="kiro-gateway"} == 1');
    expect(up.status === 'success' ? up.result.map((s) => s.metric.pod).sort() : up).toEqual(pods);
  });

  it('the load balancer (deploy/nginx/nginx.conf) spread the requests over every replica', async () => {
    const served = await prometheus.query('sum by (pod) (kiro_gateway_http_requests_total{route="/v1/messages", status="200"}) > 5');
    expect(served.status === 'success' ? served.result.map((s) => s.metric.pod).sort() : served, nginx.output()).toEqual(pods);
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

  it('the managed keys produced their series, labelled by key id, never by key', async () => {
    const expectSome = async (expr: string) => {
      const answer = await prometheus.query(expr);
      expect(answer.status === 'success' && answer.result.length > 0, `${expr} → ${JSON.stringify(answer)}`).toBe(true);
    };
    await expectSome(`sum(kiro_gateway_client_key_rate_limited_total{key="${limited.id}", limit="requestsPerMinute"}) >= 10`);
    await expectSome(`sum(kiro_gateway_client_key_requests_total{key="${limited.id}"}) >= 2`);
    await expectSome(`sum(kiro_gateway_client_key_errors_total{key="${failing.id}"}) >= 3`);
    await expectSome(`sum(kiro_gateway_client_key_tokens_total{key="${failing.id}", direction="output"}) > 0`);
    await expectSome(`sum(kiro_gateway_client_key_credits_total{key="${failing.id}"}) > 0`);
    await expectSome('sum(kiro_gateway_client_key_requests_total{key="config"}) > 0');
    await expectSome('sum(kiro_gateway_client_key_limit_check_seconds_count{scope="shared"}) > 0');
    const keys = await prometheus.api('label/key/values');
    expect([...keys.data].sort()).toEqual(['config', failing.id, limited.id].sort());
    // The secrets appear in no series at all.
    const series = await prometheus.api(`series?${new URLSearchParams({ 'match[]': '{__name__=~"kiro_gateway_client_key_.*"}' })}`);
    expect(series.data.length).toBeGreaterThan(0);
    const text = JSON.stringify(series.data);
    expect(text).not.toContain(limited.secret);
    expect(text).not.toContain(failing.secret);
  });

  it('a query naming a metric the gateway does not export returns nothing (so the checks below can fail)', async () => {
    const answer = await prometheus.query(substitute(`sum(rate(kiro_gateway_not_exported_total{namespace=~"$namespace", pod=~"$pod"}[$__rate_interval]))`, vars()));
    expect(answer).toEqual({ status: 'success', result: [] });
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

  it('the Client keys dashboard, with $key set to one key, returns series for every query', async () => {
    const d = dashboards().get('kiro-gateway-client-keys.json')!;
    const failures: string[] = [];
    for (const p of d.panels) {
      for (const t of p.targets ?? []) {
        const concrete = substitute(t.expr, vars(limited.id));
        const answer = await prometheus.query(concrete);
        if (answer.status === 'error') failures.push(`${p.title}: ${answer.error}\n  ${concrete}`);
        else if (answer.result.length === 0) failures.push(`${p.title}: no series\n  ${concrete}`);
        else if (/\bkey\b/.test(t.legendFormat ?? '')) {
          const others = answer.result.filter((r) => r.metric.key !== limited.id);
          if (others.length > 0) failures.push(`${p.title}: series of other keys ${JSON.stringify(others.map((r) => r.metric))}`);
        }
      }
    }
    expect(failures).toEqual([]);
    // The top-keys bars over the range rank the keys by what they did.
    const top = d.panels.find((p) => p.title === 'Top keys by 429s')!.targets![0]!.expr;
    const ranked = await prometheus.query(substitute(top, vars()));
    expect(ranked.status === 'success' ? ranked.result.map((r) => r.metric.key) : ranked).toEqual([limited.id]);
  });

  it('the client key alert conditions hold for exactly the key that earned them', async () => {
    const expr = new Map(alertRules().map((r) => [r.alert, r.expr]));
    const holdFor = async (alert: string) => {
      const answer = await prometheus.query(expr.get(alert)!);
      expect(answer.status, JSON.stringify(answer)).toBe('success');
      return answer.status === 'success' ? answer.result.map((r) => `${r.metric.namespace}/${r.metric.key}`).sort() : [];
    };
    expect(await holdFor('KiroGatewayClientKeyRateLimited')).toEqual([`${NAMESPACE}/${limited.id}`]);
    expect(await holdFor('KiroGatewayClientKeyErrorRatioHigh')).toEqual([`${NAMESPACE}/${failing.id}`]);
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

  it('the alert conditions turn true when the outages happen for real (no credential, Redis gone)', async () => {
    const expr = new Map(alertRules().map((r) => [r.alert, r.expr]));
    const firesFor = async (alert: string, labels: (m: Record<string, string>) => string, want: string[]) => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const answer = await prometheus.query(expr.get(alert)!);
        const got = answer.status === 'success' ? answer.result.map((r) => labels(r.metric)).sort() : [];
        if (JSON.stringify(got) === JSON.stringify(want)) return;
        if (Date.now() > deadline) throw new Error(`${alert}: expected ${JSON.stringify(want)}, got ${JSON.stringify(answer)}`);
        await sleep(500);
      }
    };
    for (const id of [2, 3]) expect((await adminPost(cluster.replicas[0].url, `/credentials/${id}/disabled`, { disabled: true })).status).toBe(200);
    await firesFor('KiroGatewayNoEnabledCredential', (m) => m.namespace, [NAMESPACE]);

    redis.kill9();
    await firesFor('KiroGatewayRedisDegraded', (m) => m.pod, pods);
    await firesFor('KiroGatewayRedisUnreachable', (m) => m.namespace, [NAMESPACE]);
    await firesFor('KiroGatewayClientKeyLimitsLocal', (m) => m.pod, pods);
    // Limited requests are now checked by each replica alone (they fail after: no credential is left).
    for (const r of cluster.replicas) await withKey(r.url, limited.secret);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const local = await prometheus.query('sum by (pod) (kiro_gateway_client_key_limit_check_seconds_count{scope="local"}) > 0');
      const got = local.status === 'success' ? local.result.map((r) => r.metric.pod).sort() : [];
      if (JSON.stringify(got) === JSON.stringify(pods)) break;
      if (Date.now() > deadline) throw new Error(`local limit checks: ${JSON.stringify(local)}`);
      await sleep(500);
    }
  }, 60_000);
});
