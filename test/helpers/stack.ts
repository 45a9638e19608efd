/**
 * Test stack: the Kiro simulator plus an in-process gateway pointed at it, and a real
 * `@anthropic-ai/sdk` client. Every test talks HTTP; nothing is mocked.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { loadConfig } from '../../src/config.js';
import { buildGateway, type BuildOptions, type Gateway } from '../../src/gateway.js';
import type { CredentialFileEntry } from '../../src/credentials/types.js';
import { readWhole, type WholeAnswer } from './http-body.js';

export const API_KEY = 'sk-test-client-key-0123456789abcdef';
export const ADMIN_KEY = 'sk-test-admin-key-0123456789abcdef';

/** A refresh token the simulator accepts (≥ 100 chars), distinct per label. */
export function refreshTokenFor(label: string): string {
  return `rt-${label}-`.padEnd(120, 'x');
}

export interface Stack {
  sim: Simulator;
  gateway: Gateway;
  url: string;
  client: Anthropic;
  credentialsPath: string;
  /** Gateway environment used (for spawning more replicas with the same settings). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export interface StackOptions {
  credentials?: CredentialFileEntry[] | CredentialFileEntry;
  /** Extra KIRO_* settings. */
  env?: Record<string, string>;
  sim?: SimulatorOptions;
  /** Reuse a running simulator. */
  simulator?: Simulator;
  /** Logger, metrics registry and tracing handle handed to `buildGateway` (observability tests). */
  observability?: Pick<BuildOptions, 'logger' | 'metrics' | 'tracing'>;
}

/** Gateway settings pointing at a simulator. */
export function gatewayEnv(simUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KIRO_HOST: '127.0.0.1',
    KIRO_PORT: '0',
    KIRO_CLIENT_API_KEY: API_KEY,
    KIRO_ADMIN_API_KEY: ADMIN_KEY,
    KIRO_UPSTREAM_API_BASE_URL: simUrl,
    KIRO_UPSTREAM_SOCIAL_REFRESH_URL: `${simUrl}/refreshToken`,
    KIRO_UPSTREAM_IDC_REFRESH_URL: `${simUrl}/token`,
    KIRO_LOG_LEVEL: 'silent',
    KIRO_LOG_PRETTY: 'false',
    KIRO_SSE_PING_INTERVAL_MS: '25000',
    ...extra,
  };
}

/** Writes a credentials.json in a fresh temp dir and returns its path. */
export function writeCredentials(credentials: CredentialFileEntry[] | CredentialFileEntry): string {
  const dir = mkdtempSync(join(tmpdir(), 'kiro-gw-test-'));
  const path = join(dir, 'credentials.json');
  writeFileSync(path, JSON.stringify(credentials, null, 2));
  return path;
}

/** Starts simulator + gateway; one social credential by default. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const sim = opts.simulator ?? (await createSimulator(opts.sim));
  const credentialsPath = writeCredentials(
    opts.credentials ?? [{ refreshToken: refreshTokenFor('default'), authMethod: 'social' }],
  );
  const env = gatewayEnv(sim.url, opts.env);
  const config = loadConfig({ argv: ['--credentials', credentialsPath], env, warn: () => {} });
  const gateway = await buildGateway(config, { ...opts.observability });
  const { url } = await gateway.listen();
  const client = new Anthropic({ baseURL: url, apiKey: API_KEY, maxRetries: 0, logLevel: 'error' });
  return {
    sim,
    gateway,
    url,
    client,
    credentialsPath,
    env,
    async close() {
      await gateway.close(1_000);
      if (!opts.simulator) await sim.close();
    },
  };
}

/** Polls `check` until it returns true or the timeout passes. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Raw POST helper for tests that need exact status codes and bodies. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<WholeAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return readWhole(res);
}
