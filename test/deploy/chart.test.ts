/**
 * The Helm chart through real `helm`: lint, render every ci/ scenario, validate the objects offline
 * with kubernetes-models, and assert what breaks real charts (probe paths and ports, env names,
 * grace arithmetic, checksums, secrets kept out of ConfigMaps, refused values).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARDS } from '../../deploy/generate/dashboards.js';
import { generateConfigTable, loadConfig } from '../../src/config.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { CHART_DIR, ciScenarios, helm, one, render, tryRender, type K8sObject } from './helm.js';
import { containerEnv, dataSources, type DataSources } from './pod-env.js';
import { runCommand } from './process.js';
import { ROOT } from '../helpers/replicas.js';
import { validateObject } from './validate-models.js';

/** Every KIRO_* variable the gateway's convict schema reads. */
const GATEWAY_ENV = [...generateConfigTable().matchAll(/^\| `[^`]+` \| `(KIRO_[A-Z0-9_]+)`/gm)].map((m) => m[1]!);
/** Settings the chart sets from its own values (secrets, addresses, paths, shutdown, Redis). */
const CHART_MANAGED = [
  'KIRO_HOST', 'KIRO_PORT', 'KIRO_CLIENT_API_KEY', 'KIRO_ADMIN_API_KEY', 'KIRO_PROXY_PASSWORD', 'KIRO_COUNT_TOKENS_API_KEY',
  'KIRO_CONFIG', 'KIRO_CREDENTIALS', 'KIRO_API_KEY', 'KIRO_REDIS_URL', 'KIRO_REDIS_SENTINELS', 'KIRO_REDIS_SENTINEL_NAME',
  'KIRO_REDIS_CLUSTER_NODES', 'KIRO_REDIS_PASSWORD', 'KIRO_REDIS_KEY_PREFIX', 'KIRO_REDIS_LOCK_NODES', 'KIRO_METRICS_PORT', 'KIRO_SHUTDOWN_GRACE_MS', 'KIRO_SHUTDOWN_READINESS_DELAY_MS',
];
/** Non-KIRO variables the chart defines for `$(…)` expansion only. */
const HELPER_ENV: string[] = [];

const scenarios = ciScenarios();
const rendered = new Map<string, K8sObject[]>();
let stack: Stack;

const ciFile = (name: string) => join(CHART_DIR, 'ci', name);

/** The Secrets ci/existing-secret-values.yaml expects to exist in the namespace (made outside the chart). */
const EXISTING_SECRETS: DataSources['secrets'] = {
  'kiro-secrets': { 'client-key': 'sk-existing-client-key', credentials: '[]' },
  'redis-auth': { password: 'existing-redis-password' },
};
/** ConfigMaps and Secrets a scenario's pods see: the rendered ones plus pre-existing Secrets. */
function sourcesOf(objects: K8sObject[]): DataSources {
  const sources = dataSources(objects);
  return { configMaps: sources.configMaps, secrets: { ...EXISTING_SECRETS, ...sources.secrets } };
}
const gatewayContainer = (objects: K8sObject[]) => one(objects, 'Deployment').spec.template.spec.containers[0];

beforeAll(async () => {
  const entries = await Promise.all([['default', [] as string[]] as const, ...scenarios.map((s) => [s, [ciFile(s)]] as const)].map(
    async ([name, files]) => [name, await render({ valuesFiles: [...files] })] as const,
  ));
  for (const [name, objects] of entries) rendered.set(name, objects);
  stack = await startStack();
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

describe('helm lint --strict', () => {
  it('passes for the default values and every ci scenario', async () => {
    const results = await Promise.all(['', ...scenarios].map((s) => helm(['lint', '--strict', CHART_DIR, ...(s ? ['-f', ciFile(s)] : [])])));
    for (const [i, res] of results.entries()) expect(res.code, `${['default', ...scenarios][i]}:\n${res.output}`).toBe(0);
  });
});

describe('rendered objects', () => {
  it('covers the scenarios the issue lists', () => {
    expect(scenarios).toEqual(expect.arrayContaining([
      'external-redis-values.yaml', 'sentinel-values.yaml', 'in-chart-redis-values.yaml', 'hpa-cpu-values.yaml', 'hpa-inflight-values.yaml',
      'keda-values.yaml', 'ingress-values.yaml', 'httproute-values.yaml', 'existing-secret-values.yaml', 'single-replica-persistence-values.yaml',
    ]));
  });

  it('are valid against the Kubernetes and CRD schemas (kubernetes-models), in every scenario', async () => {
    for (const [name, objects] of rendered) {
      for (const object of objects) await expect(validateObject(object), name).resolves.toBeUndefined();
    }
  });

  it('probe paths the gateway answers, on the port it listens on', async () => {
    for (const [name, objects] of rendered) {
      const container = gatewayContainer(objects);
      const env = containerEnv(container, sourcesOf(objects));
      const http = container.ports.find((p: { name: string }) => p.name === 'http');
      expect(String(http.containerPort), name).toBe(env.KIRO_PORT);
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        expect(container[probe].httpGet.port, `${name} ${probe}`).toBe('http');
        const res = await fetch(`${stack.url}${container[probe].httpGet.path}`);
        expect(res.status, `${name} ${probe} ${container[probe].httpGet.path}`).toBe(200);
      }
      expect(container.livenessProbe.httpGet.path).toBe('/healthz');
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
      expect(container.livenessProbe.timeoutSeconds).toBeGreaterThanOrEqual(5);
      expect(container.livenessProbe.failureThreshold).toBeGreaterThanOrEqual(5);
    }
  });

  it('set only environment variables the gateway knows, and the gateway accepts them', () => {
    for (const [name, objects] of rendered) {
      const container = gatewayContainer(objects);
      const configMap = one(objects, 'ConfigMap', one(objects, 'Deployment').metadata.name);
      const names = [...Object.keys(configMap.data), ...container.env.map((e: { name: string }) => e.name)];
      for (const env of names) expect(GATEWAY_ENV.includes(env) || HELPER_ENV.includes(env), `${name}: ${env}`).toBe(true);
      // What the container would see (secrets included) loads without a configuration error.
      const env = containerEnv(container, sourcesOf(objects));
      const config = loadConfig({ argv: [], env, warn: () => {} });
      expect(config.port).toBe(Number(env.KIRO_PORT));
      expect(config.host).toBe('0.0.0.0');
    }
  });

  it("accept in `config` exactly the gateway's settings the chart does not manage itself", () => {
    const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8'));
    const allowed = Object.keys(schema.properties.config.properties).sort();
    expect(allowed).toEqual(GATEWAY_ENV.filter((e) => !CHART_MANAGED.includes(e)).sort());
    for (const managed of CHART_MANAGED) expect(GATEWAY_ENV, managed).toContain(managed);
  });

  it('derive terminationGracePeriodSeconds from the gateway shutdown settings', async () => {
    const cases: Array<{ set: Record<string, string>; expected: number }> = [
      { set: {}, expected: Math.ceil((600_000 + 5_000) / 1000) + 10 },
      { set: { 'shutdown.graceMs': '1500', 'shutdown.readinessDelayMs': '0', 'shutdown.marginSeconds': '0' }, expected: 2 },
      { set: { 'shutdown.graceMs': '20000', 'shutdown.readinessDelayMs': '1001', 'shutdown.marginSeconds': '5' }, expected: 27 },
    ];
    for (const c of cases) {
      const objects = await render({ set: c.set });
      const spec = one(objects, 'Deployment').spec.template.spec;
      expect(spec.terminationGracePeriodSeconds, JSON.stringify(c.set)).toBe(c.expected);
      const env = containerEnv(spec.containers[0], dataSources(objects));
      const config = loadConfig({ argv: [], env, warn: () => {} });
      expect(Math.ceil((config.shutdown.graceMs + config.shutdown.readinessDelayMs) / 1000)).toBeLessThanOrEqual(spec.terminationGracePeriodSeconds);
    }
  });

  it('change the checksum annotations when settings or secrets change, so pods roll', async () => {
    const annotations = async (set: Record<string, string>) => one(await render({ set }), 'Deployment').spec.template.metadata.annotations;
    const base = await annotations({});
    const config = await annotations({ 'config.KIRO_LOG_LEVEL': 'debug' });
    const secret = await annotations({ 'secrets.clientApiKey': 'sk-other' });
    expect(config['checksum/config']).not.toBe(base['checksum/config']);
    expect(config['checksum/secret']).toBe(base['checksum/secret']);
    expect(secret['checksum/secret']).not.toBe(base['checksum/secret']);
    expect(secret['checksum/config']).toBe(base['checksum/config']);
  });

  it('keep secrets out of every ConfigMap', () => {
    const objects = rendered.get('external-redis-values.yaml')!;
    const secretValues = ['sk-ci-client-key', 'sk-ci-admin-key', 'ci-refresh-token', 'ci-redis-password'];
    for (const cm of objects.filter((o) => o.kind === 'ConfigMap')) {
      for (const s of secretValues) expect(JSON.stringify(cm)).not.toContain(s);
    }
    const env = containerEnv(gatewayContainer(objects), dataSources(objects));
    expect(env.KIRO_REDIS_URL).toBe('redis://redis.data.svc.cluster.local:6379');
    expect(env.KIRO_REDIS_PASSWORD).toBe('ci-redis-password');
    expect(env.KIRO_CLIENT_API_KEY).toBe('sk-ci-client-key');
  });

  it('pass the Redis password as KIRO_REDIS_PASSWORD in Sentinel mode too (no URL to carry it)', async () => {
    const objects = await render({ valuesFiles: [ciFile('sentinel-values.yaml')], set: { 'redis.auth.password': 'ci-sentinel-redis-password' } });
    const env = containerEnv(gatewayContainer(objects), dataSources(objects));
    expect(env.KIRO_REDIS_PASSWORD).toBe('ci-sentinel-redis-password');
    expect(env.KIRO_REDIS_SENTINELS).toBeDefined();
    for (const cm of objects.filter((o) => o.kind === 'ConfigMap')) expect(JSON.stringify(cm)).not.toContain('ci-sentinel-redis-password');
  });

  it('pass redis.lockNodes as KIRO_REDIS_LOCK_NODES (the password comes from redis.auth), and refuse a password in a node URL', async () => {
    const set = { 'redis.mode': 'standalone', 'redis.url': 'redis://r:6379', 'redis.auth.password': 'ci-lock-password' };
    const objects = await render({ set: { ...set, 'redis.lockNodes': '{redis://l1:6379,redis://l2:6379,rediss://l3:6380}' } });
    const env = containerEnv(gatewayContainer(objects), dataSources(objects));
    expect(env.KIRO_REDIS_LOCK_NODES).toBe('redis://l1:6379,redis://l2:6379,rediss://l3:6380');
    expect(env.KIRO_REDIS_PASSWORD).toBe('ci-lock-password');
    expect(loadConfig({ argv: [], env, warn: () => {} }).redis.lockNodes).toBe(env.KIRO_REDIS_LOCK_NODES);
    const without = await render({ set });
    expect(containerEnv(gatewayContainer(without), dataSources(without)).KIRO_REDIS_LOCK_NODES).toBeUndefined();
    const withPassword = await tryRender({ set: { ...set, 'redis.lockNodes': '{redis://:pw@l1:6379}' } });
    expect(withPassword.code).not.toBe(0);
    expect(withPassword.output).toMatch(/lockNodes/);
  });

  it('run without Redis as one pod that owns a PVC, seeded once by an init container', () => {
    const objects = rendered.get('single-replica-persistence-values.yaml')!;
    const deployment = one(objects, 'Deployment');
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy.type).toBe('Recreate');
    const pvc = one(objects, 'PersistentVolumeClaim');
    const volumes = deployment.spec.template.spec.volumes;
    expect(volumes.find((v: { name: string }) => v.name === 'data').persistentVolumeClaim.claimName).toBe(pvc.metadata.name);
    const env = containerEnv(gatewayContainer(objects), dataSources(objects));
    expect(env.KIRO_CREDENTIALS).toBe('/data/credentials.json');
    expect(gatewayContainer(objects).volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
    expect(objects.some((o) => o.kind === 'PodDisruptionBudget' || o.kind === 'HorizontalPodAutoscaler')).toBe(false);
  });

  it("the init container's node script copies credentials.json only when the volume has none", () => {
    const init = one(rendered.get('single-replica-persistence-values.yaml')!, 'Deployment').spec.template.spec.initContainers[0];
    expect(init.command.slice(0, 2)).toEqual(['node', '-e']);
    const root = mkdtempSync(join(tmpdir(), 'kiro-seed-'));
    mkdirSync(join(root, 'seed'));
    mkdirSync(join(root, 'data'));
    writeFileSync(join(root, 'seed', 'credentials.json'), '{"refreshToken":"from-secret"}');
    // The script's absolute mount paths point into the temp root (the only rewrite).
    const script = (init.command[2] as string).replaceAll("'/seed/", `'${root}/seed/`).replaceAll("'/data/", `'${root}/data/`);
    const run = () => spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(run().stdout).toMatch(/seeded/);
    expect(readFileSync(join(root, 'data', 'credentials.json'), 'utf8')).toBe('{"refreshToken":"from-secret"}');
    writeFileSync(join(root, 'data', 'credentials.json'), '{"refreshToken":"rotated"}');
    expect(run().stdout).toMatch(/keeping/);
    expect(readFileSync(join(root, 'data', 'credentials.json'), 'utf8')).toBe('{"refreshToken":"rotated"}');
  });

  it("the helm test pod's node script passes against a ready gateway", async () => {
    const pod = rendered.get('default')!.find((o) => o.kind === 'Pod' && o.metadata.annotations?.['helm.sh/hook'] === 'test')!;
    const [command, flag, script] = pod.spec.containers[0].command as string[];
    expect([command, flag]).toEqual(['node', '-e']);
    const local = script!.replace(/http:\/\/[^/"]+\/readyz/, `${stack.url}/readyz`);
    expect(local).not.toBe(script);
    // Asynchronously: the gateway answering it runs in this process.
    const res = await runCommand(process.execPath, ['-e', local], ROOT, 20_000);
    expect(res.code, res.output).toBe(0);
    expect(res.stdout).toMatch(/^200 /);
  });

  it('scale on CPU with the stream-protecting behaviour by default', () => {
    const hpa = one(rendered.get('hpa-cpu-values.yaml')!, 'HorizontalPodAutoscaler');
    expect(hpa.spec).toMatchObject({ minReplicas: 2, maxReplicas: 10 });
    expect(hpa.spec.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }]);
    expect(hpa.spec.behavior.scaleDown).toEqual({ stabilizationWindowSeconds: 600, selectPolicy: 'Min', policies: [{ type: 'Pods', value: 1, periodSeconds: 120 }] });
    expect(hpa.spec.behavior.scaleUp.stabilizationWindowSeconds).toBe(0);
    expect(one(rendered.get('hpa-cpu-values.yaml')!, 'Deployment').spec.replicas).toBeUndefined();
    expect(one(rendered.get('hpa-cpu-values.yaml')!, 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1, unhealthyPodEvictionPolicy: 'IfHealthyBudget' });
  });

  it('scale on in-flight streams per pod through the Pods metric', () => {
    const objects = rendered.get('hpa-inflight-values.yaml')!;
    expect(one(objects, 'HorizontalPodAutoscaler').spec.metrics).toEqual([
      { type: 'Pods', pods: { metric: { name: 'kiro_gateway_inflight_streams' }, target: { type: 'AverageValue', averageValue: '40' } } },
    ]);
    const monitor = one(objects, 'ServiceMonitor');
    expect(monitor.metadata.labels!.release).toBe('kube-prometheus-stack');
    expect(monitor.spec.endpoints[0]).toMatchObject({ port: 'metrics', path: '/metrics' });
    expect(one(objects, 'Service').spec.ports.map((p: { name: string }) => p.name)).toEqual(['http', 'metrics']);
  });

  it('scale with KEDA on in-flight streams, passing the behaviour through, and no HPA of its own', () => {
    const objects = rendered.get('keda-values.yaml')!;
    expect(objects.some((o) => o.kind === 'HorizontalPodAutoscaler')).toBe(false);
    const so = one(objects, 'ScaledObject');
    expect(so.spec).toMatchObject({ minReplicaCount: 2, maxReplicaCount: 20 });
    expect(so.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds).toBe(600);
    expect(so.spec.triggers[0]).toMatchObject({ type: 'prometheus', metricType: 'AverageValue', metadata: { threshold: '50' } });
    expect(so.spec.triggers[0].metadata.query).toBe('sum(kiro_gateway_inflight_streams{namespace="kiro",pod=~"kiro-kiro-gateway-.*"})');
  });

  it('give ingress-nginx the SSE annotations', () => {
    const ingress = one(rendered.get('ingress-values.yaml')!, 'Ingress');
    expect(ingress.metadata.annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
      'nginx.ingress.kubernetes.io/proxy-request-buffering': 'off',
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
      'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
      'nginx.ingress.kubernetes.io/proxy-body-size': '50m',
    });
    expect(ingress.spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'kiro-kiro-gateway', port: { name: 'http' } });
  });

  it('route through a Gateway API HTTPRoute with long timeouts', () => {
    const route = one(rendered.get('httproute-values.yaml')!, 'HTTPRoute');
    expect(route.spec.parentRefs).toEqual([{ name: 'public', namespace: 'gateway-system' }]);
    expect(route.spec.rules[0].backendRefs).toEqual([{ name: 'kiro-kiro-gateway', port: 80 }]);
    expect(route.spec.rules[0].timeouts.request).toBe('3600s');
  });

  it('use an existing Secret with custom key names and make none of its own', () => {
    const objects = rendered.get('existing-secret-values.yaml')!;
    expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
    const container = gatewayContainer(objects);
    const ref = (name: string) => container.env.find((e: { name: string }) => e.name === name).valueFrom.secretKeyRef;
    expect(ref('KIRO_CLIENT_API_KEY')).toMatchObject({ name: 'kiro-secrets', key: 'client-key' });
    expect(ref('KIRO_REDIS_PASSWORD')).toMatchObject({ name: 'redis-auth', key: 'password' });
    expect(one(objects, 'Deployment').spec.template.metadata.annotations['checksum/secret']).toBeUndefined();
  });

  it('run the in-chart Redis as a StatefulSet with AOF on a PVC', () => {
    const objects = rendered.get('in-chart-redis-values.yaml')!;
    const sts = one(objects, 'StatefulSet');
    const redis = sts.spec.template.spec.containers[0];
    expect(redis.image).toMatch(/^redis:/);
    expect(redis.args).toEqual(expect.arrayContaining(['--appendonly', 'yes', '--dir', '/data', '--requirepass', '$(REDIS_PASSWORD)']));
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('256Mi');
    const env = containerEnv(gatewayContainer(objects), dataSources(objects));
    expect(env.KIRO_REDIS_URL).toBe('redis://kiro-kiro-gateway-redis:6379');
    expect(env.KIRO_REDIS_PASSWORD).toBe('ci-redis-password');
    expect(one(objects, 'NetworkPolicy').spec.egress.some((r: any) => r.to?.[0]?.podSelector?.matchLabels?.['app.kubernetes.io/component'] === 'redis')).toBe(true);
  });

  it('harden the pod: non-root, read-only root fs, no capabilities, seccomp', () => {
    const spec = one(rendered.get('default')!, 'Deployment').spec.template.spec;
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.containers[0].securityContext).toEqual({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(spec.containers[0].volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
  });
});

