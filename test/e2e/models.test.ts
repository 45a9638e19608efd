/**
 * Models as Kiro offers them (docs/kiro-protocol-newer.md §1–§3), through the real SDK: exact
 * model ids, per-credential ListAvailableModels lists, routing by model, /v1/models from the pool.
 * The simulator refuses a model an account may not call (400 INVALID_MODEL_ID), so a wrong route
 * fails these tests instead of passing unnoticed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BadRequestError, NotFoundError } from '@anthropic-ai/sdk';
import { createSimulator, SIM_MODEL_LISTS, type Simulator } from '../../src/simulator/index.js';
import { eventually, post, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';
import { generateCalls, lastKiroBody } from './sse.js';

const FREE = refreshTokenFor('models-free');
const PAID = refreshTokenFor('models-paid-idc');
const S5 = refreshTokenFor('models-sonnet5');

const ask = (model: string, content = 'Hi') => ({ model, max_tokens: 64, messages: [{ role: 'user' as const, content }] });

describe('models as Kiro offers them', () => {
  let stack: Stack | undefined;
  let sim: Simulator | undefined;
  afterEach(async () => {
    await stack?.close();
    await sim?.close();
    stack = sim = undefined;
  });
  const generates = (token: string) => stack!.sim.stats.byAccount[token]?.generate ?? 0;

  async function start(accounts: Array<{ token: string; models: (typeof SIM_MODEL_LISTS)[keyof typeof SIM_MODEL_LISTS]; authMethod?: string }>, env: Record<string, string> = {}) {
    sim = await createSimulator();
    for (const a of accounts) sim.setAccount(a.token, { models: a.models });
    stack = await startStack({
      simulator: sim,
      credentials: accounts.map((a, i) => ({
        refreshToken: a.token,
        authMethod: a.authMethod ?? 'social',
        priority: i,
        ...(a.authMethod === 'idc' ? { clientId: 'client-id', clientSecret: 'client-secret' } : {}),
      })),
      env,
    });
    return stack;
  }

  it('sends claude-opus-4-8 to Kiro as claude-opus-4.8 and says so in x-kiro-model', async () => {
    const s = await start([{ token: PAID, models: SIM_MODEL_LISTS.default }]);
    const { data, response } = await s.client.messages.create(ask('claude-opus-4-8')).withResponse();
    expect(data.model).toBe('claude-opus-4-8');
    expect(response.headers.get('x-kiro-model')).toBe('claude-opus-4.8');
    expect(lastKiroBody(s).conversationState.currentMessage.userInputMessage.modelId).toBe('claude-opus-4.8');
  });

  it('sends an Opus request to the paid credential on the first try when the preferred one is free', async () => {
    const s = await start([
      { token: FREE, models: SIM_MODEL_LISTS.free },
      { token: PAID, models: SIM_MODEL_LISTS.idcOpus47, authMethod: 'idc' },
    ]);
    const message = await s.client.messages.create(ask('claude-opus-4-7'));
    expect(message.stop_reason).toBe('end_turn');
    expect(generates(FREE)).toBe(0);
    expect(generates(PAID)).toBe(1);
    // No refused model on the way: the first generate call was the one that answered.
    expect(s.sim.stats.rejected).toBe(0);
    expect(generateCalls(s).map((c) => c.status)).toEqual([200]);
    // Sonnet still goes to the preferred (free) credential.
    await s.client.messages.create(ask('claude-sonnet-4-5-20250929'));
    expect(generates(FREE)).toBe(1);
  });

  it('answers /v1/models from what the pool offers, the built-in table before any list is known', async () => {
    const s = await start([
      { token: FREE, models: SIM_MODEL_LISTS.free },
      { token: PAID, models: SIM_MODEL_LISTS.idcOpus47, authMethod: 'idc' },
    ]);
    const before = (await s.client.models.list()).data.map((m) => m.id);
    expect(before).toContain('claude-opus-4-8');

    await s.client.messages.create(ask('claude-opus-4-7'));
    await eventually(() => s.gateway.models.listOf(1) !== undefined && s.gateway.models.listOf(2) !== undefined);
    const res = await fetch(`${s.url}/v1/models`, { headers: { 'x-api-key': s.env.KIRO_CLIENT_API_KEY } });
    const body = (await res.json()) as { data: Array<{ id: string; max_tokens: number; context_window: number }> };
    const ids = body.data.map((m) => m.id);
    expect(ids).toEqual([
      'claude-opus-4-7',
      'claude-opus-4-7-thinking',
      'claude-opus-4-6',
      'claude-opus-4-6-thinking',
      'claude-sonnet-4-6',
      'claude-sonnet-4-6-thinking',
      'claude-opus-4-5-20251101',
      'claude-opus-4-5-20251101-thinking',
      'claude-sonnet-4-5-20250929',
      'claude-sonnet-4-5-20250929-thinking',
      'claude-haiku-4-5-20251001',
      'claude-haiku-4-5-20251001-thinking',
    ]);
    expect(body.data.find((m) => m.id === 'claude-opus-4-7')).toMatchObject({ max_tokens: 64_000, context_window: 1_000_000 });
    expect(body.data.find((m) => m.id === 'claude-sonnet-4-5-20250929')).toMatchObject({ context_window: 200_000 });
  });

  it('answers 404 naming the available models when no credential offers the model', async () => {
    const s = await start([{ token: FREE, models: SIM_MODEL_LISTS.free }]);
    // The first request learns the list (lazily, with the token the attempt obtained).
    const first = await post(`${s.url}/v1/messages`, ask('claude-opus-4-7'));
    expect(first.status).toBe(404);
    expect(first.json.error.type).toBe('not_found_error');
    expect(first.json.error.message).toMatch(/claude-opus-4-7 .*is not offered by any credential; available models: .*claude-sonnet-4-5-20250929/);
    expect(first.json.error.message).not.toMatch(/available models: .*opus/);
    expect(generates(FREE)).toBe(0);
    // Known now: refused before any upstream call.
    await expect(s.client.messages.create(ask('claude-opus-4-8'))).rejects.toBeInstanceOf(NotFoundError);
    expect(s.sim.stats.generate).toBe(0);
  });

  it('maps an unknown version to the newest of its family the pool offers, and strict mode rejects it', async () => {
    const s = await start([{ token: PAID, models: SIM_MODEL_LISTS.idcOpus47, authMethod: 'idc' }]);
    await s.client.messages.create(ask('claude-sonnet-4-5-20250929'));
    await eventually(() => s.gateway.models.listOf(1) !== undefined);
    const { response } = await s.client.messages.create(ask('claude-opus-4-9')).withResponse();
    expect(response.headers.get('x-kiro-model')).toBe('claude-opus-4.7');
    expect(lastKiroBody(s).conversationState.currentMessage.userInputMessage.modelId).toBe('claude-opus-4.7');
    await stack!.close();

    stack = await startStack({
      simulator: sim,
      credentials: [{ refreshToken: PAID, authMethod: 'idc', clientId: 'client-id', clientSecret: 'client-secret' }],
      env: { KIRO_MODELS_STRICT: 'true' },
    });
    const strict = await post(`${stack.url}/v1/messages`, ask('claude-opus-4-9'));
    expect(strict.status).toBe(404);
    expect(strict.json.error.message).toMatch(/claude-opus-4-9 is not supported \(strict model mapping\); available models: claude-opus-4-7, /);
  });

  it('routes Sonnet 5 to the account that has it', async () => {
    const s = await start([
      { token: FREE, models: SIM_MODEL_LISTS.free },
      { token: S5, models: SIM_MODEL_LISTS.sonnet5 },
    ]);
    // Lists are learned on the first request each credential serves.
    await s.client.messages.create(ask('claude-sonnet-4-5-20250929'));
    await s.client.messages.create(ask('claude-sonnet-5'));
    expect(s.sim.stats.rejected).toBe(0);
    expect(generates(S5)).toBe(1);
    expect(lastKiroBody(s).conversationState.currentMessage.userInputMessage.modelId).toBe('claude-sonnet-5');
  });

  it('refuses images to a model whose list says it takes none: 400 naming the model, before any generate call', async () => {
    const s = await start([{ token: PAID, models: SIM_MODEL_LISTS.textOnly }]);
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const withImage = (model: string) => ({
      model,
      max_tokens: 64,
      messages: [
        {
          role: 'user' as const,
          content: [
            { type: 'image' as const, source: { type: 'base64' as const, media_type: 'image/png' as const, data: png } },
            { type: 'text' as const, text: 'What is in this picture?' },
          ],
        },
      ],
    });
    // No list is known yet: the gateway learns it first rather than guess from its built-in table.
    const err = (await s.client.messages.create(withImage('claude-haiku-4-5-20251001')).catch((e: unknown) => e)) as BadRequestError;
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err.error as { error: { type: string; message: string } }).error).toEqual({
      type: 'invalid_request_error',
      message:
        'model: claude-haiku-4-5-20251001 (Kiro claude-haiku-4.5) does not take image input (its supportedInputTypes have no IMAGE); ' +
        'remove the image blocks or use a model that takes images: claude-sonnet-4-5-20250929',
    });
    expect(s.sim.stats.models).toBe(1);
    // A non-Claude id the account lists is named by its exact id, and refused the same way.
    await expect(s.client.messages.create(withImage('deepseek-3.2'))).rejects.toThrow(/deepseek-3.2 \(Kiro deepseek-3.2\) does not take image input/);
    expect(s.sim.stats.generate).toBe(0);

    // The same image to a model that takes images is served, and text to the text-only one too.
    await s.client.messages.create(withImage('claude-sonnet-4-5-20250929'));
    await s.client.messages.create(ask('claude-haiku-4-5-20251001'));
    expect(s.sim.stats.generate).toBe(2);
    expect(s.sim.stats.rejected).toBe(0);
  });

  it('sends an image request only to a credential whose list lets the model take images', async () => {
    const s = await start([
      { token: FREE, models: SIM_MODEL_LISTS.textOnly },
      { token: PAID, models: SIM_MODEL_LISTS.default },
    ]);
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const message = await s.client.messages.create({
      model: 'claude-haiku-4-5-20251001',
      max_tokens: 64,
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }] }],
    });
    expect(message.stop_reason).toBe('end_turn');
    // The preferred credential's Haiku takes text only: the request went to the other one, first try.
    expect(generates(FREE)).toBe(0);
    expect(generates(PAID)).toBe(1);
    expect(s.sim.stats.rejected).toBe(0);
    // Text still goes to the preferred credential.
    await s.client.messages.create(ask('claude-haiku-4-5-20251001'));
    expect(generates(FREE)).toBe(1);
  });
});
