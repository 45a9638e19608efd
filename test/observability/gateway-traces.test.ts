/**
 * The span tree the real gateway records for messages requests (InMemorySpanExporter): server span
 * → credential.select (→ credential.refresh, kiro.generate_assistant_response → the undici HTTP
 * call to Kiro), the undici token refresh call, and kiro.stream, with the right parents,
 * attributes and events; an incoming traceparent is continued; upstream failures end in error
 * statuses. (Redis command spans need a process that loads ioredis after tracing starts: see
 * process-traces.test.ts.)
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { SPAN_ATTRS, SPAN_NAMES, STREAM_EVENTS, initTracing, type TracingHandle } from '../../src/observability/tracing.js';
import { simScript, type Script } from '../../src/simulator/index.js';
import { eventually, post, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';
import { credentialId, rawStream } from '../e2e/sse.js';
import { captureLogs } from './helpers.js';

const MODEL = 'claude-sonnet-4-6';
const A = refreshTokenFor('gw-traces-a');
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN_ID = '00f067aa0ba902b7';
const SERVER = 'POST /v1/messages';

const body = (script?: Script, extra: Record<string, unknown> = {}) => ({
  model: MODEL,
  max_tokens: 256,
  messages: [{ role: 'user', content: `Hello ${script ? simScript(script) : ''}` }],
  ...extra,
});

const exporter = new InMemorySpanExporter();
let tracing: TracingHandle;
let stack: Stack | undefined;

beforeAll(() => {
  tracing = initTracing({ exporter });
});
afterAll(async () => {
  await tracing.shutdown();
});
afterEach(async () => {
  await stack?.close();
  stack = undefined;
  exporter.reset();
});

async function start(): Promise<Stack> {
  // The request logger assigns the request ids (response header and server span attribute).
  const logger = createLogger({ level: 'silent', pretty: false, destination: captureLogs() });
  stack = await startStack({ credentials: [{ refreshToken: A, authMethod: 'social' }], observability: { tracing, logger } });
  return stack;
}

const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const idOf = (s: ReadableSpan) => s.spanContext().spanId;
const traceOf = (s: ReadableSpan) => s.spanContext().traceId;

/** Waits for the server span of `requestId` to be exported, then returns every span of its trace. */
async function traceOfRequest(requestId: string): Promise<{ server: ReadableSpan; spans: ReadableSpan[] }> {
  let server: ReadableSpan | undefined;
  await eventually(() => {
    server = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.attributes[SPAN_ATTRS.requestId] === requestId);
    return server !== undefined;
  });
  const spans = exporter.getFinishedSpans().filter((s) => traceOf(s) === traceOf(server!));
  return { server: server!, spans };
}

const UNDICI_SCOPE = '@opentelemetry/instrumentation-undici';

/** The undici instrumentation's HTTP client spans whose URL path ends with `path`. */
function httpCalls(spans: ReadableSpan[], path: string): ReadableSpan[] {
  return spans.filter((s) => s.instrumentationScope.name === UNDICI_SCOPE && String(s.attributes['url.path']).endsWith(path));
}

function named(spans: ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((s) => s.name === name);
}

function one(spans: ReadableSpan[], name: string): ReadableSpan {
  const found = named(spans, name);
  expect(found, `spans named ${name}`).toHaveLength(1);
  return found[0];
}