describe('dashboards and alert rules from files/', () => {
  const dashboardsDir = join(CHART_DIR, 'files', 'dashboards');
  let chartCopy: string;

  beforeAll(() => {
    chartCopy = join(mkdtempSync(join(tmpdir(), 'kiro-chart-')), 'kiro-gateway');
    cpSync(CHART_DIR, chartCopy, { recursive: true });
    mkdirSync(join(chartCopy, 'files', 'dashboards'), { recursive: true });
    writeFileSync(join(chartCopy, 'files', 'dashboards', 'zz-test-overview.json'), JSON.stringify({ title: 'Test {{ not a template }}', uid: 'zz-test' }));
    writeFileSync(
      join(chartCopy, 'files', 'prometheus-rules.yaml'),
      'groups:\n  - name: zz-test\n    rules:\n      - alert: ZzTest\n        expr: up == 0\n        annotations:\n          description: "{{ $labels.pod }} is down"\n',
    );
  });

  it('render one sidecar-labelled ConfigMap per dashboard file, namespace and labels settable', async () => {
    const objects = await render({ chartDir: chartCopy, set: { 'dashboards.enabled': 'true', 'dashboards.namespace': 'monitoring', 'dashboards.labels.team': 'ai' } });
    const configMaps = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.includes('-dashboard-'));
    const files = readdirSync(join(chartCopy, 'files', 'dashboards')).filter((f) => f.endsWith('.json'));
    expect(configMaps).toHaveLength(files.length);
    const test = configMaps.find((c) => c.metadata.name === 'kiro-kiro-gateway-dashboard-zz-test-overview')!;
    expect(test.metadata.namespace).toBe('monitoring');
    expect(test.metadata.labels).toMatchObject({ grafana_dashboard: '1', team: 'ai' });
    expect(JSON.parse(test.data['zz-test-overview.json'])).toEqual({ title: 'Test {{ not a template }}', uid: 'zz-test' });
  });

  it('render no dashboard ConfigMap for the chart as committed beyond its files, and none when disabled', async () => {
    const count = existsSync(dashboardsDir) ? readdirSync(dashboardsDir).filter((f) => f.endsWith('.json')).length : 0;
    const enabled = await render({ set: { 'dashboards.enabled': 'true' } });
    expect(enabled.filter((o) => o.metadata.name.includes('-dashboard-'))).toHaveLength(count);
    const disabled = await render({ chartDir: chartCopy });
    expect(disabled.filter((o) => o.metadata.name.includes('-dashboard-'))).toHaveLength(0);
  });

  it('render the PrometheusRule from the rule file only when the CRD exists or is trusted', async () => {
    const rule = async (args: string[], set: Record<string, string>) =>
      (await render({ chartDir: chartCopy, set: { 'prometheusRule.enabled': 'true', ...set }, extraArgs: args })).filter((o) => o.kind === 'PrometheusRule');
    expect(await rule([], {})).toHaveLength(0);
    const [trusted] = await rule([], { 'prometheusRule.trustCRDsExist': 'true', 'prometheusRule.labels.release': 'kps' });
    expect(trusted!.metadata.labels!.release).toBe('kps');
    expect(trusted!.spec.groups).toEqual([{ name: 'zz-test', rules: [{ alert: 'ZzTest', expr: 'up == 0', annotations: { description: '{{ $labels.pod }} is down' } }] }]);
    await validateObject(trusted!);
    expect(await rule(['--api-versions', 'monitoring.coreos.com/v1/PrometheusRule'], {})).toHaveLength(1);
  });

  it('ship the committed dashboards (client keys included) and the whole rule file, verbatim', async () => {
    const objects = await render({ set: { 'dashboards.enabled': 'true', 'prometheusRule.enabled': 'true', 'prometheusRule.trustCRDsExist': 'true' } });
    const configMaps = new Map(objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.includes('-dashboard-')).map((o) => [o.metadata.name, o]));
    expect([...configMaps.keys()].sort()).toEqual(DASHBOARDS.map((d) => `kiro-kiro-gateway-dashboard-${d.uid}`).sort());
    expect(configMaps.has('kiro-kiro-gateway-dashboard-kiro-gateway-client-keys')).toBe(true);
    for (const d of DASHBOARDS) {
      const data = configMaps.get(`kiro-kiro-gateway-dashboard-${d.uid}`)!.data[`${d.uid}.json`];
      expect(JSON.parse(data), d.uid).toEqual(JSON.parse(readFileSync(join(dashboardsDir, `${d.uid}.json`), 'utf8')));
    }
    const rule = one(objects, 'PrometheusRule');
    const groups = parse(readFileSync(join(CHART_DIR, 'files', 'prometheus-rules.yaml'), 'utf8')).groups;
    expect(rule.spec.groups).toEqual(groups);
    const keyRules = rule.spec.groups.find((g: { name: string }) => g.name === 'kiro-gateway.client-keys');
    expect(keyRules.rules.map((r: { alert: string }) => r.alert)).toEqual([
      'KiroGatewayClientKeyLimitsLocal',
      'KiroGatewayClientKeyRateLimited',
      'KiroGatewayClientKeyErrorRatioHigh',
    ]);
    // Prometheus's templates reach the rule untouched by Helm's.
    expect(keyRules.rules[1].annotations.description).toContain('{{ $labels.key }}');
    await validateObject(rule);
  });

  it('gate the ServiceMonitor on the CRD the same way', async () => {
    const monitors = async (args: string[]) => (await render({ set: { 'serviceMonitor.enabled': 'true' }, extraArgs: args })).filter((o) => o.kind === 'ServiceMonitor');
    expect(await monitors([])).toHaveLength(0);
    expect(await monitors(['--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor'])).toHaveLength(1);
  });
});

