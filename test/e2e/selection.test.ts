import { afterEach, describe, expect, it } from 'vitest';
import { simScript } from '../../src/simulator/index.js';
import { post, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';

const A = refreshTokenFor('select-a');
const B = refreshTokenFor('select-b');
const TWO = [
  { refreshToken: A, authMethod: 'social', priority: 0 },
  { refreshToken: B, authMethod: 'social', priority: 1 },
];
const ask = (content = 'Hi', model = 'claude-sonnet-4-5-20250929') => ({
  model,
  max_tokens: 64,
  messages: [{ role: 'user' as const, content }],
});

describe('credential selection through the HTTP interface', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });
  const generates = (token: string) => stack!.sim.stats.byAccount[token]?.generate ?? 0;

  it('priority mode sticks to the lowest priority number', async () => {
    stack = await startStack({ credentials: TWO });
    for (let i = 0; i < 6; i++) await stack.client.messages.create(ask());
    expect(generates(A)).toBe(6);
    expect(generates(B)).toBe(0);
  });

  it('balanced mode spreads requests over the least used credentials', async () => {
    stack = await startStack({ credentials: TWO, env: { KIRO_LOAD_BALANCING_MODE: 'balanced' } });
    for (let i = 0; i < 6; i++) await stack.client.messages.create(ask());
    expect(generates(A)).toBe(3);
    expect(generates(B)).toBe(3);
  });

  it('the per-credential concurrency cap sends a concurrent request to the next credential', async () => {
    stack = await startStack({ credentials: TWO, env: { KIRO_POOL_MAX_CONCURRENCY_PER_CREDENTIAL: '1' } });
    const slow = simScript({ events: [{ text: 'slow ' }, { text: 'answer' }], chunkDelayMs: 300 });
    await Promise.all([stack.client.messages.create(ask(slow)), stack.client.messages.create(ask(slow))]);
    expect(generates(A)).toBe(1);
    expect(generates(B)).toBe(1);
  });

  it('with every credential at its cap, the extra request gets 529 overloaded_error', async () => {
    stack = await startStack({
      credentials: [{ refreshToken: A, authMethod: 'social' }],
      env: { KIRO_POOL_MAX_CONCURRENCY_PER_CREDENTIAL: '1' },
    });
    const slow = simScript({ events: [{ text: 'slow' }], chunkDelayMs: 400 });
    const first = post(`${stack.url}/v1/messages`, ask(slow));
    await new Promise((r) => setTimeout(r, 100));
    const second = await post(`${stack.url}/v1/messages`, ask());
    expect(second.status).toBe(529);
    expect(second.json).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect((await first).status).toBe(200);
  });

  it('keeps Opus requests off free-tier credentials', async () => {
    stack = await startStack({
      credentials: [
        { refreshToken: A, authMethod: 'social', priority: 0, subscriptionTitle: 'KIRO FREE' },
        { refreshToken: B, authMethod: 'social', priority: 1, subscriptionTitle: 'KIRO PRO+' },
      ],
    });
    await stack.client.messages.create(ask('Hi', 'claude-opus-4-6'));
    await stack.client.messages.create(ask('Hi', 'claude-sonnet-4-5-20250929'));
    expect(generates(B)).toBe(1); // the Opus request
    expect(generates(A)).toBe(1); // the Sonnet request keeps the preferred credential
  });
});
