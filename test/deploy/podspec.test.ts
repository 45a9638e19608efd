/**
 * The pod spec, run for real. The 3-replica + Redis scenario (ci/external-redis-values.yaml) is
 * installed on a real kube-apiserver; the Deployment and ReplicaSet controllers of the real
 * kube-controller-manager create its Pods (Pending: there is no kubelet). Each Pod, as the API server
 * returns it, is started as a gateway process (pod-run.ts says what stands in for the container and
 * what is rewritten), against a real redis-server and the Kiro simulator, behind a real nginx
 * configured from the chart's Ingress annotations. Anthropic SDK traffic goes through nginx; one pod
 * gets SIGTERM and its streams must finish within the rendered terminationGracePeriodSeconds.
 *
 * Values added to the scenario (not rewrites): redis.url points at the test's redis-server,
 * config.KIRO_UPSTREAM_* at the simulator, the credential's refresh token is one the simulator
 * knows, and the Ingress is enabled so its annotations come from the API server too.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { ensureBuilt } from '../helpers/replicas.js';
import { refreshTokenFor } from '../helpers/stack.js';
import { CHART_DIR } from './helm.js';
import { startKubeCluster, type KubeCluster } from './kube.js';
import { startNginx, type Nginx } from './nginx.js';
import { dataSources } from './pod-env.js';
import { runPod, type PodSpec, type RunningPod } from './pod-run.js';

const NAMESPACE = 'pods';
const CLIENT_KEY = 'sk-ci-client-key';
const REDIS_PASSWORD = 'ci-redis-password';
/** Simulated token rate: 12 chunks 300 ms apart, so a stream lasts ~3.6 s. */
const CHUNKS = 12;
const CHUNK_DELAY_MS = 300;

let cluster: KubeCluster;
let redis: RedisServer;
let sim: Simulator;
let nginx: Nginx;
let pods: RunningPod[] = [];
let specs: PodSpec[] = [];
let ingressAnnotations: Record<string, string>;

beforeAll(async () => {
  const built = ensureBuilt();
  [cluster, redis, sim] = await Promise.all([
    startKubeCluster(),
    startRedis(),
    createSimulator({ chunkDelayMs: CHUNK_DELAY_MS, defaultChunks: CHUNKS, defaultText: 'one two three four five six seven eight nine ten eleven twelve' }),
  ]);
  const admin = new Redis(redis.url);
  await admin.config('SET', 'requirepass', REDIS_PASSWORD);
  admin.disconnect();

  const dir = mkdtempSync(join(tmpdir(), 'kiro-podspec-'));
  const overrides = join(dir, 'test-values.yaml');
  writeFileSync(
    overrides,
    JSON.stringify({
      redis: { url: `redis://127.0.0.1:${redis.port}` },
      secrets: { credentialsJson: JSON.stringify([{ refreshToken: refreshTokenFor('podspec'), authMethod: 'social' }]) },
      config: {
        KIRO_UPSTREAM_API_BASE_URL: sim.url,
        KIRO_UPSTREAM_SOCIAL_REFRESH_URL: `${sim.url}/refreshToken`,
        KIRO_UPSTREAM_IDC_REFRESH_URL: `${sim.url}/token`,
      },
      ingress: { enabled: true },
    }),
  );
  const install = await cluster.helm(['install', 'kg', CHART_DIR, '-n', NAMESPACE, '--create-namespace', '-f', join(CHART_DIR, 'ci', 'external-redis-values.yaml'), '-f', overrides]);
  if (install.code !== 0) throw new Error(install.output);

  specs = await cluster.until('3 Pods created by the controllers', async () => {
    const list = await cluster.get(`/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=app.kubernetes.io/component%3Dgateway`);
    return list.items.length === 3 ? (list.items as PodSpec[]) : undefined;
  });
  const [configMaps, secrets, ingress] = await Promise.all([
    cluster.get(`/api/v1/namespaces/${NAMESPACE}/configmaps`),
    cluster.get(`/api/v1/namespaces/${NAMESPACE}/secrets`),
    cluster.get(`/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/ingresses/kg-kiro-gateway`),
  ]);
  ingressAnnotations = ingress.metadata.annotations;
  const sources = dataSources([
    ...configMaps.items.map((o: object) => ({ kind: 'ConfigMap', ...o })),
    ...secrets.items.map((o: object) => ({ kind: 'Secret', ...o })),
  ]);
  await built;
  const root = mkdtempSync(join(tmpdir(), 'kiro-pods-'));
  pods = await Promise.all(specs.map((spec) => runPod(spec, sources, root)));
  await Promise.all(pods.map((p) => p.waitReady(30_000)));
  nginx = await startNginx(pods.map((p) => p.port), ingressAnnotations);
}, 240_000);