describe('refused values', () => {
  const refused = async (set: Record<string, string>) => {
    const res = await tryRender({ set });
    expect(res.code, res.output).not.toBe(0);
    return res.output;
  };

  it('3 replicas without Redis, naming what to set', async () => {
    const out = await refused({ replicaCount: '3' });
    expect(out).toMatch(/replicaCount: 3 needs a shared store/);
    expect(out).toMatch(/redis\.mode/);
  });

  it('autoscaling without Redis', async () => {
    expect(await refused({ 'autoscaling.enabled': 'true' })).toMatch(/autoscaling\.enabled needs a shared store/);
  });

  it('no Redis and no persistence: rotated tokens would be lost', async () => {
    expect(await refused({ 'persistence.enabled': 'false' })).toMatch(/persistence\.enabled: true/);
  });

  it('a negative grace period', async () => {
    expect(await refused({ 'shutdown.graceMs': '-1' })).toMatch(/shutdown\/graceMs.*minimum/);
  });

  it('unknown keys where the schema is closed', async () => {
    expect(await refused({ replicas: '3' })).toMatch(/additional properties 'replicas' not allowed/);
    expect(await refused({ 'autoscaling.targetCPU': '50' })).toMatch(/additional properties 'targetCPU' not allowed/);
    expect(await refused({ 'config.KIRO_NOT_A_SETTING': 'x' })).toMatch(/additional properties 'KIRO_NOT_A_SETTING' not allowed/);
    expect(await refused({ 'config.KIRO_PORT': '9000' })).toMatch(/additional properties 'KIRO_PORT' not allowed/);
  });

  it('an autoscaling mode that does not exist, and min above max', async () => {
    const redis = { 'redis.mode': 'standalone', 'redis.url': 'redis://r:6379', 'autoscaling.enabled': 'true' };
    expect(await refused({ ...redis, 'autoscaling.mode': 'vpa' })).toMatch(/autoscaling\/mode/);
    expect(await refused({ ...redis, 'autoscaling.minReplicas': '5', 'autoscaling.maxReplicas': '3' })).toMatch(/minReplicas \(5\) is greater than/);
  });

  it('Redis modes without their addresses', async () => {
    expect(await refused({ 'redis.mode': 'standalone' })).toMatch(/needs redis\.url/);
    expect(await refused({ 'redis.mode': 'cluster' })).toMatch(/needs redis\.cluster\.nodes/);
  });
});
