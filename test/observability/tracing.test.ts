import Router from '@koa/router';
import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import Koa from 'koa';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, createRequestLogger, type ObservabilityState } from '../../src/observability/logger.js';
import {
  SPAN_ATTRS,
  SPAN_NAMES,
  STREAM_EVENTS,
  StreamSpan,
  createTracingMiddleware,
  initTracing,
  safeAttributes,
  setSafeAttributes,
  withChildSpan,
  type TracingHandle,
} from '../../src/observability/tracing.js';
import { captureLogs, serve, sleep, waitFor, type Served } from './helpers.js';

const ACCESS_TOKEN = 'aoa_SECRET_access_token_0123456789';
const REFRESH_TOKEN = 'rt_SECRET_refresh_token_0123456789';
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT_SPAN_ID = 'b7ad6b7169203331';

let handle: TracingHandle | undefined;
let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
  await handle?.shutdown();
  handle = undefined;
  vi.unstubAllEnvs();
});

function byName(spans: ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found, `spans named ${name}`).toHaveLength(1);
  return found[0];
}

/** Every attribute key and value of every span and span event, as one string. */
function everything(spans: ReadableSpan[]): string {
  return JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })));
}

/**
 * A gateway-shaped app: tracing → request logger → router, with a streaming /v1/messages. With
 * `implicitParents` the handler relies on the active context for parents; without, it passes them explicitly.
 */
async function startApp(exporter: InMemorySpanExporter, implicitParents = false) {
  handle = initTracing({ exporter, scrub: (t) => t.replaceAll(ACCESS_TOKEN, '[REDACTED]') });
  const parentOf = (span: Span | undefined) => (implicitParents ? {} : { parent: span });
  const logs = captureLogs();
  const app = new Koa();
  app.use(createTracingMiddleware(handle.tracer));
  app.use(createRequestLogger(createLogger({ level: 'info', pretty: false, destination: logs })));
  const router = new Router();
  router.post('/v1/messages', async (ctx) => {
    const state = ctx.state as ObservabilityState;
    const credentialId = await withChildSpan(
      SPAN_NAMES.credentialSelect,
      { [SPAN_ATTRS.model]: 'claude-sonnet-4-5', accessToken: ACCESS_TOKEN },
      async (span) => {
        setSafeAttributes(span, { [SPAN_ATTRS.credentialId]: 3, refreshToken: REFRESH_TOKEN });
        return 3;
      },
      parentOf(state.span),
    );
    await withChildSpan(
      SPAN_NAMES.tokenRefresh,
      { [SPAN_ATTRS.credentialId]: credentialId },
      async (refreshSpan) => {
        await sleep(1);
        await withChildSpan(SPAN_NAMES.refreshLockWait, undefined, () => sleep(5), parentOf(refreshSpan));
      },
      parentOf(state.span),
    );
    await withChildSpan(SPAN_NAMES.upstreamCall, { [SPAN_ATTRS.credentialId]: credentialId }, () => sleep(5), {
      kind: SpanKind.CLIENT,
      ...parentOf(state.span),
    });
    const stream = implicitParents ? StreamSpan.start() : StreamSpan.start(SPAN_NAMES.stream, undefined, state.span);
    ctx.respond = false;
    ctx.res.writeHead(200, { 'content-type': 'text/event-stream' });
    try {
      for (let i = 0; i < 5; i++) {
        stream.firstFrame();
        ctx.res.write(`event: content_block_delta\ndata: {"i":${i}}\n\n`);
        stream.firstByte();
        await sleep(10);
      }
      ctx.res.end();
    } finally {
      stream.end('ok', { [SPAN_ATTRS.outputTokens]: 7 });
      stream.end('truncated'); // ignored
      state.logFields = {
        model: 'claude-sonnet-4-5',
        credentialId,
        credentialFingerprint: 'abcdef123456',
        outcome: 'ok',
        stopReason: 'end_turn',
        inputTokens: 12,
        outputTokens: 7,
        stream: true,
      };
    }
  });
  router.get('/throw', () => {
    throw new Error(`upstream said ${ACCESS_TOKEN} is invalid`);
  });
  router.get('/bad-gateway', (ctx) => {
    ctx.status = 502;
    ctx.body = 'upstream failed';
  });
  router.get('/cut', (ctx) => {
    (ctx.state as ObservabilityState).logFields = { outcome: 'truncated' };
    ctx.body = 'partial';
  });
  router.get('/bad-request', (ctx) => {
    (ctx.state as ObservabilityState).logFields = { outcome: 'bad_request' };
    ctx.status = 400;
    ctx.body = 'nope';
  });
  router.get('/child-fails', async (ctx) => {
    await withChildSpan(
      'failing.child',
      undefined,
      async () => {
        throw new Error('child broke');
      },
      parentOf((ctx.state as ObservabilityState).span),
    ).catch(() => undefined);
    ctx.body = 'ok';
  });
  app.use(router.routes());
  served = await serve(app);
  return { url: served.url, logs };
}

