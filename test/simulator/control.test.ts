import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSimulator, simScript, type Simulator } from '../../src/simulator/index.js';
import { accessToken, generate, kiroBody, refresh, refreshToken } from './helpers.js';

let sim: Simulator;

beforeAll(async () => {
  sim = await createSimulator({ recentRequests: 3 });
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const mcp = (bearer: string, body: unknown) =>
  request(`${sim.url}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

const webSearch = (query: string) => ({
  id: 'web_search_tooluse_abc_1_x',
  jsonrpc: '2.0',
  method: 'tools/call',
  params: { name: 'web_search', arguments: { query } },
});

describe('MCP web search', () => {
  it('answers tools/call web_search with results JSON inside a text content item', async () => {
    const res = await mcp(await accessToken(sim), webSearch('rust async traits'));
    expect(res.statusCode).toBe(200);
    const body = (await res.body.json()) as any;
    expect(body).toMatchObject({ id: 'web_search_tooluse_abc_1_x', jsonrpc: '2.0', result: { isError: false } });
    expect(body.result.content).toHaveLength(1);
    expect(body.result.content[0].type).toBe('text');
    const inner = JSON.parse(body.result.content[0].text);
    expect(inner).toMatchObject({ totalResults: 3, query: 'rust async traits', error: null });
    expect(inner.results[0]).toMatchObject({ title: expect.any(String), url: expect.stringMatching(/^https:/), publishedDate: expect.any(Number) });
    expect(sim.stats.mcp).toBe(1);
  });

  it('answers unknown methods with a JSON-RPC error and a scripted status when the query asks for one', async () => {
    const bearer = await accessToken(sim);
    const unknown = (await (await mcp(bearer, { ...webSearch('q'), method: 'tools/list' })).body.json()) as any;
    expect(unknown.error.code).toBe(-32601);
    const failing = await mcp(bearer, webSearch(`q ${simScript({ status: 503 })}`));
    expect(failing.statusCode).toBe(503);
    await failing.body.text();
  });

  it('requires a valid bearer token', async () => {
    const res = await mcp('nope', webSearch('q'));
    expect(res.statusCode).toBe(403);
    await res.body.text();
  });
});

describe('stats and control endpoints', () => {
  it('serves the live stats as JSON on GET /__sim/stats', async () => {
    const bearer = await accessToken(sim);
    await (await generate(sim, bearer, kiroBody('hi'))).body.arrayBuffer();
    const res = await request(`${sim.url}/__sim/stats`);
    const stats = (await res.body.json()) as any;
    expect(stats).toMatchObject({ generate: 1, refresh: 1, streamsCompleted: 1 });
    expect(stats.requests.map((r: any) => r.path)).toEqual(['/refreshToken', '/generateAssistantResponse']);
  });

  it('keeps only the most recent requests', async () => {
    for (let i = 0; i < 5; i++) await refresh(sim, refreshToken(`ring-${i}`));
    expect(sim.stats.requests).toHaveLength(3);
    expect((sim.stats.requests[2].body as any).refreshToken).toBe(refreshToken('ring-4'));
  });

  it('resets stats in place and forgets accounts on POST /__sim/reset', async () => {
    const stats = sim.stats;
    const bearer = await accessToken(sim);
    await (await request(`${sim.url}/__sim/reset`, { method: 'POST' })).body.text();
    expect(stats).toBe(sim.stats);
    expect(stats).toMatchObject({ refresh: 0, generate: 0, requests: [], byAccount: {} });
    const res = await generate(sim, bearer, kiroBody('hi'));
    expect(res.statusCode).toBe(403);
    await res.body.text();
  });

  it('sets account behaviours on POST /__sim/accounts', async () => {
    const token = refreshToken('remote');
    const set = await request(`${sim.url}/__sim/accounts`, {
      method: 'POST',
      body: JSON.stringify([{ refreshToken: token, behaviour: { mode: 'refresh-invalid-grant' } }]),
    });
    expect(set.statusCode).toBe(204);
    await set.body.text();
    expect((await refresh(sim, token)).status).toBe(400);
  });

  it('answers 404 on unknown routes', async () => {
    const res = await request(`${sim.url}/nope`);
    expect(res.statusCode).toBe(404);
    await res.body.text();
  });
});