/** Streams with fetch, keeping the response headers (for the request id). */
async function stream(s: Stack, payload: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(`${s.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': s.client.apiKey!, ...headers },
    body: JSON.stringify({ ...payload, stream: true }),
  });
  const text = await res.text();
  return { status: res.status, requestId: res.headers.get('request-id')!, text };
}

describe('gateway traces', () => {
  it('records the span tree of a streamed request that refreshes its token', async () => {
    const s = await start();
    const id = credentialId(s, A);
    const res = await stream(s, body());
    expect(res.status).toBe(200);
    expect(res.text).toContain('event: message_stop');

    const { server, spans } = await traceOfRequest(res.requestId);
    expect(server.name).toBe(SERVER);
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(parentId(server)).toBeUndefined();
    expect(server.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/messages',
      'http.response.status_code': 200,
      [SPAN_ATTRS.model]: MODEL,
      [SPAN_ATTRS.credentialId]: id,
      [SPAN_ATTRS.outcome]: 'ok',
      [SPAN_ATTRS.stopReason]: 'end_turn',
      [SPAN_ATTRS.stream]: true,
    });

    const select = one(spans, SPAN_NAMES.credentialSelect);
    const refresh = one(spans, SPAN_NAMES.tokenRefresh);
    const call = one(spans, SPAN_NAMES.upstreamCall);
    const kiroStream = one(spans, SPAN_NAMES.stream);
    const [kiroHttp, ...moreKiroHttp] = httpCalls(spans, '/generateAssistantResponse');
    const [refreshHttp, ...moreRefreshHttp] = httpCalls(spans, '/refreshToken');
    // The credential's first attempt learns its model list (ListAvailableModels) with the fresh token.
    const [listModelsHttp, ...moreListModelsHttp] = httpCalls(spans, '/ListAvailableModels');
    expect([moreKiroHttp, moreRefreshHttp, moreListModelsHttp]).toEqual([[], [], []]);
    expect(listModelsHttp).toBeDefined();
    expect(spans).toHaveLength(8);

    expect(parentId(select)).toBe(idOf(server));
    expect(parentId(refresh)).toBe(idOf(select));
    expect(parentId(call)).toBe(idOf(select));
    expect(parentId(kiroStream)).toBe(idOf(server));
    // The HTTP calls: the Kiro call under the upstream call span, the refresh under the request.
    expect(parentId(kiroHttp!)).toBe(idOf(call));
    expect(parentId(refreshHttp!)).toBe(idOf(server));
    for (const http of [kiroHttp!, refreshHttp!]) {
      expect(http.kind).toBe(SpanKind.CLIENT);
      expect(http.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 200 });
      expect(http.status.code).not.toBe(SpanStatusCode.ERROR);
    }
    for (const span of spans) expect(traceOf(span)).toBe(traceOf(server));

    expect(select.attributes).toMatchObject({ [SPAN_ATTRS.model]: MODEL, [SPAN_ATTRS.credentialId]: id });
    expect(refresh.attributes).toMatchObject({ [SPAN_ATTRS.credentialId]: id });
    expect(refresh.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(call.kind).toBe(SpanKind.CLIENT);
    expect(call.attributes).toMatchObject({ [SPAN_ATTRS.credentialId]: id, 'http.response.status_code': 200 });
    expect(call.status.code).not.toBe(SpanStatusCode.ERROR);

    // The refresh happened before the upstream call, both inside the selection. Span start times
    // come from Date.now() (1 ms resolution) in the SDK and in recordPastSpan: compare with 2 ms slack.
    const t = (time: [number, number]) => time[0] * 1e3 + time[1] / 1e6;
    const before = (a: [number, number], b: [number, number]) => expect(t(a)).toBeLessThanOrEqual(t(b) + 2);
    before(refresh.endTime, call.startTime);
    before(select.startTime, refresh.startTime);
    before(call.endTime, select.endTime);
    before(select.endTime, kiroStream.startTime);
    before(kiroStream.endTime, server.endTime);

    const names = kiroStream.events.map((e) => e.name);
    expect(new Set(names)).toEqual(new Set([STREAM_EVENTS.firstFrame, STREAM_EVENTS.firstByte, STREAM_EVENTS.end]));
    expect(names).toHaveLength(3);
    expect(names.at(-1)).toBe(STREAM_EVENTS.end);
    const inputTokens = kiroStream.attributes[SPAN_ATTRS.inputTokens];
    const outputTokens = kiroStream.attributes[SPAN_ATTRS.outputTokens];
    expect(kiroStream.attributes).toMatchObject({
      [SPAN_ATTRS.model]: MODEL,
      [SPAN_ATTRS.credentialId]: id,
      [SPAN_ATTRS.stopReason]: 'end_turn',
      [SPAN_ATTRS.outcome]: 'ok',
    });
    expect(inputTokens).toBeGreaterThan(0);
    expect(outputTokens).toBeGreaterThan(0);
    // The stream span and the server span agree with what the client was told.
    const usage = JSON.parse(res.text.split('event: message_delta\ndata: ')[1]!.split('\n')[0]!).usage;
    expect(inputTokens).toBe(usage.input_tokens);
    expect(outputTokens).toBe(usage.output_tokens);
    expect(server.attributes[SPAN_ATTRS.inputTokens]).toBe(usage.input_tokens);
    expect(kiroStream.status.code).not.toBe(SpanStatusCode.ERROR);

    // A second request has a fresh token: no refresh span.
    exporter.reset();
    const again = await stream(s, body());
    const second = await traceOfRequest(again.requestId);
    expect(named(second.spans, SPAN_NAMES.tokenRefresh)).toHaveLength(0);
    expect(httpCalls(second.spans, '/refreshToken')).toHaveLength(0);
    expect(second.spans.map((x) => x.name).sort()).toEqual(
      [SERVER, SPAN_NAMES.credentialSelect, SPAN_NAMES.upstreamCall, 'POST', SPAN_NAMES.stream].sort(),
    );
  });

  it('continues an incoming W3C traceparent', async () => {
    const s = await start();
    const res = await stream(s, body(), { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01`, baggage: 'user.email=someone%40example.com' });
    expect(res.status).toBe(200);

    const { server, spans } = await traceOfRequest(res.requestId);
    expect(traceOf(server)).toBe(TRACE_ID);
    expect(parentId(server)).toBe(PARENT_SPAN_ID);
    expect(server.parentSpanContext?.isRemote).toBe(true);
    expect(spans.length).toBeGreaterThanOrEqual(4);
    for (const span of spans) expect(traceOf(span)).toBe(TRACE_ID);
    // Upstream, the Kiro call carries the trace on (the undici span as its parent) but not the
    // client's baggage.
    const [kiroHttp] = httpCalls(spans, '/generateAssistantResponse');
    const upstream = s.sim.stats.requests.filter((r) => r.path === '/generateAssistantResponse').at(-1);
    expect(upstream?.headers.traceparent).toBe(`00-${TRACE_ID}-${idOf(kiroHttp!)}-01`);
    expect(upstream?.headers.baggage).toBeUndefined();
  });

  it('marks the spans failed when every upstream attempt gets a 5xx', async () => {
    const s = await start();
    await post(`${s.url}/v1/messages`, body()); // token refreshed beforehand
    s.sim.setAccount(A, { mode: 'server-error-500' });
    exporter.reset();

    const res = await stream(s, body());
    expect(res.status).toBe(502);

    const { server, spans } = await traceOfRequest(res.requestId);
    expect(server.status.code).toBe(SpanStatusCode.ERROR);
    expect(server.attributes['http.response.status_code']).toBe(502);
    expect(server.attributes[SPAN_ATTRS.outcome]).toBe('server_error');
    const select = one(spans, SPAN_NAMES.credentialSelect);
    expect(select.status.code).toBe(SpanStatusCode.ERROR);
    const calls = named(spans, SPAN_NAMES.upstreamCall);
    expect(calls).toHaveLength(3);
    const http = httpCalls(spans, '/generateAssistantResponse');
    expect(http).toHaveLength(3);
    for (const call of calls) {
      expect(parentId(call)).toBe(idOf(select));
      expect(call.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'HTTP 500' });
      expect(call.attributes).toMatchObject({ 'http.response.status_code': 500, [SPAN_ATTRS.outcome]: 'server_error' });
      // each attempt's HTTP call, under its own attempt span
      const own = http.filter((h) => parentId(h) === idOf(call));
      expect(own).toHaveLength(1);
      expect(own[0]!.attributes['http.response.status_code']).toBe(500);
    }
    expect(named(spans, SPAN_NAMES.stream)).toHaveLength(0);
  });

  it('marks the stream and server spans failed when the stream is cut mid-frame', async () => {
    const s = await start();
    const res = await rawStream(s, body({ events: [{ text: 'one ' }, { text: 'two ' }, { text: 'three' }], fault: { kind: 'cut', afterFrames: 2 } }));
    expect(res.status).toBe(200);
    expect(res.records.at(-1)?.event).toBe('error');

    await eventually(() => exporter.getFinishedSpans().some((x) => x.kind === SpanKind.SERVER));
    const server = exporter.getFinishedSpans().find((x) => x.kind === SpanKind.SERVER)!;
    const spans = exporter.getFinishedSpans().filter((x) => traceOf(x) === traceOf(server));
    expect(server.attributes['http.response.status_code']).toBe(200);
    expect(server.status.code).toBe(SpanStatusCode.ERROR);
    expect(server.attributes[SPAN_ATTRS.outcome]).toBe('truncated');
    const kiroStream = one(spans, SPAN_NAMES.stream);
    expect(kiroStream.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'truncated' });
    expect(kiroStream.attributes[SPAN_ATTRS.outcome]).toBe('truncated');
    expect(kiroStream.events.map((e) => e.name)).toContain(STREAM_EVENTS.end);
    // The upstream call itself answered 200: not an error.
    expect(one(spans, SPAN_NAMES.upstreamCall).status.code).not.toBe(SpanStatusCode.ERROR);
  });
});
