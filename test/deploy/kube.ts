/**
 * A real Kubernetes control plane for the chart tests, on this machine without a cluster: kine
 * (SQLite in place of etcd), kube-apiserver and kube-controller-manager, built by
 * .ci/tools/30-kube-apiserver.sh. Each test file starts its own on free ports with a temp state dir
 * and stops exactly the processes it started. There is no kubelet: Pods the controllers create stay
 * Pending, which is what the pod-spec test reads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync, cpSync, readdirSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { parseJsonOr } from '../helpers/http-body.js';
import { ROOT } from '../helpers/replicas.js';
import { TOOLS_DIR, requireTool } from '../helpers/tools.js';
import { freePort } from '../../loadtest/stack/ports.js';
import { helm, parseManifests, type K8sObject } from './helm.js';

const INSTALL_HINT = '.ci/tools/30-kube-apiserver.sh';
const CRDS_DIR = join(ROOT, 'test', 'fixtures', 'crds');

/** A binary of the control plane: $KIRO_TOOLS_DIR/k8s/bin first, then requireTool's search. */
function controlPlaneBinary(name: string): string {
  const built = join(TOOLS_DIR, 'k8s', 'bin', name);
  try {
    accessSync(built, constants.X_OK);
    return built;
  } catch {
    return requireTool(name, INSTALL_HINT);
  }
}

/** Endpoints refuse loopback addresses, so the API server advertises a non-loopback one (it still binds 127.0.0.1 only). */
function advertiseAddress(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '10.255.255.1';
}

export interface KubeCluster {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  readonly kubeconfig: string;
  /** Authenticated request to the API server; JSON in and out. */
  request(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  /** GET that must succeed. */
  get(path: string): Promise<any>;
  /** Runs helm against this cluster. */
  helm(args: string[], timeoutMs?: number): ReturnType<typeof helm>;
  /** Polls `check` until it returns a value other than undefined. */
  until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

function startProcess(bin: string, args: string[], logs: string[], name: string): ChildProcess {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const add = (c: Buffer) => {
    logs.push(`[${name}] ${c.toString('utf8')}`);
    if (logs.length > 400) logs.splice(0, logs.length - 400);
  };
  child.stdout!.on('data', add);
  child.stderr!.on('data', add);
  return child;
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Starts kine + kube-apiserver + kube-controller-manager and waits until the API is ready. */
export async function startKubeCluster(): Promise<KubeCluster> {
  const kine = controlPlaneBinary('kine');
  const apiserver = controlPlaneBinary('kube-apiserver');
  const kcm = controlPlaneBinary('kube-controller-manager');
  const dir = mkdtempSync(join(tmpdir(), 'kiro-kube-'));
  const logs: string[] = [];
  const [etcdPort, apiPort, kcmPort] = [await freePort(), await freePort(), await freePort()];

  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs1', format: 'pem' }));
  writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  const token = randomBytes(24).toString('hex');
  writeFileSync(join(dir, 'tokens.csv'), `${token},admin,admin-uid,system:masters\n`, { mode: 0o600 });
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1', 'kind: Config',
      'clusters:', `- name: local`, `  cluster: {server: "${server}", insecure-skip-tls-verify: true}`,
      'users:', `- name: admin`, `  user: {token: "${token}"}`,
      'contexts:', `- name: local`, `  context: {cluster: local, user: admin, namespace: default}`,
      'current-context: local', '',
    ].join('\n'),
    { mode: 0o600 },
  );

  const children: ChildProcess[] = [];
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  const request = async (method: string, path: string, body?: unknown) => {
    const res = await undiciFetch(`${server}${path}`, {
      method,
      dispatcher,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: parseJsonOr(text, text) };
  };
  const until = async <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        const value = await check();
        if (value !== undefined) return value;
      } catch (err) {
        lastError = err;
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}${lastError ? ` (${(lastError as Error).message})` : ''}\n${logs.slice(-30).join('')}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const stop = async () => {
    for (const child of children.reverse()) await stopProcess(child);
    await dispatcher.close();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    children.push(startProcess(kine, ['--listen-address', `127.0.0.1:${etcdPort}`, '--metrics-bind-address', '0',
      '--endpoint', `sqlite://${join(dir, 'state.db')}?_journal=WAL&cache=shared&_busy_timeout=30000`], logs, 'kine'));
    mkdirSync(join(dir, 'certs'));
    children.push(startProcess(apiserver, [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--bind-address=127.0.0.1', `--secure-port=${apiPort}`, `--advertise-address=${advertiseAddress()}`,
      `--cert-dir=${join(dir, 'certs')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=Node,RBAC',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--allow-privileged=true',
    ], logs, 'apiserver'));
    await until('kube-apiserver /readyz', async () => ((await request('GET', '/readyz').catch(() => ({ status: 0 }))).status === 200 ? true : undefined), 90_000);
    children.push(startProcess(kcm, [
      `--kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1', `--secure-port=${kcmPort}`, '--leader-elect=false',
      `--service-account-private-key-file=${join(dir, 'sa.key')}`, `--root-ca-file=${join(dir, 'certs', 'apiserver.crt')}`,
      '--cluster-name=kiro-test', "--controllers=*",
    ], logs, 'kcm'));
  } catch (err) {
    await stop();
    throw err;
  }

  const cluster: KubeCluster = {
    server,
    kubeconfig,
    request,
    async get(path) {
      const res = await request('GET', path);
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${JSON.stringify(res.json).slice(0, 300)}`);
      return res.json;
    },
    helm: (args, timeoutMs) => helm(args, { KUBECONFIG: kubeconfig }, timeoutMs),
    until,
    stop,
  };
  return cluster;
}

/** Installs the vendored CRDs (test/fixtures/crds) as a chart's crds/ dir; helm waits until they are served. */
export async function installCrds(cluster: KubeCluster): Promise<void> {
  const chart = join(mkdtempSync(join(tmpdir(), 'kiro-crds-')), 'crds-chart');
  mkdirSync(join(chart, 'crds'), { recursive: true });
  writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: test-crds\nversion: 0.0.1\n');
  for (const f of readdirSync(CRDS_DIR).filter((f) => f.endsWith('.yaml'))) cpSync(join(CRDS_DIR, f), join(chart, 'crds', f));
  const res = await cluster.helm(['install', 'test-crds', chart, '--namespace', 'default']);
  if (res.code !== 0) throw new Error(`installing CRDs failed:\n${res.output}`);
  for (const plural of ['servicemonitors.monitoring.coreos.com', 'prometheusrules.monitoring.coreos.com', 'scaledobjects.keda.sh', 'httproutes.gateway.networking.k8s.io']) {
    await cluster.until(`CRD ${plural} established`, async () => {
      const crd = await cluster.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}`);
      return crd.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Established' && c.status === 'True') ? true : undefined;
    });
  }
}

/** Objects of a helm release's manifest (`helm get manifest`). */
export async function releaseManifest(cluster: KubeCluster, release: string, namespace: string): Promise<K8sObject[]> {
  const res = await cluster.helm(['get', 'manifest', release, '--namespace', namespace]);
  if (res.code !== 0) throw new Error(res.output);
  return parseManifests(res.stdout);
}
