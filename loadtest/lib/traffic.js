// Traffic that looks like real users of an Anthropic-compatible gateway: streaming and
// non-streaming chat, a tool-use round trip, extended thinking, a Claude-Code-shaped request (the
// captured first turn: big system prompt, 24 tools, betas), count_tokens, over a mix of models.
// Every answer is checked; every stream is read to the end and classified (lib/sse.js).
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Rate } from 'k6/metrics';
import { SharedArray } from 'k6/data';
import { API_KEY, MODELS, SIM_SCRIPTS, TARGET, numberEnv } from './config.js';
import { readSse } from './sse.js';

// Captured Claude Code turns, parsed once and shared by all VUs (paths relative to this file).
const CLAUDE_CODE = new SharedArray('claude-code turns', () => [
  JSON.parse(open('../fixtures/first-turn.json')),
  JSON.parse(open('../fixtures/tool-result-turn.json')),
]);

export const streamsComplete = new Counter('streams_complete');
export const streamsCleanError = new Counter('streams_clean_error');
export const streamsCut = new Counter('streams_cut');
/** 1 per stream that ended with message_stop, 0 otherwise (threshold: rate==1 in clean profiles). */
export const streamOk = new Rate('stream_ok');

const REQUEST_TIMEOUT = `${numberEnv('K6_REQUEST_TIMEOUT_S', 120)}s`;
// Long streams on the simulator (the scale profile): K6_STREAM_CHUNKS text pieces K6_CHUNK_DELAY_MS apart.
const STREAM_CHUNKS = numberEnv('K6_STREAM_CHUNKS', 0);
const CHUNK_DELAY_MS = numberEnv('K6_CHUNK_DELAY_MS', 0);

function headers(extra) {
  return Object.assign({ 'content-type': 'application/json', 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' }, extra || {});
}

/** A `<sim>` script for the Kiro simulator (only with K6_SIM_SCRIPTS=1; plain text for a real model). */
function sim(script) {
  if (!SIM_SCRIPTS) return '';
  const s = Object.assign({}, script);
  if (STREAM_CHUNKS > 0 && !s.events) {
    s.events = [{ text: 'This answer streams slowly on purpose, as long model answers do. '.repeat(4), fragments: STREAM_CHUNKS }];
  }
  if (CHUNK_DELAY_MS > 0 && s.chunkDelayMs === undefined) s.chunkDelayMs = CHUNK_DELAY_MS;
  return Object.keys(s).length > 0 ? ` <sim>${JSON.stringify(s)}</sim>` : '';
}

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

function post(path, body, kind, extraHeaders) {
  return http.post(`${TARGET}${path}`, JSON.stringify(body), {
    headers: headers(extraHeaders),
    timeout: REQUEST_TIMEOUT,
    responseType: 'text',
    tags: { kind, name: `${path.split('?')[0]} ${kind}` },
  });
}

/** Classifies and counts one streamed answer; returns the parsed stream. */
function checkStream(res, kind, extraChecks) {
  const okStatus = check(res, { 'status 200': (r) => r.status === 200 }, { kind });
  if (!okStatus) {
    if (__ENV.K6_LOG_PROBLEMS === '1') console.warn(`${kind}: status ${res.status} ${res.error || ''} ${String(res.body).slice(0, 200)}`);
    streamOk.add(0, { kind });
    return null;
  }
  const sse = readSse(res.body);
  if (sse.outcome === 'complete') streamsComplete.add(1, { kind });
  else if (sse.outcome === 'clean-error') streamsCleanError.add(1, { kind });
  else streamsCut.add(1, { kind });
  streamOk.add(sse.outcome === 'complete' ? 1 : 0, { kind });
  const checks = {
    'stream ends with message_stop': () => sse.outcome === 'complete',
    'stream has text or tool_use': () => sse.text.length > 0 || sse.toolUses.length > 0,
  };
  for (const [name, fn] of Object.entries(extraChecks || {})) checks[name] = () => fn(sse);
  check(res, checks, { kind });
  if (sse.outcome !== 'complete' && __ENV.K6_LOG_PROBLEMS === '1') console.warn(`${kind}: ${sse.problem}`);
  return sse;
}

function checkJson(res, kind) {
  let body = null;
  try {
    body = res.json();
  } catch (e) {
    body = null;
  }
  check(
    res,
    {
      'status 200': (r) => r.status === 200,
      'json message with text': () => body !== null && body.type === 'message' && body.content.some((b) => b.type === 'text' && b.text.length > 0),
    },
    { kind },
  );
  return body;
}

export function streamingChat(model) {
  const res = post('/v1/messages', {
    model: model || pick(MODELS),
    max_tokens: 1024,
    stream: true,
    messages: [{ role: 'user', content: `Explain in a paragraph why streaming responses need backpressure.${sim({})}` }],
  }, 'stream');
  return checkStream(res, 'stream');
}

export function jsonChat(model) {
  const res = post('/v1/messages', {
    model: model || pick(MODELS),
    max_tokens: 512,
    messages: [{ role: 'user', content: `Give me three names for a load balancer.${sim({})}` }],
  }, 'json');
  return checkJson(res, 'json');
}

const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

/** Turn 1 asks for a tool call; turn 2 sends the tool_result back and must get text. */
export function toolRoundTrip(model) {
  const m = model || pick(MODELS);
  const question = `What is the weather in Paris? Use the tool.${sim({ events: [{ text: 'Let me check.' }, { toolUse: { name: 'get_weather', input: { city: 'Paris' }, fragments: 3 } }] })}`;
  const first = checkStream(
    post('/v1/messages', { model: m, max_tokens: 1024, stream: true, tools: [WEATHER_TOOL], messages: [{ role: 'user', content: question }] }, 'tool'),
    'tool',
    SIM_SCRIPTS ? { 'tool_use returned': (s) => s.toolUses.length === 1 && s.stopReason === 'tool_use' } : {},
  );
  if (!first || first.outcome !== 'complete') return;
  const call = first.toolUses[0] || { id: 'toolu_loadtest_0001', name: 'get_weather', input: '{"city":"Paris"}' };
  let input = {};
  try {
    input = JSON.parse(call.input || '{}');
  } catch (e) {
    input = {};
  }
  const assistant = [];
  if (first.text) assistant.push({ type: 'text', text: first.text });
  assistant.push({ type: 'tool_use', id: call.id, name: call.name, input });
  checkStream(
    post('/v1/messages', {
      model: m,
      max_tokens: 1024,
      stream: true,
      tools: [WEATHER_TOOL],
      messages: [
        { role: 'user', content: question },
        { role: 'assistant', content: assistant },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: `Sunny, 21 °C${sim({})}` }] },
      ],
    }, 'tool'),
    'tool',
    { 'text after tool_result': (s) => s.text.length > 0 },
  );
}

