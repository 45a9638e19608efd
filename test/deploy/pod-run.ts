/**
 * Runs a Pod read back from the API server as the kubelet would run its gateway container, minus the
 * container runtime: the Secret/ConfigMap volumes become files at their mount paths under a temp root,
 * the env is built from envFrom/env/secretKeyRef (pod-env.ts) on top of the image's ENV, and the
 * command starts with this machine's node from the repository (standing in for the image's /app).
 *
 * Rewrites, where a process on a shared host cannot do what a container does (and nothing else):
 * - absolute mount paths are prefixed with the pod's temp root, in volumes and in env values that
 *   point into a mount (KIRO_CREDENTIALS); the /tmp emptyDir becomes TMPDIR;
 * - the container port (the same for every pod) is remapped to a free port per pod, through KIRO_PORT,
 *   the env variable the rendered ConfigMap sets it with; probes follow the named port;
 * - KIRO_HOST 0.0.0.0 becomes 127.0.0.1 (tests only talk to loopback).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/replicas.js';
import { readRuntimeStage } from './dockerfile.js';
import { containerEnv, type ContainerSpec, type DataSources } from './pod-env.js';
import { freePort } from '../../loadtest/stack/ports.js';

interface Probe {
  httpGet: { path: string; port: string | number };
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold?: number;
}

export interface PodSpec {
  metadata: { name: string };
  spec: {
    terminationGracePeriodSeconds: number;
    containers: Array<ContainerSpec & {
      command: string[];
      args?: string[];
      ports: Array<{ name: string; containerPort: number }>;
      readinessProbe: Probe;
      volumeMounts: Array<{ name: string; mountPath: string }>;
    }>;
    volumes: Array<{
      name: string;
      secret?: { secretName: string; optional?: boolean; items?: Array<{ key: string; path: string }> };
      configMap?: { name: string; optional?: boolean; items?: Array<{ key: string; path: string }> };
      emptyDir?: object;
    }>;
  };
}

export interface RunningPod {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  readonly env: Record<string, string>;
  readonly terminationGracePeriodSeconds: number;
  output(): string;
  /** Resolves with exit code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Polls the rendered readiness probe until it succeeds successThreshold times in a row. */
  waitReady(timeoutMs: number): Promise<void>;
}

function writeVolume(dir: string, data: Record<string, string>, items?: Array<{ key: string; path: string }>): void {
  mkdirSync(dir, { recursive: true });
  const entries = items ? items.filter((i) => data[i.key] !== undefined).map((i) => [i.path, data[i.key]!] as const) : Object.entries(data);
  for (const [path, content] of entries) writeFileSync(join(dir, path), content);
}

/** Materialises and starts the pod's first container. */
export async function runPod(pod: PodSpec, sources: DataSources, root: string): Promise<RunningPod> {
  const container = pod.spec.containers[0]!;
  const podRoot = join(root, pod.metadata.name);
  const mounts: string[] = [];
  let tmpDir: string | undefined;
  for (const mount of container.volumeMounts) {
    const volume = pod.spec.volumes.find((v) => v.name === mount.name)!;
    const target = join(podRoot, mount.mountPath);
    mounts.push(mount.mountPath);
    if (volume.secret) {
      const data = sources.secrets[volume.secret.secretName];
      if (!data && !volume.secret.optional) throw new Error(`Secret ${volume.secret.secretName} is missing`);
      writeVolume(target, data ?? {}, volume.secret.items);
    } else if (volume.configMap) {
      const data = sources.configMaps[volume.configMap.name];
      if (!data && !volume.configMap.optional) throw new Error(`ConfigMap ${volume.configMap.name} is missing`);
      writeVolume(target, data ?? {}, volume.configMap.items);
    } else if (volume.emptyDir) {
      mkdirSync(target, { recursive: true });
      if (mount.mountPath === '/tmp') tmpDir = target;
    } else {
      throw new Error(`volume ${volume.name}: only secret, configMap and emptyDir volumes are materialised here`);
    }
  }

  const image = readRuntimeStage(join(ROOT, 'Dockerfile'));
  const env: Record<string, string> = { ...image.env, ...containerEnv(container, sources) };
  for (const [name, value] of Object.entries(env)) {
    const mount = mounts.find((m) => value === m || value.startsWith(`${m}/`));
    if (mount) env[name] = join(podRoot, value);
  }
  const http = container.ports.find((p) => p.name === 'http')!;
  if (env.KIRO_PORT !== String(http.containerPort)) throw new Error(`KIRO_PORT ${env.KIRO_PORT} is not the container port ${http.containerPort}`);
  const port = await freePort();
  env.KIRO_PORT = String(port);
  if (env.KIRO_HOST === '0.0.0.0') env.KIRO_HOST = '127.0.0.1';
  if (tmpDir) env.TMPDIR = tmpDir;
  env.PATH = process.env.PATH ?? '';
  env.HOME = tmpDir ?? podRoot;

  const [command, ...args] = [...container.command, ...(container.args ?? [])];
  if (command !== 'node') throw new Error(`unexpected container command ${command}`);
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output = (output + c.toString('utf8')).slice(-200_000)));
  child.stderr!.on('data', (c: Buffer) => (output = (output + c.toString('utf8')).slice(-200_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  const probe = container.readinessProbe;
  const probePort = probe.httpGet.port === 'http' || probe.httpGet.port === http.containerPort ? port : Number.NaN;
  const url = `http://127.0.0.1:${port}`;
  return {
    name: pod.metadata.name,
    port,
    url,
    child,
    env,
    terminationGracePeriodSeconds: pod.spec.terminationGracePeriodSeconds,
    output: () => output,
    exited,
    async waitReady(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let successes = 0;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`${pod.metadata.name} exited (${child.exitCode}):\n${output}`);
        try {
          const res = await fetch(`http://127.0.0.1:${probePort}${probe.httpGet.path}`, { signal: AbortSignal.timeout(probe.timeoutSeconds * 1000) });
          successes = res.status >= 200 && res.status < 400 ? successes + 1 : 0;
        } catch {
          successes = 0;
        }
        if (successes >= (probe.successThreshold ?? 1)) return;
        if (Date.now() > deadline) throw new Error(`${pod.metadata.name} not ready on ${probe.httpGet.path} within ${timeoutMs} ms:\n${output}`);
        // The kubelet's cadence, shortened so the test stays quick (the probe itself is as rendered).
        await new Promise((r) => setTimeout(r, Math.min(probe.periodSeconds * 1000, 250)));
      }
    },
  };
}