afterAll(async () => {
  for (const p of pods) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await nginx?.stop();
  await sim?.close();
  await redis?.stop();
  await cluster?.stop();
});

const client = () => new Anthropic({ baseURL: nginx.url, apiKey: CLIENT_KEY, maxRetries: 0 });
const ask = (content: string) => client().messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 256, messages: [{ role: 'user', content }] }).finalMessage();

describe('the Pods the controller created, run as their spec says', () => {
  it('are three distinct pods from one ReplicaSet, each ready on the rendered readiness probe and sharing Redis', async () => {
    expect(new Set(specs.map((s) => s.metadata.name)).size).toBe(3);
    const owners = specs.map((s) => (s.metadata as { ownerReferences?: Array<{ kind: string; name: string }> }).ownerReferences?.[0]);
    expect(owners.every((o) => o?.kind === 'ReplicaSet' && o.name === owners[0]!.name)).toBe(true);
    for (const pod of pods) {
      const ready = await fetch(`${pod.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { store: { kind: string } }).store.kind).toBe('redis');
      expect(pod.env.KIRO_REDIS_URL).toBe(`redis://127.0.0.1:${redis.port}`);
      expect(pod.env.KIRO_REDIS_PASSWORD).toBe(REDIS_PASSWORD);
      expect(pod.env.KIRO_CLIENT_API_KEY).toBe(CLIENT_KEY);
      expect(pod.env.NODE_ENV).toBe('production');
    }
  });

  it('serve Anthropic SDK streams through nginx, spread over all three', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => ask(`hello ${i}`)));
    for (const a of answers) expect(a.stop_reason).toBe('end_turn');
    // The log line of a request is written after its answer went out: wait for it rather than race it.
    for (const pod of pods) {
      await expect.poll(() => pod.output(), { message: pod.name, timeout: 10_000 }).toMatch(/"request completed"|request completed/);
    }
  });

  it('SIGTERM one pod: its open streams finish within the rendered grace period, and traffic goes on', async () => {
    const victim = pods[0]!;
    const streams = Array.from({ length: 9 }, (_, i) => ask(`long ${i}`).then((m) => ({ ok: true as const, m }), (err: unknown) => ({ ok: false as const, err })));
    // Let every stream start (first chunk after one delay), then stop the pod mid-stream.
    await new Promise((r) => setTimeout(r, CHUNK_DELAY_MS * 3));
    const stoppedAt = Date.now();
    victim.child.kill('SIGTERM');
    const during = ask('sent while one pod drains');
    const { code } = await victim.exited;
    const drainMs = Date.now() - stoppedAt;

    const results = await Promise.all(streams);
    for (const r of results) {
      expect(r.ok, r.ok ? '' : String(r.err)).toBe(true);
      if (r.ok) expect(r.m.stop_reason).toBe('end_turn');
    }
    expect((await during).stop_reason).toBe('end_turn');
    expect(code).toBe(0);
    expect(drainMs).toBeLessThan(victim.terminationGracePeriodSeconds * 1000);
    const draining = /"inFlight":(\d+)[^\n]*shutting down/.exec(victim.output()) ?? /shutting down[^\n]*"inFlight":(\d+)/.exec(victim.output());
    expect(draining, victim.output().slice(-2000)).not.toBeNull();
    expect(Number(draining![1])).toBeGreaterThan(0);
    expect(victim.terminationGracePeriodSeconds).toBe(Math.ceil((20_000 + 1_000) / 1000) + 5);
  });
});
