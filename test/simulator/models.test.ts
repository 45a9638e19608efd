import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createSimulator, INVALID_MODEL_BODY, SIM_MODEL_LISTS, type Simulator } from '../../src/simulator/index.js';
import { accessToken, generate, kiroBody, refreshToken } from './helpers.js';

describe('simulator: per-account model lists', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await createSimulator();
  });
  afterAll(() => sim.close());

  const listModels = async (bearer: string, query = 'origin=AI_EDITOR') => {
    const res = await request(`${sim.url}/ListAvailableModels?${query}`, { headers: { authorization: `Bearer ${bearer}` } });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  };

  it('lists the account preset in Kiro shape and counts the call', async () => {
    const rt = refreshToken('models-free');
    sim.setAccount(rt, { models: SIM_MODEL_LISTS.free });
    const token = await accessToken(sim, rt);
    const { status, body } = await listModels(token);
    expect(status).toBe(200);
    expect(body.models.map((m: any) => m.modelId)).toEqual(['auto', 'claude-sonnet-4.5', 'claude-haiku-4.5']);
    expect(body.models[1]).toMatchObject({ supportedInputTypes: ['TEXT', 'IMAGE'], tokenLimits: { maxInputTokens: 200_000, maxOutputTokens: 64_000 } });
    expect(body.nextToken).toBeNull();
    expect(sim.stats.byAccount[rt]?.models).toBe(1);
  });

  it('refuses a model the account may not call with 400 INVALID_MODEL_ID, and serves one it may', async () => {
    const rt = refreshToken('models-free-2');
    sim.setAccount(rt, { models: SIM_MODEL_LISTS.free });
    const token = await accessToken(sim, rt);
    const opus = await generate(sim, token, kiroBody('hi', (b) => (b.conversationState.currentMessage.userInputMessage.modelId = 'claude-opus-4.7')));
    expect(opus.statusCode).toBe(400);
    expect(await opus.body.json()).toEqual(INVALID_MODEL_BODY);
    expect(sim.stats.requests.at(-1)?.rejection).toMatch(/claude-opus-4.7 is not offered to this account/);
    const sonnet = await generate(sim, token, kiroBody('hi'));
    expect(sonnet.statusCode).toBe(200);
    await sonnet.body.arrayBuffer();
  });

  it('offers the IdC Opus 4.7 and the Sonnet 5 presets, and by default everything the built-in table has', async () => {
    expect(SIM_MODEL_LISTS.idcOpus47.map((m) => m.modelId)).toContain('claude-opus-4.7');
    expect(SIM_MODEL_LISTS.idcOpus47.map((m) => m.modelId)).not.toContain('claude-opus-4.8');
    expect(SIM_MODEL_LISTS.sonnet5.map((m) => m.modelId)).toContain('claude-sonnet-5');
    const token = await accessToken(sim);
    const { body } = await listModels(token);
    expect(body.models.map((m: any) => m.modelId)).toEqual(SIM_MODEL_LISTS.default.map((m) => m.modelId));
  });

  it('refuses images to a model whose list entry takes text only, and takes them for one that lists IMAGE', async () => {
    const rt = refreshToken('models-text-only');
    sim.setAccount(rt, { models: SIM_MODEL_LISTS.textOnly });
    const token = await accessToken(sim, rt);
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const withImage = (modelId: string) =>
      kiroBody('what is this?', (b) => {
        b.conversationState.currentMessage.userInputMessage.modelId = modelId;
        b.conversationState.currentMessage.userInputMessage.images = [{ format: 'png', source: { bytes: png } }];
      });
    for (const modelId of ['claude-haiku-4.5', 'deepseek-3.2']) {
      const refused = await generate(sim, token, withImage(modelId));
      expect(refused.statusCode).toBe(400);
      await refused.body.arrayBuffer();
      expect(sim.stats.requests.at(-1)?.rejection).toMatch(new RegExp(`${modelId} takes TEXT input only`));
    }
    const text = await generate(sim, token, kiroBody('hi', (b) => (b.conversationState.currentMessage.userInputMessage.modelId = 'claude-haiku-4.5')));
    expect(text.statusCode).toBe(200);
    await text.body.arrayBuffer();
    const sonnet = await generate(sim, token, withImage('claude-sonnet-4.5'));
    expect(sonnet.statusCode).toBe(200);
    await sonnet.body.arrayBuffer();
  });

  it('refuses enabled thinking (a manual budget) on Opus 4.7+ and Sonnet 5', async () => {
    const token = await accessToken(sim);
    const withThinking = (modelId: string, prefix: string) =>
      kiroBody('hi', (b) => {
        b.conversationState.currentMessage.userInputMessage.modelId = modelId;
        b.conversationState.history = [
          { userInputMessage: { content: prefix, modelId, origin: 'AI_EDITOR' } },
          { assistantResponseMessage: { content: 'I will follow these instructions.' } },
        ];
      });
    const manual = '<thinking_mode>enabled</thinking_mode><max_thinking_length>4000</max_thinking_length>';
    const adaptive = '<thinking_mode>adaptive</thinking_mode><thinking_effort>high</thinking_effort>';
    const refused = await generate(sim, token, withThinking('claude-opus-4.8', manual));
    expect(refused.statusCode).toBe(400);
    await refused.body.arrayBuffer();
    expect(sim.stats.requests.at(-1)?.rejection).toMatch(/adaptive thinking only/);
    const ok = await generate(sim, token, withThinking('claude-opus-4.8', adaptive));
    expect(ok.statusCode).toBe(200);
    await ok.body.arrayBuffer();
    const older = await generate(sim, token, withThinking('claude-opus-4.6', manual));
    expect(older.statusCode).toBe(200);
    await older.body.arrayBuffer();
  });

  it('requires origin, and a valid token', async () => {
    const token = await accessToken(sim);
    expect((await listModels(token, 'maxResults=50')).status).toBe(400);
    expect((await listModels('not-a-token')).status).toBe(403);
  });
});
