/**
 * The chart judged by a real Kubernetes API server (kube-apiserver on kine) with the real
 * kube-controller-manager: every ci/ scenario is installed, upgraded with a config change (the
 * Deployment controller rolls a new ReplicaSet), rolled back and uninstalled; values that pass Helm
 * but not the server are refused by the server. Stand-ins: kine/SQLite for etcd; no kubelet, so
 * Pods stay Pending (test/deploy/podspec.test.ts runs their spec).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART_DIR, ciScenarios } from './helm.js';
import { installCrds, startKubeCluster, type KubeCluster } from './kube.js';

let cluster: KubeCluster;

beforeAll(async () => {
  cluster = await startKubeCluster();
  await installCrds(cluster);
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
});

interface ReplicaSet {
  metadata: { name: string; annotations: Record<string, string>; labels: Record<string, string>; ownerReferences?: Array<{ kind: string; name: string }> };
  spec: { template: { metadata: { annotations: Record<string, string> } } };
}

async function replicaSets(namespace: string, deployment: string): Promise<ReplicaSet[]> {
  const list = await cluster.get(`/apis/apps/v1/namespaces/${namespace}/replicasets`);
  return (list.items as ReplicaSet[]).filter((rs) => rs.metadata.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === deployment));
}

/** Secrets that ci/existing-secret-values.yaml expects to find (made outside the chart). */
async function createExistingSecrets(namespace: string): Promise<void> {
  await cluster.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  for (const [name, data] of Object.entries({ 'kiro-secrets': { 'client-key': 'sk-existing', credentials: '[]' }, 'redis-auth': { password: 'pw' } })) {
    const res = await cluster.request('POST', `/api/v1/namespaces/${namespace}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: data });
    expect(res.status, JSON.stringify(res.json)).toBe(201);
  }
}

describe('every ci scenario on a real API server', () => {
  const scenarios = ciScenarios();

  it.each(scenarios)('%s: install, upgrade rolls a new ReplicaSet, rollback, uninstall', async (scenario) => {
    const namespace = `ci-${scenario.replace(/-values\.yaml$/, '')}`.slice(0, 63);
    const release = 'kg';
    const deployment = 'kg-kiro-gateway';
    const values = join(CHART_DIR, 'ci', scenario);
    if (scenario === 'existing-secret-values.yaml') await createExistingSecrets(namespace);

    const install = await cluster.helm(['install', release, CHART_DIR, '-n', namespace, '--create-namespace', '-f', values]);
    expect(install.code, install.output).toBe(0);
    expect(install.stdout).toMatch(/kiro-gateway 0\.1\.0 is installed/);
    const hooks = await cluster.helm(['get', 'hooks', release, '-n', namespace]);
    expect(hooks.stdout).toMatch(/helm\.sh\/hook: test/);
    const first = await cluster.until('the first ReplicaSet', async () => {
      const sets = await replicaSets(namespace, deployment);
      return sets.length === 1 ? sets[0] : undefined;
    });
    const deploy = await cluster.get(`/apis/apps/v1/namespaces/${namespace}/deployments/${deployment}`);
    expect(first.spec.template.metadata.annotations['checksum/config']).toBe(deploy.spec.template.metadata.annotations['checksum/config']);

    const upgrade = await cluster.helm(['upgrade', release, CHART_DIR, '-n', namespace, '--reuse-values', '--set', 'config.KIRO_LOG_LEVEL=debug']);
    expect(upgrade.code, upgrade.output).toBe(0);
    const second = await cluster.until('a second ReplicaSet after the config change', async () => {
      const sets = await replicaSets(namespace, deployment);
      return sets.find((rs) => rs.metadata.name !== first.metadata.name);
    });
    expect(second.spec.template.metadata.annotations['checksum/config']).not.toBe(first.spec.template.metadata.annotations['checksum/config']);
    const configMap = await cluster.get(`/api/v1/namespaces/${namespace}/configmaps/${deployment}`);
    expect(configMap.data.KIRO_LOG_LEVEL).toBe('debug');

    const rollback = await cluster.helm(['rollback', release, '1', '-n', namespace]);
    expect(rollback.code, rollback.output).toBe(0);
    // The controller goes back to the first ReplicaSet (its template again), as revision 3.
    await cluster.until('the first ReplicaSet to become the current revision again', async () => {
      const sets = await replicaSets(namespace, deployment);
      const back = sets.find((rs) => rs.metadata.name === first.metadata.name);
      return back?.metadata.annotations['deployment.kubernetes.io/revision'] === '3' ? true : undefined;
    });
    expect((await cluster.get(`/api/v1/namespaces/${namespace}/configmaps/${deployment}`)).data.KIRO_LOG_LEVEL).not.toBe('debug');

    const uninstall = await cluster.helm(['uninstall', release, '-n', namespace]);
    expect(uninstall.code, uninstall.output).toBe(0);
    expect((await cluster.request('GET', `/apis/apps/v1/namespaces/${namespace}/deployments/${deployment}`)).status).toBe(404);
    if (scenario === 'single-replica-persistence-values.yaml') {
      // helm.sh/resource-policy: keep — the volume with the rotated refresh tokens outlives the release.
      expect((await cluster.request('GET', `/api/v1/namespaces/${namespace}/persistentvolumeclaims/${deployment}-data`)).status).toBe(200);
    }
  }, 120_000);
});

describe('values Helm accepts but the API server refuses', () => {
  const refusedInstall = async (name: string, args: string[]) => {
    const res = await cluster.helm(['install', name, CHART_DIR, '-n', `refused-${name}`, '--create-namespace', ...args]);
    expect(res.code, res.output).not.toBe(0);
    return res.output;
  };

  it('an invalid resource quantity', async () => {
    const out = await refusedInstall('quantity', ['-f', join(CHART_DIR, 'ci', 'external-redis-values.yaml'), '--set', 'resources.requests.cpu=lots']);
    expect(out).toMatch(/quantities must match the regular expression/);
  });

  it('an HTTPRoute hostname the Gateway API CRD rejects', async () => {
    const out = await refusedInstall('hostname', ['-f', join(CHART_DIR, 'ci', 'httproute-values.yaml'), '--set', 'httpRoute.hostnames[0]=Not_A_Host']);
    expect(out).toMatch(/HTTPRoute.*hostnames/s);
  });

  it('a KEDA trigger list the ScaledObject CRD rejects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiro-keda-'));
    writeFileSync(join(dir, 'bad.yaml'), 'autoscaling:\n  keda:\n    extraTriggers:\n      - {metadata: {}}\n');
    const out = await refusedInstall('keda', ['-f', join(CHART_DIR, 'ci', 'keda-values.yaml'), '-f', join(dir, 'bad.yaml')]);
    expect(out).toMatch(/ScaledObject.*triggers.*type/s);
  });
});
