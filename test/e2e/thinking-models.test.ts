/**
 * Thinking per model (docs/kiro-protocol-newer.md §1, §2, §5) through the real SDK: Kiro's
 * reasoningContentEvent arrives as a thinking block signed with Kiro's own signature; Opus 4.7+
 * and Sonnet 5 get adaptive thinking, never a manual budget; Sonnet 5 thinks without being asked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, SIM_MODEL_LISTS, simScript, type Simulator } from '../../src/simulator/index.js';
import { refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';
import { lastKiroBody } from './sse.js';

const SONNET5 = refreshTokenFor('thinking-sonnet5');
const KIRO_SIGNATURE = 'RXFJZ0tpcm8tcmVhbC1zaWduYXR1cmU=';

describe('thinking per model', () => {
  let sim: Simulator;
  let stack: Stack;
  beforeAll(async () => {
    sim = await createSimulator();
    sim.setAccount(SONNET5, { models: SIM_MODEL_LISTS.sonnet5.concat(SIM_MODEL_LISTS.default.filter((m) => m.modelId.includes('opus'))) });
    stack = await startStack({ simulator: sim, credentials: [{ refreshToken: SONNET5, authMethod: 'social' }] });
  });
  afterAll(async () => {
    await stack.close();
    await sim.close();
  });
  const systemPrefix = () => lastKiroBody(stack).conversationState.history?.[0]?.userInputMessage.content as string | undefined;

  it('streams reasoningContentEvent as a thinking block carrying Kiro\'s signature', async () => {
    const script = simScript({ events: [{ reasoning: 'Weighing the options.', fragments: 3, signature: KIRO_SIGNATURE }, { text: 'Take the second.' }] });
    const stream = stack.client.messages.stream({
      model: 'claude-opus-4-8',
      max_tokens: 1024,
      thinking: { type: 'adaptive' } as never,
      messages: [{ role: 'user', content: `Which? ${script}` }],
    });
    const signatures: string[] = [];
    stream.on('signature', (s) => signatures.push(s));
    const message = await stream.finalMessage();
    expect(message.content[0]).toEqual({ type: 'thinking', thinking: 'Weighing the options.', signature: KIRO_SIGNATURE });
    expect(message.content[1]).toMatchObject({ type: 'text', text: 'Take the second.' });
    expect(signatures).toEqual([KIRO_SIGNATURE]);
  });

  it('sends Opus 4.8 adaptive thinking when the client asks for a manual budget', async () => {
    await stack.client.messages.create({
      model: 'claude-opus-4-8',
      max_tokens: 1024,
      thinking: { type: 'enabled', budget_tokens: 4000 },
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(systemPrefix()).toContain('<thinking_mode>adaptive</thinking_mode><thinking_effort>high</thinking_effort>');
    expect(systemPrefix()).not.toContain('<max_thinking_length>');
  });

  it('splits Sonnet 5\'s unasked <thinking> out, and leaves it alone when thinking is disabled', async () => {
    await stack.gateway.models.refresh(1);
    const script = simScript({ events: [{ thinking: 'Quietly reasoning.' }, { text: 'Done.' }] });
    const ask = { model: 'claude-sonnet-5', max_tokens: 1024, messages: [{ role: 'user' as const, content: `Go ${script}` }] };
    const message = await stack.client.messages.stream(ask).finalMessage();
    expect(lastKiroBody(stack).conversationState.currentMessage.userInputMessage.modelId).toBe('claude-sonnet-5');
    expect(message.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect(message.content[1]).toMatchObject({ text: 'Done.' });
    // No thinking prefix is sent: Sonnet 5 thinks by default.
    expect(systemPrefix() ?? '').not.toContain('<thinking_mode>');

    const off = await stack.client.messages.stream({ ...ask, thinking: { type: 'disabled' } as never }).finalMessage();
    expect(off.content.map((b) => b.type)).toEqual(['text']);
  });
});
