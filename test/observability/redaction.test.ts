/**
 * No secret leaves the process through logs, metrics or traces. Every secret the gateway knows is
 * set to a distinctive value, a representative traffic mix runs (successes, retries, failover,
 * refreshes, upstream failures, admin calls, bad keys, malformed requests), and the captured pino
 * output (debug level), the /metrics text and every exported span must contain none of them. The
 * logger and tracing are wired as src/main.ts wires them (scrubber fed by `secretSource`).
 */
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretSource } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { GatewayMetrics } from '../../src/observability/metrics.js';
import { createSecretScrubber } from '../../src/observability/redact.js';
import { initTracing, type TracingHandle } from '../../src/observability/tracing.js';
import { createSimulator, simScript, type Script, type Simulator } from '../../src/simulator/index.js';
import { parseJsonOr } from '../helpers/http-body.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';
import { captureLogs, type LogCapture } from './helpers.js';

const pad = (s: string, n = 120) => s.padEnd(n, 'Q');
const CLIENT_KEY = 'sk-client-SECRET-c1f4e8a09b7d';
const ADMIN_KEY = 'sk-admin-SECRET-5d2b7e91c0aa';
const PROXY_PASSWORD = 'proxy-pw-SECRET-77e1d3';
const COUNT_TOKENS_KEY = 'ct-key-SECRET-0b9a4f6e2c';
const RT_SOCIAL = pad('rt-social-SECRET-a1-');
const RT_IDC = pad('rt-idc-SECRET-b2-');
const IDC_CLIENT_SECRET = 'idc-client-secret-SECRET-9f8e7d6c';
const KIRO_API_KEY = 'ksk_apikey_SECRET_3c4d5e6f7a8b';
const RT_DISABLED = pad('rt-disabled-SECRET-d4-');
const CRED_PROXY_PASSWORD = 'cred-proxy-pw-SECRET-4411';
/** Offered through the admin API: one is refused by the refresh endpoint, one is added. */
const RT_REFUSED = pad('rt-refused-SECRET-e5-');
const RT_ADDED = pad('rt-added-SECRET-f6-');
const ADDED_CLIENT_SECRET = 'added-client-secret-SECRET-1234';

const MODEL = 'claude-sonnet-4-6';
const REPLY: Script = { events: [{ text: 'Fine, ' }, { text: 'thanks.' }] };

interface Sent {
  method: string;
  path: string;
  status: number;
  requestId: string | null;
}

let sim: Simulator;
let stack: Stack;
let tracing: TracingHandle;
let logs: LogCapture;
const exporter = new InMemorySpanExporter();
const sent: Sent[] = [];
let source: () => readonly string[] = () => [];
/** A managed client key, created through the admin API during the traffic mix. */
let managedKey = '';

beforeAll(async () => {
  sim = await createSimulator({ recentRequests: 10_000 });
  const secrets = () => source();
  logs = captureLogs();
  const logger = createLogger({ level: 'debug', pretty: false, destination: logs, secrets });
  tracing = initTracing({ exporter, scrub: createSecretScrubber(secrets) });
  stack = await startStack({
    simulator: sim,
    credentials: [
      { refreshToken: RT_SOCIAL, authMethod: 'social', priority: 0 },
      { refreshToken: RT_IDC, authMethod: 'idc', clientId: 'idc-client-id', clientSecret: IDC_CLIENT_SECRET, priority: 1 },
      { authMethod: 'api_key', kiroApiKey: KIRO_API_KEY, priority: 2 },
      {
        refreshToken: RT_DISABLED,
        authMethod: 'social',
        priority: 3,
        disabled: true,
        proxyUrl: 'http://127.0.0.1:9',
        proxyUsername: 'proxy-user',
        proxyPassword: CRED_PROXY_PASSWORD,
      },
    ],
    env: {
      KIRO_CLIENT_API_KEY: CLIENT_KEY,
      KIRO_ADMIN_API_KEY: ADMIN_KEY,
      KIRO_PROXY_USERNAME: 'proxy-user',
      KIRO_PROXY_PASSWORD: PROXY_PASSWORD,
      KIRO_COUNT_TOKENS_API_URL: `${sim.url}/v1/messages/count_tokens`,
      KIRO_COUNT_TOKENS_API_KEY: COUNT_TOKENS_KEY,
      KIRO_POOL_MAX_ATTEMPTS_PER_REQUEST: '3',
    },
    observability: { logger, metrics: new GatewayMetrics({ collectDefault: false }), tracing },
  });
  source = secretSource(stack.gateway.config, stack.gateway.store);
});

