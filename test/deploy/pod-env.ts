/**
 * What the kubelet gives a container as its environment: envFrom (ConfigMaps, Secrets), then env
 * entries in order (value, configMapKeyRef, secretKeyRef), with `$(VAR)` references to earlier
 * variables expanded and `$$` as a literal `$` (Kubernetes' expansion rules). Used on rendered objects
 * and on Pods read back from the API server alike.
 */

export interface DataSources {
  /** ConfigMap name → data. */
  configMaps: Record<string, Record<string, string>>;
  /** Secret name → decoded data. */
  secrets: Record<string, Record<string, string>>;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
  };
}

interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}

export interface ContainerSpec {
  name: string;
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  [field: string]: unknown;
}

/** Expands `$(NAME)` from `known`; unknown references stay as written, `$$` becomes `$`. */
export function expandReferences(value: string, known: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && Object.hasOwn(known, name) ? known[name]! : match;
  });
}

function lookup(source: Record<string, Record<string, string>>, kind: string, ref: { name: string; key: string; optional?: boolean }): string | undefined {
  const value = source[ref.name]?.[ref.key];
  if (value === undefined && !ref.optional) throw new Error(`${kind} ${ref.name} has no key ${ref.key} (and the reference is not optional)`);
  return value;
}

/** The container's environment as the kubelet would build it. */
export function containerEnv(container: ContainerSpec, sources: DataSources): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    const data = from.configMapRef ? sources.configMaps[ref!.name] : sources.secrets[ref!.name];
    if (!data) {
      if (ref!.optional) continue;
      throw new Error(`envFrom ${ref!.name} does not exist`);
    }
    for (const [k, v] of Object.entries(data)) env[`${from.prefix ?? ''}${k}`] = v;
  }
  for (const entry of container.env ?? []) {
    let value: string | undefined;
    if (entry.value !== undefined) value = expandReferences(entry.value, env);
    else if (entry.valueFrom?.secretKeyRef) value = lookup(sources.secrets, 'Secret', entry.valueFrom.secretKeyRef);
    else if (entry.valueFrom?.configMapKeyRef) value = lookup(sources.configMaps, 'ConfigMap', entry.valueFrom.configMapKeyRef);
    else value = '';
    if (value !== undefined) env[entry.name] = value;
  }
  return env;
}

/** ConfigMaps and Secrets (base64 `data` decoded) of a set of objects, by name. */
export function dataSources(objects: Array<{ kind: string; metadata: { name: string }; data?: Record<string, string> | null; stringData?: Record<string, string> }>): DataSources {
  const sources: DataSources = { configMaps: {}, secrets: {} };
  for (const o of objects) {
    if (o.kind === 'ConfigMap') sources.configMaps[o.metadata.name] = { ...(o.data ?? {}) };
    if (o.kind === 'Secret') {
      const decoded = Object.fromEntries(Object.entries(o.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
      sources.secrets[o.metadata.name] = { ...decoded, ...(o.stringData ?? {}) };
    }
  }
  return sources;
}