describe('initTracing', () => {
  it('is off without an exporter or OTLP endpoint, and everything still works', async () => {
    handle = initTracing({});
    expect(handle.enabled).toBe(false);
    const mw = createTracingMiddleware(handle.tracer);
    let called = false;
    await mw({} as never, async () => void (called = true));
    expect(called).toBe(true);
    let sawSpan = false;
    const v = await withChildSpan('x', { a: 1 }, (span) => {
      sawSpan = !span.isRecording();
      return 42;
    });
    expect(v).toBe(42);
    expect(sawSpan).toBe(true);
    const s = StreamSpan.start();
    s.firstFrame();
    s.firstByte();
    s.end('ok');
    expect(StreamSpan.start()).toBe(s); // one shared inert instance
    await handle.shutdown();
  });

  it('is on when an exporter is configured in the environment, off otherwise; OTEL_SDK_DISABLED wins', async () => {
    const cases: Array<[Record<string, string>, boolean]> = [
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' }, true],
      [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:1/v1/traces' }, true],
      [{ OTEL_TRACES_EXPORTER: 'console' }, true],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_TRACES_EXPORTER: 'none' }, false],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_SDK_DISABLED: 'true' }, false],
      [{ OTEL_SERVICE_NAME: 'no-exporter-here' }, false],
    ];
    for (const [env, on] of cases) {
      for (const [key, value] of Object.entries(env)) vi.stubEnv(key, value);
      handle = initTracing();
      expect(handle.enabled, JSON.stringify(env)).toBe(on);
      await handle.shutdown();
      vi.unstubAllEnvs();
    }
    vi.stubEnv('OTEL_SDK_DISABLED', 'true');
    handle = initTracing({ exporter: new InMemorySpanExporter() });
    expect(handle.enabled).toBe(false);
  });

  it('samples as OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG say', async () => {
    const exporter = new InMemorySpanExporter();
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'traceidratio');
    vi.stubEnv('OTEL_TRACES_SAMPLER_ARG', '0');
    await startApp(exporter);
    for (let i = 0; i < 5; i++) await (await fetch(`${served!.url}/v1/messages`, { method: 'POST' })).text();
    await sleep(50);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    await served!.close();
    served = undefined;
    await handle!.shutdown();

    // Parent-based with a ratio of 0: only what the caller sampled is recorded, all of its tree.
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'parentbased_traceidratio');
    const second = new InMemorySpanExporter(); // the shutdown stopped the first one
    await startApp(second);
    await (await fetch(`${served!.url}/v1/messages`, { method: 'POST' })).text();
    await (await fetch(`${served!.url}/v1/messages`, { method: 'POST', headers: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-00` } })).text();
    await sleep(50);
    expect(second.getFinishedSpans()).toHaveLength(0);
    await (await fetch(`${served!.url}/v1/messages`, { method: 'POST', headers: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01` } })).text();
    const spans = await waitFor(() => (second.getFinishedSpans().length === 6 ? second.getFinishedSpans() : undefined), 3000, 'six spans');
    for (const span of spans) expect(span.spanContext().traceId).toBe(TRACE_ID);
  });

  it('refuses a second live initialisation, and can start again after shutdown', async () => {
    handle = initTracing({ exporter: new InMemorySpanExporter() });
    expect(() => initTracing({ exporter: new InMemorySpanExporter() })).toThrow(/already on/);
    await handle.shutdown();
    await handle.shutdown(); // idempotent
    handle = initTracing({ exporter: new InMemorySpanExporter() });
    expect(handle.enabled).toBe(true);
  });

  it('sets the service name on the resource', async () => {
    const exporter = new InMemorySpanExporter();
    handle = initTracing({ exporter, serviceName: 'kiro-gateway-test', serviceVersion: '1.2.3' });
    await withChildSpan('x', undefined, () => undefined);
    // Exported once the resource's asynchronous attributes (host detector) have settled.
    const [span] = await waitFor(() => (exporter.getFinishedSpans().length ? exporter.getFinishedSpans() : undefined), 3000, 'span');
    expect(span.resource.attributes['service.name']).toBe(process.env.OTEL_SERVICE_NAME ?? 'kiro-gateway-test');
    expect(span.resource.attributes['service.version']).toBe('1.2.3');
  });
});