afterAll(async () => {
  await stack?.close();
  await sim?.close();
  await tracing?.shutdown();
});

/** One HTTP request to the gateway, remembered with the request id it was answered with. */
async function call(
  path: string,
  opts: { method?: string; body?: unknown; raw?: string; key?: string | null; bearer?: boolean } = {},
): Promise<{ status: number; text: string; json: any }> {
  const method = opts.method ?? (opts.body !== undefined || opts.raw !== undefined ? 'POST' : 'GET');
  const headers: Record<string, string> = {};
  if (opts.body !== undefined || opts.raw !== undefined) headers['content-type'] = 'application/json';
  const key = opts.key === undefined ? CLIENT_KEY : opts.key;
  if (key !== null) {
    if (opts.bearer) headers.authorization = `Bearer ${key}`;
    else headers['x-api-key'] = key;
  }
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers,
    body: opts.raw ?? (opts.body !== undefined ? JSON.stringify(opts.body) : undefined),
  });
  const text = await res.text();
  sent.push({ method, path: path.split('?')[0], status: res.status, requestId: res.headers.get('request-id') });
  return { status: res.status, text, json: parseJsonOr(text) };
}

const messages = (script: Script = REPLY, extra: Record<string, unknown> = {}) => ({
  model: MODEL,
  max_tokens: 128,
  messages: [{ role: 'user', content: `How are you? ${simScript(script)}` }],
  ...extra,
});
const admin = (path: string, opts: Parameters<typeof call>[1] = {}) => call(`/api/admin${path}`, { key: ADMIN_KEY, ...opts });
const idOf = (refreshToken: string) => stack.gateway.store.list().find((r) => r.credential.refreshToken === refreshToken)!.credential.id;

/** Every secret value, access tokens included (as issued by the simulator and as stored). */
function allSecrets(): string[] {
  const values = new Set<string>([
    CLIENT_KEY,
    ADMIN_KEY,
    PROXY_PASSWORD,
    COUNT_TOKENS_KEY,
    RT_SOCIAL,
    RT_IDC,
    IDC_CLIENT_SECRET,
    KIRO_API_KEY,
    RT_DISABLED,
    CRED_PROXY_PASSWORD,
    RT_REFUSED,
    RT_ADDED,
    ADDED_CLIENT_SECRET,
    managedKey,
  ]);
  for (const r of stack.gateway.store.list()) {
    for (const field of ['accessToken', 'refreshToken', 'clientSecret', 'kiroApiKey', 'proxyPassword'] as const) {
      const v = r.credential[field];
      if (v) values.add(v);
    }
  }
  for (const r of sim.stats.requests) {
    const auth = r.headers.authorization;
    if (typeof auth === 'string' && auth.startsWith('Bearer ')) values.add(auth.slice('Bearer '.length));
    const b = r.body as Record<string, unknown> | undefined;
    for (const field of ['refreshToken', 'clientSecret']) if (typeof b?.[field] === 'string') values.add(b[field] as string);
    const apiKey = r.headers['x-api-key'];
    if (typeof apiKey === 'string') values.add(apiKey);
  }
  return [...values];
}

