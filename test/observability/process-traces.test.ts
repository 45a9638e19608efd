/**
 * Traces of the real process (`node dist/src/main.js`, Redis store on a real redis-server) exported
 * over OTLP/HTTP JSON to a collector stand-in in this test: the ESM loader hook lets the ioredis
 * instrumentation patch ioredis, so the Redis commands of a request that refreshes its token
 * (lock, token write) appear under the request, next to the undici spans of the refresh and the
 * Kiro call; SIGTERM flushes the last spans after the drain; no secret is in any exported byte.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startReplica, type Replica } from '../helpers/replicas.js';
import { ADMIN_KEY, API_KEY, refreshTokenFor, writeCredentials } from '../helpers/stack.js';

const RT = refreshTokenFor('process-traces');
const UNDICI = '@opentelemetry/instrumentation-undici';
const IOREDIS = '@opentelemetry/instrumentation-ioredis';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: Record<string, unknown> }>;
  scope: string;
}

/** An OTLP/HTTP collector stand-in: keeps every export body. */
async function startCollector(): Promise<{ url: string; bodies: string[]; spans(): OtlpSpan[]; close(): Promise<void> }> {
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const spans = () =>
    bodies.flatMap((b) =>
      (JSON.parse(b).resourceSpans ?? []).flatMap((rs: any) =>
        (rs.scopeSpans ?? []).flatMap((ss: any) => (ss.spans ?? []).map((s: any) => ({ ...s, scope: ss.scope?.name as string }))),
      ),
    );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    spans,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes?.find((a) => a.key === key)?.value;
  return v ? (v.stringValue ?? v.intValue ?? v.boolValue) : undefined;
};

let redis: RedisServer;
let sim: Simulator;
let collector: Awaited<ReturnType<typeof startCollector>>;
let gw: Replica;

beforeAll(async () => {
  redis = await startRedis();
  sim = await createSimulator({ recentRequests: 1_000 });
  collector = await startCollector();
  gw = await startReplica({
    simUrl: sim.url,
    redisUrl: redis.url,
    credentialsPath: writeCredentials([{ refreshToken: RT, authMethod: 'social' }]),
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'kiro-gateway-process-test',
    },
  });
}, 240_000);

afterAll(async () => {
  await gw?.stop();
  await collector?.close();
  await sim?.close();
  await redis?.stop();
});

async function messages(stream: boolean): Promise<{ status: number; requestId: string; text: string }> {
  const res = await fetch(`${gw.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 64, stream, messages: [{ role: 'user', content: 'Hello' }] }),
  });
  return { status: res.status, requestId: res.headers.get('request-id') ?? '', text: await res.text() };
}

describe('traces of the real process', () => {
  it('exports undici and ioredis spans under the request, flushed on SIGTERM, without a secret', async () => {
    expect(gw.output()).toMatch(/"tracing":true/);
    // The first request refreshes the token: Redis lock + token write, and the refresh call.
    const first = await messages(true);
    expect(first.status).toBe(200);
    expect(first.text).toContain('event: message_stop');
    // An expired access token: 403, forced refresh, retry.
    sim.expireAccessTokens(RT);
    const second = await messages(false);
    expect(second.status).toBe(200);
    const balance = await fetch(`${gw.url}/api/admin/credentials/1/balance`, { headers: { 'x-api-key': ADMIN_KEY } });
    expect(balance.status).toBe(200);

    // SIGTERM: drain, then the SDK flushes what the batch processor still holds.
    await gw.stop(10_000);
    expect(gw.child.exitCode).toBe(0);

    const spans = collector.spans();
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const serverOf = (requestId: string) => spans.find((s) => s.kind === 2 && attr(s, 'kiro.request_id') === requestId);
    const under = (root: OtlpSpan, s: OtlpSpan): boolean => {
      for (let p = s.parentSpanId ? byId.get(s.parentSpanId) : undefined; p; p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined) {
        if (p.spanId === root.spanId) return true;
      }
      return false;
    };

    for (const request of [first, second]) {
      const server = serverOf(request.requestId);
      expect(server, `server span of ${request.requestId}`).toBeDefined();
      const inTrace = spans.filter((s) => s.traceId === server!.traceId && s !== server);
      const redisSpans = inTrace.filter((s) => s.scope === IOREDIS);
      const http = inTrace.filter((s) => s.scope === UNDICI).map((s) => attr(s, 'url.path'));
      expect(redisSpans.length, `Redis spans of ${request.requestId}`).toBeGreaterThan(0);
      expect(http).toEqual(expect.arrayContaining(['/refreshToken', '/generateAssistantResponse']));
      for (const s of inTrace) expect(under(server!, s), `${s.scope} ${s.name} under the server span`).toBe(true);
      for (const s of redisSpans) {
        expect(attr(s, 'db.system.name')).toBe('redis');
        expect(String(attr(s, 'db.query.text'))).toMatch(/^[A-Z]/);
      }
    }
    // Every Redis span belongs to a request: the store's timers (heartbeat, resync) are not traced.
    for (const s of spans.filter((x) => x.scope === IOREDIS)) expect(s.parentSpanId, `${s.name} has a parent`).toBeTruthy();
    const balanceCalls = spans.filter((s) => s.scope === UNDICI && attr(s, 'url.path') === '/getUsageLimits');
    expect(balanceCalls).toHaveLength(1);

    // Nothing secret in any exported byte: keys, the refresh token(s), every access token issued.
    const secrets = new Set([API_KEY, ADMIN_KEY, RT]);
    for (const r of sim.stats.requests) {
      const auth = r.headers.authorization;
      if (typeof auth === 'string' && auth.startsWith('Bearer ')) secrets.add(auth.slice('Bearer '.length));
      const refreshToken = (r.body as { refreshToken?: unknown } | undefined)?.refreshToken;
      if (typeof refreshToken === 'string') secrets.add(refreshToken);
    }
    expect(secrets.size).toBeGreaterThan(4);
    const exported = collector.bodies.join('\n');
    expect([...secrets].filter((s) => exported.includes(s)).map((s) => `${s.slice(0, 16)}…`)).toEqual([]);
  });
});
