/**
 * Offline schema validation of rendered objects with the `kubernetes-models` packages (the
 * Kubernetes OpenAPI schemas and the CRD schemas of prometheus-operator, KEDA and Gateway API).
 */

type Model = new (data: unknown) => { validate(): void };

const PACKAGES: Record<string, string> = {
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  'keda.sh': '@kubernetes-models/keda',
  'gateway.networking.k8s.io': '@kubernetes-models/gateway-api',
};

function moduleOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  if (slash < 0) return `kubernetes-models/${apiVersion}`;
  const group = apiVersion.slice(0, slash);
  return PACKAGES[group] ? `${PACKAGES[group]}/${apiVersion}` : `kubernetes-models/${apiVersion}`;
}

/** Validates one object against its schema; throws with the schema's message. */
export async function validateObject(object: { apiVersion: string; kind: string; metadata: { name: string } }): Promise<void> {
  const mod = (await import(moduleOf(object.apiVersion))) as Record<string, Model>;
  const model = mod[object.kind];
  if (!model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  try {
    new model(object).validate();
  } catch (err) {
    throw new Error(`${object.kind} ${object.metadata.name}: ${(err as Error).message}`, { cause: err });
  }
}