describe('secrets stay out of logs, metrics and traces', () => {
  it('runs a representative traffic mix without leaking a single secret', async () => {
    // Successes: stream and JSON (the first one refreshes the social credential's token).
    expect((await call('/v1/messages', { body: messages(REPLY, { stream: true }) })).status).toBe(200);
    expect((await call('/v1/messages', { body: messages(), bearer: true })).status).toBe(200);
    expect((await call('/cc/v1/messages', { body: messages(REPLY, { stream: true }) })).status).toBe(200);

    // 429 on the social credential: the request moves to the IdC one (refresh with its client secret).
    sim.setAccount(RT_SOCIAL, { mode: 'rate-limit-429', times: 1 });
    expect((await call('/v1/messages', { body: messages() })).status).toBe(200);

    // Expired access token: 403, forced refresh, retry.
    sim.expireAccessTokens(RT_SOCIAL);
    expect((await call('/v1/messages', { body: messages(REPLY, { stream: true }) })).status).toBe(200);

    // Upstream failures: every attempt 5xx (502), upstream 400, a stream cut mid-frame, a bad CRC.
    for (const rt of [RT_SOCIAL, RT_IDC]) sim.setAccount(rt, { mode: 'server-error-500' });
    expect((await call('/v1/messages', { body: messages() })).status).toBe(502);
    for (const rt of [RT_SOCIAL, RT_IDC]) sim.setAccount(rt, { mode: 'ok' });
    expect((await call('/v1/messages', { body: messages({ status: 400, body: { message: 'Improperly formed request.' } }) })).status).toBe(400);
    const cut = await call('/v1/messages', { body: messages({ ...REPLY, fault: { kind: 'cut', afterFrames: 1 } }, { stream: true }) });
    expect(cut.text).toContain('event: error');
    // A corrupt frame fails the answer (never skipped): 502 for a non-streaming request.
    expect((await call('/v1/messages', { body: messages({ ...REPLY, fault: { kind: 'bad-message-crc', afterFrames: 1 } }) })).status).toBe(502);

    // Only the API-key credential left enabled: it serves with its key as the bearer.
    const social = idOf(RT_SOCIAL);
    const idc = idOf(RT_IDC);
    for (const id of [social, idc]) expect((await admin(`/credentials/${id}/disabled`, { body: { disabled: true } })).status).toBe(200);
    expect((await call('/v1/messages', { body: messages(REPLY, { stream: true }) })).status).toBe(200);
    for (const id of [social, idc]) expect((await admin(`/credentials/${id}/disabled`, { body: { disabled: false } })).status).toBe(200);

    // Admin API: list, refresh, balance, add (refused and accepted), a refresh that fails.
    const listed = await admin('/credentials');
    expect(listed.status).toBe(200);
    expect(listed.json.credentials.length).toBe(4);
    expect((await admin(`/credentials/${social}/refresh`, { method: 'POST' })).status).toBe(200);
    expect((await admin(`/credentials/${idc}/balance`)).status).toBe(200);
    sim.setAccount(RT_REFUSED, { mode: 'refresh-invalid-grant' });
    expect((await admin('/credentials', { body: { refreshToken: RT_REFUSED, authMethod: 'social' } })).status).toBeGreaterThanOrEqual(400);
    const added = await admin('/credentials', {
      body: { refreshToken: RT_ADDED, authMethod: 'idc', clientId: 'added-client', clientSecret: ADDED_CLIENT_SECRET, priority: 9 },
    });
    expect(added.status).toBe(200);
    sim.setAccount(RT_ADDED, { mode: 'refresh-500' });
    expect((await admin(`/credentials/${added.json.credentialId}/refresh`, { method: 'POST' })).status).toBe(502);

    // A managed client key: created (shown once), used, over its limit, refused a model, listed.
    const created = await admin('/keys', { body: { name: 'leak-test', models: [MODEL], limits: { requestsPerMinute: 2 } } });
    expect(created.status).toBe(201);
    managedKey = created.json.secret;
    expect(managedKey).toMatch(/^sk-kgw-/);
    expect((await call('/v1/messages', { body: messages(REPLY, { stream: true }), key: managedKey })).status).toBe(200);
    expect((await call('/v1/messages', { body: messages(), key: managedKey, bearer: true })).status).toBe(200);
    expect((await call('/v1/messages', { body: messages(), key: managedKey })).status).toBe(429);
    expect((await call('/v1/messages', { body: messages(REPLY, { model: 'claude-haiku-4-5-20251001' }), key: managedKey })).status).toBe(403);
    expect((await call('/v1/messages', { body: messages(), key: `${managedKey}x` })).status).toBe(401);
    // Put where no header redaction reaches: the URL, a malformed body.
    expect((await call(`/v1/${managedKey}/models`, { key: managedKey })).status).toBe(404);
    expect((await call('/v1/messages', { raw: `{"model": "${managedKey}", `, key: managedKey })).status).toBe(400);
    for (const path of ['/keys', `/keys/${created.json.key.id}`, '/usage?subject=key', '/usage.csv']) {
      const listed = await admin(path);
      expect(listed.status, path).toBe(200);
      expect(listed.text, path).not.toContain(managedKey);
    }

    // Bad keys: wrong client key (the admin key, a near miss), no key, client key on the admin API.
    expect((await call('/v1/messages', { body: messages(), key: ADMIN_KEY })).status).toBe(401);
    expect((await call('/v1/messages', { body: messages(), key: `${CLIENT_KEY}x`, bearer: true })).status).toBe(401);
    expect((await call('/v1/messages', { body: messages(), key: null })).status).toBe(401);
    expect((await admin('/credentials', { key: CLIENT_KEY })).status).toBe(401);

    // Malformed and unknown requests, a secret in the URL, count_tokens through the external API.
    expect((await call('/v1/messages', { raw: `{"model": "${CLIENT_KEY}", ` })).status).toBe(400);
    expect((await call('/v1/messages', { body: { model: MODEL, max_tokens: 1, messages: 'nope' } })).status).toBe(400);
    expect((await call(`/v1/${CLIENT_KEY}/models?key=${ADMIN_KEY}`)).status).toBe(404);
    expect((await call('/v1/messages/count_tokens', { body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }] } })).status).toBe(200);
    expect((await call('/readyz', { key: null })).status).toBe(200);

    // A client that goes away mid-stream.
    const abort = new AbortController();
    const res = await fetch(`${stack.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY },
      body: JSON.stringify(messages({ events: Array.from({ length: 50 }, (_, i) => ({ text: `w${i} ` })), chunkDelayMs: 20 }, { stream: true })),
      signal: abort.signal,
    });
    sent.push({ method: 'POST', path: '/v1/messages', status: res.status, requestId: res.headers.get('request-id') });
    const reader = res.body!.getReader();
    await reader.read();
    abort.abort();
    await eventually(() => stack.gateway.lifecycle.inFlight === 0);

    const metricsText = await call('/metrics', { key: null }).then((r) => r.text);
    await eventually(() => requestLines().length === sent.length);

    // --- nothing leaks ---------------------------------------------------------------------------
    const secrets = allSecrets();
    // The simulator saw the access tokens, the API key as a bearer, the client secrets.
    expect(secrets.length).toBeGreaterThan(16);
    expect(secrets).toContain(KIRO_API_KEY);
    const logText = logs.text();
    expect(logs.json().some((l) => l.level === 'debug')).toBe(true);
    const spans = exporter.getFinishedSpans();
    expect(spans.length).toBeGreaterThan(30);
    // The undici instrumentation's spans are in the mix: Kiro calls, both refresh endpoints,
    // getUsageLimits, the external count_tokens API, failures included (refresh-500, invalid_grant).
    const httpPaths = new Set(spans.filter((s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-undici').map((s) => s.attributes['url.path']));
    for (const path of ['/generateAssistantResponse', '/refreshToken', '/token', '/getUsageLimits', '/v1/messages/count_tokens']) {
      expect(httpPaths, path).toContain(path);
    }
    const spanText = JSON.stringify(
      spans.map((s) => ({
        name: s.name,
        attributes: s.attributes,
        events: s.events.map((e) => ({ name: e.name, attributes: e.attributes })),
        status: s.status,
        links: s.links,
        resource: s.resource.attributes,
      })),
    );
    const leaks: string[] = [];
    for (const secret of secrets) {
      for (const [where, text] of [
        ['logs', logText],
        ['metrics', metricsText],
        ['spans', spanText],
      ] as const) {
        if (text.includes(secret)) leaks.push(`${where}: ${secret.slice(0, 24)}…`);
      }
    }
    expect(leaks).toEqual([]);
    // The redaction is visible, i.e. the test did put secrets in harm's way.
    expect(logText).toContain('[REDACTED]');
  });

  it('wrote exactly one request log line per request, with the request id of the response header', () => {
    const lines = requestLines();
    expect(sent.every((s) => typeof s.requestId === 'string' && s.requestId.startsWith('req_'))).toBe(true);
    const ids = lines.map((l) => l.requestId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(lines).toHaveLength(sent.length);
    const byId = new Map(lines.map((l) => [l.requestId, l]));
    for (const s of sent) {
      const line = byId.get(s.requestId!);
      expect(line, `${s.method} ${s.path} ${s.requestId}`).toBeDefined();
      expect(line).toMatchObject({ method: s.method, status: s.status });
      expect(String(line!.path)).toBe(s.path.replace(CLIENT_KEY, '[REDACTED]').replace(managedKey, '[REDACTED]'));
    }
  });
});

/** The one summary line each request writes (the request logger's `request …` messages). */
function requestLines(): Record<string, unknown>[] {
  return logs.json().filter((l) => typeof l.msg === 'string' && /^request (completed|failed|aborted)/.test(l.msg) && 'status' in l);
}