export function thinking(model) {
  const res = post('/v1/messages', {
    model: model || pick(MODELS),
    max_tokens: 4096,
    stream: true,
    thinking: { type: 'enabled', budget_tokens: 2048 },
    messages: [{ role: 'user', content: `Is 1021 prime? Think first.${sim({ events: [{ thinking: 'Check divisors up to 31: none divide 1021.', fragments: 4 }, { text: 'Yes, 1021 is prime.', fragments: 3 }] })}` }],
  }, 'thinking');
  return checkStream(res, 'thinking', SIM_SCRIPTS ? { 'thinking block present': (s) => s.thinking.length > 0 } : {});
}

/** A captured Claude Code turn (76 KB: system prompt blocks, 24 tools, betas, adaptive thinking; the first turn or the tool_result turn). */
export function claudeCode() {
  const turn = pick([0, 1]);
  const captured = CLAUDE_CODE[turn];
  const body = JSON.parse(JSON.stringify(captured.body));
  const last = body.messages[body.messages.length - 1];
  const suffix = sim({});
  if (suffix) {
    if (typeof last.content === 'string') last.content += suffix;
    else last.content.push({ type: 'text', text: suffix });
  }
  const h = {};
  for (const name of ['anthropic-beta', 'user-agent', 'x-app', 'anthropic-dangerous-direct-browser-access']) h[name] = captured.headers[name];
  return checkStream(post(captured.url, body, 'claude-code', h), 'claude-code');
}

export function countTokens(model) {
  const res = post('/v1/messages/count_tokens', {
    model: model || pick(MODELS),
    system: 'You are a helpful assistant.',
    tools: [WEATHER_TOOL],
    messages: [{ role: 'user', content: 'How many tokens is this request?' }],
  }, 'count_tokens');
  let body = null;
  try {
    body = res.json();
  } catch (e) {
    body = null;
  }
  check(res, { 'status 200': (r) => r.status === 200, 'input_tokens > 0': () => body !== null && body.input_tokens > 0 }, { kind: 'count_tokens' });
}

const MIX = [
  [40, streamingChat],
  [15, jsonChat],
  [15, toolRoundTrip],
  [10, thinking],
  [10, claudeCode],
  [10, countTokens],
];
const MIX_TOTAL = MIX.reduce((s, [w]) => s + w, 0);

/** One user action drawn from the mix above. */
export function mixedTraffic() {
  let r = Math.random() * MIX_TOTAL;
  for (const [w, fn] of MIX) {
    r -= w;
    if (r < 0) return fn();
  }
  return streamingChat();
}