describe('createTracingMiddleware', () => {
  it.each([
    ['explicit parents', false],
    ['implicit parents from the active context', true],
  ])('builds the request span tree for a streamed response (%s)', async (_label, implicitParents) => {
    const exporter = new InMemorySpanExporter();
    const { url, logs } = await startApp(exporter, implicitParents);
    const res = await fetch(`${url}/v1/messages`, { method: 'POST' });
    expect((await res.text()).split('content_block_delta')).toHaveLength(6);
    const spans = await waitFor(
      () => (exporter.getFinishedSpans().some((s) => s.kind === SpanKind.SERVER) ? exporter.getFinishedSpans() : undefined),
      3000,
      'server span',
    );

    const server = byName(spans, 'POST /v1/messages');
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.parentSpanContext).toBeUndefined();
    const select = byName(spans, SPAN_NAMES.credentialSelect);
    const refresh = byName(spans, SPAN_NAMES.tokenRefresh);
    const lockWait = byName(spans, SPAN_NAMES.refreshLockWait);
    const upstream = byName(spans, SPAN_NAMES.upstreamCall);
    const stream = byName(spans, SPAN_NAMES.stream);
    expect(spans).toHaveLength(6);

    const serverId = server.spanContext().spanId;
    const traceId = server.spanContext().traceId;
    for (const child of [select, refresh, upstream, stream]) {
      expect(child.parentSpanContext?.spanId, child.name).toBe(serverId);
      expect(child.spanContext().traceId).toBe(traceId);
    }
    expect(lockWait.parentSpanContext?.spanId).toBe(refresh.spanContext().spanId);
    expect(upstream.kind).toBe(SpanKind.CLIENT);

    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/messages',
      'http.response.status_code': 200,
      'url.path': '/v1/messages',
      [SPAN_ATTRS.model]: 'claude-sonnet-4-5',
      [SPAN_ATTRS.credentialId]: 3,
      [SPAN_ATTRS.outcome]: 'ok',
      [SPAN_ATTRS.stopReason]: 'end_turn',
      [SPAN_ATTRS.inputTokens]: 12,
      [SPAN_ATTRS.outputTokens]: 7,
      [SPAN_ATTRS.stream]: true,
    });
    expect(server.attributes[SPAN_ATTRS.requestId]).toMatch(/^req_/);
    expect(server.status.code).toBe(SpanStatusCode.UNSET);
    expect(select.attributes).toEqual({ [SPAN_ATTRS.model]: 'claude-sonnet-4-5', [SPAN_ATTRS.credentialId]: 3 });

    // one event each, however often the pipeline called them
    expect(stream.events.map((e) => e.name)).toEqual([STREAM_EVENTS.firstFrame, STREAM_EVENTS.firstByte, STREAM_EVENTS.end]);
    expect(stream.attributes).toMatchObject({ [SPAN_ATTRS.outcome]: 'ok', [SPAN_ATTRS.outputTokens]: 7 });
    expect(stream.status.code).toBe(SpanStatusCode.UNSET);
    // The server span covers the whole stream. Spans that do not share OTel's anchored clock (the
    // stream span under AsyncLocalStorage) can drift by a few hundred µs against each other, so the
    // comparison allows 1 ms; what matters is that the server span does not end before the stream.
    const endUs = (s: ReadableSpan) => s.endTime[0] * 1e6 + s.endTime[1] / 1e3;
    expect(endUs(server) + 1_000).toBeGreaterThanOrEqual(endUs(stream));

    // the request log line carries the trace id
    const line = logs.json().find((l) => l.msg === 'request completed');
    expect(line?.traceId).toBe(traceId);

    const all = everything(spans);
    expect(all).not.toContain(ACCESS_TOKEN);
    expect(all).not.toContain(REFRESH_TOKEN);
    expect(all).not.toContain('abcdef123456'); // the fingerprint stays in logs
    expect(all).not.toMatch(/accessToken|refreshToken/);
  });

  it('continues an incoming W3C traceparent', async () => {
    const exporter = new InMemorySpanExporter();
    const { url } = await startApp(exporter);
    await (await fetch(`${url}/v1/messages`, { method: 'POST', headers: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01` } })).text();
    const server = await waitFor(() => exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER), 3000, 'server span');
    expect(server.spanContext().traceId).toBe(TRACE_ID);
    expect(server.parentSpanContext?.spanId).toBe(PARENT_SPAN_ID);
    expect(server.parentSpanContext?.isRemote).toBe(true);
    for (const s of exporter.getFinishedSpans()) expect(s.spanContext().traceId).toBe(TRACE_ID);
  });

  it('ignores a malformed traceparent and starts a new trace', async () => {
    const exporter = new InMemorySpanExporter();
    const { url } = await startApp(exporter);
    await (await fetch(`${url}/bad-request`, { headers: { traceparent: 'garbage' } })).text();
    const server = await waitFor(() => exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER), 3000, 'server span');
    expect(server.parentSpanContext).toBeUndefined();
    expect(server.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('marks failures: thrown errors, 5xx and failure outcomes; not client errors', async () => {
    const exporter = new InMemorySpanExporter();
    const { url } = await startApp(exporter);
    for (const path of ['/throw', '/bad-gateway', '/cut', '/bad-request', '/child-fails']) await (await fetch(url + path)).text();
    const spans = await waitFor(
      () => (exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER).length === 5 ? exporter.getFinishedSpans() : undefined),
      3000,
      'five server spans',
    );

    const thrown = byName(spans, 'GET /throw');
    expect(thrown.status.code).toBe(SpanStatusCode.ERROR);
    expect(thrown.attributes['http.response.status_code']).toBe(500);
    const exception = thrown.events.find((e) => e.name === 'exception');
    expect(exception?.attributes?.['exception.message']).toBe('upstream said [REDACTED] is invalid');
    expect(thrown.status.message).toBe('upstream said [REDACTED] is invalid');

    const badGateway = byName(spans, 'GET /bad-gateway');
    expect(badGateway.status.code).toBe(SpanStatusCode.ERROR);
    expect(badGateway.attributes['error.type']).toBe('502');

    const cut = byName(spans, 'GET /cut');
    expect(cut.attributes['http.response.status_code']).toBe(200);
    expect(cut.status).toEqual({ code: SpanStatusCode.ERROR, message: 'truncated' });

    expect(byName(spans, 'GET /bad-request').status.code).toBe(SpanStatusCode.UNSET);

    const child = byName(spans, 'failing.child');
    expect(child.status).toEqual({ code: SpanStatusCode.ERROR, message: 'child broke' });
    expect(child.parentSpanContext?.spanId).toBe(byName(spans, 'GET /child-fails').spanContext().spanId);
    expect(byName(spans, 'GET /child-fails').status.code).toBe(SpanStatusCode.UNSET);

    expect(everything(spans)).not.toContain(ACCESS_TOKEN);
  });

  it('names unmatched requests by method only and records client disconnects', async () => {
    const exporter = new InMemorySpanExporter();
    handle = initTracing({ exporter });
    const app = new Koa();
    app.use(createTracingMiddleware(handle.tracer));
    const router = new Router();
    router.post('/hang', async (ctx) => {
      ctx.respond = false;
      ctx.res.writeHead(200);
      ctx.res.write('x');
      await new Promise((resolve) => ctx.res.once('close', resolve));
    });
    app.use(router.routes());
    served = await serve(app);
    await (await fetch(`${served.url}/no/such/path?token=abc`)).text();
    const ac = new AbortController();
    const res = await fetch(`${served.url}/hang`, { method: 'POST', signal: ac.signal });
    await res.body!.getReader().read();
    ac.abort();
    const spans = await waitFor(() => (exporter.getFinishedSpans().length === 2 ? exporter.getFinishedSpans() : undefined), 3000, 'spans');
    const unmatched = byName(spans, 'GET');
    expect(unmatched.attributes['http.route']).toBeUndefined();
    expect(unmatched.attributes['url.path']).toBe('/no/such/path');
    expect(unmatched.attributes['http.response.status_code']).toBe(404);
    expect(byName(spans, 'POST /hang').attributes[SPAN_ATTRS.clientDisconnected]).toBe(true);
  });
});

describe('withChildSpan', () => {
  it('creates a root span outside a request and rethrows failures after marking the span', async () => {
    const exporter = new InMemorySpanExporter();
    handle = initTracing({ exporter });
    await expect(withChildSpan('bg.refresh', { [SPAN_ATTRS.credentialId]: 1 }, () => Promise.reject(new Error('nope')))).rejects.toThrow('nope');
    const [span] = await waitFor(() => (exporter.getFinishedSpans().length ? exporter.getFinishedSpans() : undefined), 3000, 'span');
    expect(span.name).toBe('bg.refresh');
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('Error');
  });

  it('makes the child span active inside fn, so spans without an explicit parent nest under it', async () => {
    const exporter = new InMemorySpanExporter();
    handle = initTracing({ exporter });
    let inner: string | undefined;
    await withChildSpan('outer', undefined, async (span) => {
      await sleep(1);
      inner = trace.getActiveSpan()?.spanContext().spanId;
      expect(inner).toBe(span.spanContext().spanId);
      await withChildSpan('inner', undefined, () => undefined);
    });
    expect(inner).toBeDefined();
    const spans = await waitFor(() => (exporter.getFinishedSpans().length === 2 ? exporter.getFinishedSpans() : undefined), 3000, 'spans');
    expect(byName(spans, 'inner').parentSpanContext?.spanId).toBe(byName(spans, 'outer').spanContext().spanId);
  });
});

describe('safeAttributes', () => {
  it('drops secret-looking keys and undefined values, keeps token counts, truncates long strings', () => {
    const out = safeAttributes({
      accessToken: 'a',
      refreshToken: 'b',
      clientSecret: 'c',
      kiroApiKey: 'd',
      proxyPassword: 'e',
      'http.request.header.authorization': 'Bearer x',
      'http.request.header.x-api-key': 'k',
      'http.request.header.cookie': 'c=1',
      token: 't',
      'gen_ai.usage.input_tokens': 5,
      [SPAN_ATTRS.credentialId]: 2,
      long: 'x'.repeat(5000),
      missing: undefined,
    });
    expect(Object.keys(out).sort()).toEqual([SPAN_ATTRS.credentialId, 'gen_ai.usage.input_tokens', 'long'].sort());
    expect((out.long as string).length).toBe(1024);
  });
});
