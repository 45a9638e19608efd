/**
 * Model lists are shared through Redis (docs/kiro-protocol-newer.md §3): the replica that fetched a
 * credential's ListAvailableModels answer stores it, the others read it from their local copy and
 * route by it without calling Kiro themselves. Two gateways, one real redis-server, one simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, SIM_MODEL_LISTS, type Simulator } from '../../src/simulator/index.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { eventually, post, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';
import { uniquePrefix } from '../store/redis/fixtures.js';

const FREE = refreshTokenFor('shared-models-free');
const PAID = refreshTokenFor('shared-models-paid');

describe('model lists shared through Redis', () => {
  let redis: RedisServer;
  let sim: Simulator;
  let a: Stack;
  let b: Stack;
  beforeAll(async () => {
    redis = await startRedis();
    sim = await createSimulator();
    sim.setAccount(FREE, { models: SIM_MODEL_LISTS.free });
    sim.setAccount(PAID, { models: SIM_MODEL_LISTS.idcOpus47 });
    const credentials = [
      { refreshToken: FREE, authMethod: 'social', priority: 0 },
      { refreshToken: PAID, authMethod: 'social', priority: 1 },
    ];
    const env = { KIRO_REDIS_URL: redis.url, KIRO_REDIS_KEY_PREFIX: uniquePrefix() };
    a = await startStack({ simulator: sim, credentials, env });
    b = await startStack({ simulator: sim, credentials: JSON.parse(JSON.stringify(credentials)), env });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await sim?.close();
    await redis?.stop();
  });

  it('one replica fetches, the other routes by the shared list without calling ListAvailableModels', async () => {
    await a.client.messages.create({ model: 'claude-opus-4-7', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] });
    await eventually(() => a.gateway.models.listOf(1) !== undefined && a.gateway.models.listOf(2) !== undefined);
    const fetched = sim.stats.models;
    expect(fetched).toBeGreaterThanOrEqual(2);
    await eventually(() => b.gateway.models.listOf(1) !== undefined && b.gateway.models.listOf(2) !== undefined);
    expect(b.gateway.models.listOf(1)!.map((m) => m.kiroModelId)).toEqual(['claude-sonnet-4.5', 'claude-haiku-4.5']);

    // B knows the free credential has no Opus: no attempt on it, and no ListAvailableModels call of its own.
    const generatesBefore = sim.stats.byAccount[FREE]?.generate ?? 0;
    const res = await post(`${b.url}/v1/messages`, { model: 'claude-opus-4-7', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] });
    expect(res.status).toBe(200);
    expect(sim.stats.byAccount[FREE]?.generate ?? 0).toBe(generatesBefore);
    expect(sim.stats.models).toBe(fetched);
    const models = await (await fetch(`${b.url}/v1/models`, { headers: { 'x-api-key': b.env.KIRO_CLIENT_API_KEY } })).json();
    expect((models as { data: Array<{ id: string }> }).data.map((m) => m.id)).not.toContain('claude-opus-4-8');
  });
});
