/**
 * The `cli` endpoint (docs/kiro-protocol-newer.md §4) through the real SDK: `ksk_` API keys and
 * kiro-cli logins sent over kiro-cli's wire, `defaultEndpoint`, and a request that fails over from a
 * cli credential to an ide one. The simulator refuses any mix of the two wires, so each answer
 * proves the gateway sent the wire the credential asked for.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY, eventually, refreshTokenFor, startStack, type Stack } from '../helpers/stack.js';

const MODEL = 'claude-sonnet-4-6';
const API_KEY_CRED = 'ksk_cli_0123456789abcdef0123456789abcdef';
const CLI_LOGIN = refreshTokenFor('cli-login');
const IDE_LOGIN = refreshTokenFor('ide-login');

const ask = { model: MODEL, max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hi' }] };
/** A conversation with history, so history user messages go over the wire too. */
const conversation = {
  model: MODEL,
  max_tokens: 64,
  messages: [
    { role: 'user' as const, content: 'First question' },
    { role: 'assistant' as const, content: 'First answer' },
    { role: 'user' as const, content: 'Second question' },
  ],
};

describe('the cli endpoint', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  const calls = (path: string) => stack!.sim.stats.requests.filter((r) => r.path === path);

  it('sends a ksk_ API key over the cli wire, streaming and not, and answers through the SDK', async () => {
    stack = await startStack({ credentials: [{ kiroApiKey: API_KEY_CRED, authMethod: 'api_key', endpoint: 'cli' }] });
    const message = await stack.client.messages.create(conversation);
    expect(message.content[0]).toMatchObject({ type: 'text' });
    expect(message.stop_reason).toBe('end_turn');

    const stream = stack.client.messages.stream(conversation);
    const text: string[] = [];
    stream.on('text', (t) => text.push(t));
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe('end_turn');
    expect(text.join('')).toBe((message.content[0] as { text: string }).text);

    expect(calls('/generateAssistantResponse')).toHaveLength(0);
    const sent = calls('/');
    expect(sent.map((c) => c.status)).toEqual([200, 200]);
    const { headers, body } = sent[0] as { headers: Record<string, string>; body: any };
    expect(headers['x-amz-target']).toBe('AmazonCodeWhispererStreamingService.GenerateAssistantResponse');
    expect(headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(headers['user-agent']).toMatch(/^aws-sdk-rust\/1\.3\.15 ua\/2\.1 api\/codewhispererstreaming\/0\.1\.14474 os\/macos lang\/rust\/1\.92\.0 md\/appVersion-2\.3\.0 app\/AmazonQ-For-CLI$/);
    expect(headers['x-amz-user-agent']).toMatch(/ m\/F app\/AmazonQ-For-CLI$/);
    expect(headers['x-amzn-codewhisperer-optout']).toBe('false');
    expect(headers).not.toHaveProperty('x-amzn-kiro-agent-mode');
    expect(headers.authorization).toBe(`Bearer ${API_KEY_CRED}`);
    expect(headers.tokentype).toBe('API_KEY');
    const state = body.conversationState;
    expect(state).not.toHaveProperty('agentContinuationId');
    expect(state.currentMessage.userInputMessage.origin).toBe('KIRO_CLI');
    expect(state.currentMessage.userInputMessage.userInputMessageContext.envState).toEqual({
      operatingSystem: 'macos',
      currentWorkingDirectory: process.cwd(),
    });
    const historyUsers = state.history.filter((h: any) => h.userInputMessage).map((h: any) => h.userInputMessage);
    expect(historyUsers.length).toBeGreaterThan(0);
    for (const m of historyUsers) {
      expect(m.origin).toBe('KIRO_CLI');
      expect(m).not.toHaveProperty('modelId');
    }
  });

  it('sends a kiro-cli login over the cli wire without the profileArn body field, with the configured cli settings', async () => {
    stack = await startStack({
      credentials: [{ refreshToken: CLI_LOGIN, authMethod: 'social', endpoint: 'cli' }],
      env: { KIRO_CLI_ENDPOINT_VERSION: '2.4.1', KIRO_CLI_ENDPOINT_OPERATING_SYSTEM: 'linux', KIRO_CLI_ENDPOINT_WORKING_DIRECTORY: '/srv/work' },
    });
    await stack.client.messages.create(ask);
    const [call] = calls('/') as Array<{ headers: Record<string, string>; body: any }>;
    expect(call.body).not.toHaveProperty('profileArn');
    // The social refresh did return a profileArn: it is simply not sent on this wire.
    expect(stack.gateway.store.get(1)?.credential.profileArn).toMatch(/^arn:aws:codewhisperer:/);
    expect(call.headers['user-agent']).toContain('os/linux lang/rust/1.92.0 md/appVersion-2.4.1 app/AmazonQ-For-CLI');
    expect(call.body.conversationState.currentMessage.userInputMessage.userInputMessageContext.envState).toEqual({
      operatingSystem: 'linux',
      currentWorkingDirectory: '/srv/work',
    });
  });

  it('uses defaultEndpoint for credentials without their own endpoint, and a credential’s endpoint over it', async () => {
    stack = await startStack({
      credentials: [
        { refreshToken: CLI_LOGIN, authMethod: 'social', priority: 0 },
        { refreshToken: IDE_LOGIN, authMethod: 'social', priority: 1, endpoint: 'ide' },
      ],
      env: { KIRO_DEFAULT_ENDPOINT: 'cli', KIRO_LOAD_BALANCING_MODE: 'balanced' },
    });
    for (let i = 0; i < 4; i++) await stack.client.messages.create(ask);
    const byAccount = (path: string) => new Set(calls(path).map((c) => c.account));
    expect(byAccount('/')).toEqual(new Set([CLI_LOGIN]));
    expect(byAccount('/generateAssistantResponse')).toEqual(new Set([IDE_LOGIN]));
    expect(stack.sim.stats.rejected).toBe(0);

    const res = await fetch(`${stack.url}/api/admin/credentials`, { headers: { 'x-api-key': ADMIN_KEY } });
    const listed = (await res.json()) as { credentials: Array<{ id: number; endpoint: string }> };
    expect(listed.credentials.map((c) => [c.id, c.endpoint])).toEqual([
      [1, 'cli'],
      [2, 'ide'],
    ]);
  });

  it('fails a request over from a cli credential to an ide one, each on its own wire', async () => {
    stack = await startStack({
      credentials: [
        { kiroApiKey: API_KEY_CRED, authMethod: 'api_key', endpoint: 'cli', priority: 0 },
        { refreshToken: IDE_LOGIN, authMethod: 'social', priority: 1 },
      ],
    });
    stack.sim.setAccount(API_KEY_CRED, { mode: 'server-error-500', times: 10 });
    const message = await stack.client.messages.create(conversation);
    expect(message.stop_reason).toBe('end_turn');
    expect(calls('/').map((c) => c.status).every((s) => s === 500)).toBe(true);
    expect(calls('/').length).toBeGreaterThan(0);
    expect(calls('/generateAssistantResponse').map((c) => c.status)).toEqual([200]);
    const ideBody = calls('/generateAssistantResponse')[0].body as any;
    expect(ideBody.conversationState.currentMessage.userInputMessage.origin).toBe('AI_EDITOR');
    expect(ideBody.profileArn).toMatch(/^arn:aws:codewhisperer:/);
  });

  it('learns a cli credential’s model list and balance with the calls the notes give (ListAvailableModels, getUsageLimits)', async () => {
    stack = await startStack({ credentials: [{ kiroApiKey: API_KEY_CRED, authMethod: 'api_key', endpoint: 'cli' }] });
    await stack.client.messages.create(ask);
    await eventually(() => stack!.gateway.models.listOf(1) !== undefined);
    const [list] = calls('/ListAvailableModels');
    expect(list.status).toBe(200);
    expect(list.headers.tokentype).toBe('API_KEY');

    const res = await fetch(`${stack.url}/api/admin/credentials/1/balance`, { headers: { 'x-api-key': ADMIN_KEY } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 1, usageLimit: 1000 });
    expect(calls('/getUsageLimits').map((c) => c.status)).toEqual([200]);
  });

  it('searches the web through MCP with the cli wire’s user agents', async () => {
    stack = await startStack({ credentials: [{ kiroApiKey: API_KEY_CRED, authMethod: 'api_key', endpoint: 'cli' }] });
    const message = await stack.client.messages.create({
      model: MODEL,
      max_tokens: 64,
      tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 1 }],
      messages: [{ role: 'user', content: 'Perform a web search for the query: kiro cli' }],
    });
    expect(message.content.some((b) => b.type === 'web_search_tool_result')).toBe(true);
    const [mcp] = calls('/mcp') as Array<{ headers: Record<string, string>; status: number }>;
    expect(mcp.status).toBe(200);
    expect(mcp.headers['user-agent']).toMatch(/^aws-sdk-rust\/.* app\/AmazonQ-For-CLI$/);
    expect(mcp.headers['x-amz-user-agent']).toMatch(/^aws-sdk-rust\/.* m\/F app\/AmazonQ-For-CLI$/);
  });

  it('refuses an unknown endpoint in credentials.json at start-up, naming the entry and the choices', async () => {
    await expect(startStack({ credentials: [{ refreshToken: CLI_LOGIN, authMethod: 'social', endpoint: 'kiro-cli' }] })).rejects.toThrow(
      /entry #1: endpoint "kiro-cli" is not one of "ide", "cli"/,
    );
  });
});
