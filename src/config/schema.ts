/**
 * The whole convict schema, composed from its topics in the order of the generated configuration
 * table, and the walk over its settings.
 */
import type { Setting, SchemaTree } from './setting.js';
import { topLevelSettings } from './schema-kiro-rs.js';
import { cliEndpointSettings, modelsSettings, poolSettings, upstreamSettings } from './schema-upstream.js';
import { redisSettings } from './schema-redis.js';
import {
  admissionSettings,
  limitsSettings,
  logSettings,
  metricsSettings,
  shutdownSettings,
  sseSettings,
} from './schema-serving.js';
import { clientKeysSettings, usageSettings } from './schema-keys.js';

/** Built per call so `systemVersion` and `log.pretty` defaults reflect this process. */
export function buildSchema(): SchemaTree {
  return {
    ...topLevelSettings(),
    upstream: upstreamSettings(),
    pool: poolSettings(),
    redis: redisSettings(),
    log: logSettings(),
    cliEndpoint: cliEndpointSettings(),
    models: modelsSettings(),
    limits: limitsSettings(),
    metrics: metricsSettings(),
    shutdown: shutdownSettings(),
    sse: sseSettings(),
    admission: admissionSettings(),
    clientKeys: clientKeysSettings(),
    usage: usageSettings(),
  };
}

function isSetting(node: Setting | SchemaTree): node is Setting {
  return Object.prototype.hasOwnProperty.call(node, 'default');
}

export function* walkSchema(tree: SchemaTree, prefix = ''): Generator<[string, Setting]> {
  for (const [key, node] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isSetting(node)) yield [path, node];
    else yield* walkSchema(node, path);
  }
}

function markdownCell(value: string): string {
  return value.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/**
 * Renders the configuration reference as a Markdown table (key, env, default, doc) straight from the
 * schema, for the README.
 */
export function generateConfigTable(): string {
  const rows = ['| key | env | default | doc |', '|---|---|---|---|'];
  for (const [key, s] of walkSchema(buildSchema())) {
    const shown = s.defaultText ?? (s.default === '' ? '' : JSON.stringify(s.default));
    const def = shown === '' ? '—' : `\`${shown}\``;
    rows.push(`| \`${key}\` | \`${s.env}\` | ${markdownCell(def)} | ${markdownCell(s.doc)} |`);
  }
  return rows.join('\n');
}
