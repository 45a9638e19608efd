/**
 * tracing-env.ts reads the OTEL_* variables with its own copies of `@opentelemetry/core`'s three
 * environment readers, and otel-attributes.ts names the semantic-convention attributes it sets (so
 * neither package loads unless tracing is on); the packages stay the oracles here.
 */
import { getBooleanFromEnv, getStringFromEnv, getStringListFromEnv } from '@opentelemetry/core';
import * as conventions from '@opentelemetry/semantic-conventions';
import { afterEach, describe, expect, it } from 'vitest';
import * as attributes from '../../src/observability/otel-attributes.js';
import { tracingRequested } from '../../src/observability/tracing-env.js';

const NAMES = ['OTEL_SDK_DISABLED', 'OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT'] as const;
const VALUES = [undefined, '', '  ', 'true', ' TRUE ', 'false', 'False', 'yes', '1', 'none', 'otlp', ' none , otlp', ',,otlp', 'otlp,none', ' , ', 'http://127.0.0.1:4318'];

/** tracingRequested as written with the package's readers. */
function oracle(hasExporter: boolean): boolean {
  if (getBooleanFromEnv('OTEL_SDK_DISABLED')) return false;
  if (hasExporter) return true;
  const exporters = getStringListFromEnv('OTEL_TRACES_EXPORTER')?.filter((e) => e !== '') ?? [];
  if (exporters.length > 0) return exporters[0] !== 'none';
  return Boolean(getStringFromEnv('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? getStringFromEnv('OTEL_EXPORTER_OTLP_ENDPOINT'));
}

const saved = Object.fromEntries(NAMES.map((n) => [n, process.env[n]]));
afterEach(() => {
  for (const n of NAMES) {
    if (saved[n] === undefined) delete process.env[n];
    else process.env[n] = saved[n];
  }
});

describe('tracingRequested reads the environment as @opentelemetry/core does', () => {
  it('agrees with the package on every combination of values', () => {
    let cases = 0;
    for (let i = 0; i < VALUES.length ** 2 * 4; i++) {
      // Each variable gets a value picked from the index, so pairs of values meet in every position.
      const picks = [i % VALUES.length, Math.floor(i / VALUES.length) % VALUES.length, (i * 7) % VALUES.length, (i * 11) % VALUES.length];
      NAMES.forEach((n, k) => {
        const v = VALUES[picks[(k + Math.floor(i / VALUES.length ** 2)) % 4]!];
        if (v === undefined) delete process.env[n];
        else process.env[n] = v;
      });
      for (const hasExporter of [false, true]) {
        expect(tracingRequested(hasExporter), JSON.stringify({ env: NAMES.map((n) => process.env[n]), hasExporter })).toBe(oracle(hasExporter));
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(1000);
  });
});

describe('otel-attributes.ts', () => {
  it('names each attribute as @opentelemetry/semantic-conventions does', () => {
    for (const [name, value] of Object.entries(attributes)) expect(value, name).toBe((conventions as Record<string, unknown>)[name]);
  });
});
