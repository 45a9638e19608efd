import { afterEach, describe, expect, it } from 'vitest';
import { refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';

const ask = { model: 'claude-sonnet-4-5-20250929', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hi' }] };

describe('every credential kind of kiro.rs serves requests end to end', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  const calls = (path: string) => stack!.sim.stats.requests.filter((r) => r.path === path);

  it('refreshes an IdC credential through the OIDC token endpoint, then serves with its token', async () => {
    stack = await startStack({
      credentials: [{ refreshToken: refreshTokenFor('idc'), authMethod: 'idc', clientId: 'idc-client', clientSecret: 'idc-secret-value' }],
    });
    const message = await stack.client.messages.create(ask);
    expect(message.content[0]).toMatchObject({ type: 'text' });
    const [token] = calls('/token');
    expect(token!.body).toEqual({
      clientId: 'idc-client',
      clientSecret: 'idc-secret-value',
      refreshToken: refreshTokenFor('idc'),
      grantType: 'refresh_token',
    });
    expect(calls('/refreshToken')).toHaveLength(0);
  });

  it('accepts kiro.rs aliases: authMethod builder-id is the IdC flow', async () => {
    stack = await startStack({
      credentials: { refreshToken: refreshTokenFor('builder'), authMethod: 'builder-id', clientId: 'c', clientSecret: 's-secret-value' },
    });
    await stack.client.messages.create(ask);
    expect(calls('/token')).toHaveLength(1);
  });

  it('sends an API-key credential as its bearer with tokentype API_KEY and never refreshes it', async () => {
    stack = await startStack({ credentials: [{ kiroApiKey: 'ksk_test_0123456789abcdef0123456789', authMethod: 'api_key' }] });
    await stack.client.messages.create(ask);
    const [generate] = calls('/generateAssistantResponse');
    expect(generate!.headers.authorization).toBe('Bearer ksk_test_0123456789abcdef0123456789');
    expect(generate!.headers.tokentype).toBe('API_KEY');
    expect(calls('/refreshToken')).toHaveLength(0);
    expect(calls('/token')).toHaveLength(0);
  });

  it('adds the KIRO_API_KEY credential in front of the file’s, as kiro.rs does', async () => {
    stack = await startStack({
      credentials: [{ refreshToken: refreshTokenFor('file'), authMethod: 'social' }],
      env: { KIRO_API_KEY: 'ksk_env_0123456789abcdef0123456789' },
    });
    await stack.client.messages.create(ask);
    const [generate] = calls('/generateAssistantResponse');
    expect(generate!.headers.authorization).toBe('Bearer ksk_env_0123456789abcdef0123456789');
  });

  it('sends the Kiro IDE headers with the credential’s machine id and injects its profileArn', async () => {
    stack = await startStack({
      credentials: [{ refreshToken: refreshTokenFor('headers'), authMethod: 'social', machineId: 'a'.repeat(64) }],
    });
    await stack.client.messages.create(ask);
    const [generate] = calls('/generateAssistantResponse');
    expect(generate!.headers['x-amz-user-agent']).toMatch(new RegExp(`KiroIDE-[\\d.]+-${'a'.repeat(64)}$`));
    expect(generate!.headers['x-amzn-kiro-agent-mode']).toBe('vibe');
    expect(generate!.headers['amz-sdk-invocation-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect((generate!.body as { profileArn?: string }).profileArn).toMatch(/^arn:aws:codewhisperer:/);
  });
});
