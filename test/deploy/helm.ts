/**
 * Real `helm` for the chart tests (built by .ci/tools/10-helm.sh), with its config, cache and data
 * dirs in a temp dir so tests never touch the user's Helm setup, and rendered manifests parsed into
 * plain objects.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../helpers/replicas.js';
import { requireTool } from '../helpers/tools.js';
import { runCommand } from './process.js';

export const CHART_DIR = join(ROOT, 'charts', 'kiro-gateway');

/** A rendered Kubernetes object (only the fields tests read are typed). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: any;
}

/** The ci/*-values.yaml scenario files, by file name. */
export function ciScenarios(): string[] {
  return readdirSync(join(CHART_DIR, 'ci'))
    .filter((f) => f.endsWith('-values.yaml'))
    .sort();
}

let helmHome: string | undefined;

/** Runs helm; resolves with exit code and output (never rejects). */
export function helm(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000) {
  const bin = requireTool('helm', '.ci/tools/10-helm.sh');
  helmHome ??= mkdtempSync(join(tmpdir(), 'kiro-helm-'));
  return runCommand(bin, args, ROOT, timeoutMs, {
    PATH: process.env.PATH ?? '',
    HOME: helmHome,
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_DATA_HOME: join(helmHome, 'data'),
    ...env,
  });
}

/** Parses a multi-document manifest. */
export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

export interface RenderOptions {
  valuesFiles?: string[];
  set?: Record<string, string>;
  extraArgs?: string[];
  chartDir?: string;
  release?: string;
  namespace?: string;
}

function valueArgs(opts: RenderOptions): string[] {
  return [
    ...(opts.valuesFiles ?? []).flatMap((f) => ['-f', f]),
    ...Object.entries(opts.set ?? {}).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
  ];
}

/** `helm template`; rejects with helm's message when rendering fails. */
export async function render(opts: RenderOptions = {}): Promise<K8sObject[]> {
  const res = await tryRender(opts);
  if (res.code !== 0) throw new Error(`helm template failed (${res.code}):\n${res.output}`);
  return parseManifests(res.stdout);
}

/** `helm template` without throwing: for the tests of refused values. */
export function tryRender(opts: RenderOptions = {}) {
  return helm([
    'template',
    opts.release ?? 'kiro',
    opts.chartDir ?? CHART_DIR,
    '--namespace',
    opts.namespace ?? 'kiro',
    ...valueArgs(opts),
    ...(opts.extraArgs ?? []),
  ]);
}

export { valueArgs };

/** The only object of `kind` (and `name`, if given); throws when there is not exactly one. */
export function one(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
}
