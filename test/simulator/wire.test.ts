/**
 * The simulator speaks both generateAssistantResponse wires (docs/kiro-protocol-newer.md §4) and
 * refuses every mixed form, so the gateway's e2e tests prove which wire it sent. Requests are built
 * with the gateway's own header and body builders, then spoiled one mark at a time.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createSimulator, type Simulator } from '../../src/simulator/index.js';
import { CLI_GENERATE_PATH, generateCall, IDE_GENERATE_PATH, mcpHeaders, type KiroEndpoint } from '../../src/kiro/endpoint.js';
import { toCliBody } from '../../src/kiro/wire-body.js';
import type { Credential } from '../../src/credentials/types.js';
import type { KiroRequestBody } from '../../src/kiro/types.js';
import { accessToken, joinChunks, kiroBody, oracleDecode, readChunks } from './helpers.js';

const WIRE_CONFIG = {
  kiroVersion: '0.11.107',
  systemVersion: 'darwin#24.6.0',
  nodeVersion: '22.22.0',
  cliEndpoint: { version: '2.3.0', operatingSystem: 'macos', workingDirectory: '/home/dev/project' },
};
const CRED: Credential = { id: 1, authMethod: 'social', priority: 0, machineId: 'a'.repeat(64), disabled: false };
const ENV = { operatingSystem: 'macos', currentWorkingDirectory: '/home/dev/project' };

let sim: Simulator;
let token: string;

beforeAll(async () => {
  sim = await createSimulator();
});
afterAll(() => sim.close());
beforeEach(async () => {
  sim.reset();
  token = await accessToken(sim);
});

/** A body with one earlier turn, so history user messages are checked too. */
function ideBody(): KiroRequestBody {
  return kiroBody('Hello', (b) => {
    b.conversationState.history = [
      { userInputMessage: { content: 'Earlier question', modelId: 'claude-sonnet-4.5', origin: 'AI_EDITOR' } },
      { assistantResponseMessage: { content: 'Earlier answer' } },
    ];
  });
}

const cliBody = () => toCliBody(ideBody(), ENV) as any;

async function send(wire: KiroEndpoint, body: unknown, spoil: (headers: Record<string, string>) => void = () => {}) {
  const { path, headers } = generateCall(wire, CRED, token, WIRE_CONFIG);
  spoil(headers);
  const res = await request(`${sim.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.statusCode, bytes: joinChunks(await readChunks(res.body)) };
}

async function expectRefused(wire: KiroEndpoint, body: unknown, reason: RegExp, spoil?: (headers: Record<string, string>) => void) {
  const { status, bytes } = await send(wire, body, spoil);
  expect(status).toBe(400);
  expect(JSON.parse(Buffer.from(bytes).toString('utf8'))).toEqual({ message: 'Improperly formed request.', reason: null });
  expect(sim.stats.requests.at(-1)?.rejection).toMatch(reason);
}

describe('the two generateAssistantResponse wires', () => {
  it('answers the ide wire at /generateAssistantResponse and the cli wire at / with x-amz-target', async () => {
    const ide = await send('ide', ideBody());
    const cli = await send('cli', cliBody());
    for (const r of [ide, cli]) {
      expect(r.status).toBe(200);
      expect(oracleDecode(r.bytes).map((e) => e.type)).toContain('assistantResponseEvent');
    }
    expect(sim.stats.requests.map((r) => r.path)).toEqual(['/refreshToken', IDE_GENERATE_PATH, CLI_GENERATE_PATH]);
    expect(sim.stats.generate).toBe(2);
  });

  it('builds the cli body as the notes say: KIRO_CLI origins, no continuation id, no history modelId, envState', () => {
    const body = cliBody();
    const state = body.conversationState;
    expect(state).not.toHaveProperty('agentContinuationId');
    expect(state.currentMessage.userInputMessage).toMatchObject({ origin: 'KIRO_CLI', modelId: 'claude-sonnet-4.5' });
    expect(state.currentMessage.userInputMessage.userInputMessageContext.envState).toEqual(ENV);
    expect(state.history[0].userInputMessage).toEqual({ content: 'Earlier question', origin: 'KIRO_CLI' });
    // The ide body it came from is left as it was (a request may fail over to an ide credential).
    expect(ideBody().conversationState.history![0]).toMatchObject({ userInputMessage: { origin: 'AI_EDITOR', modelId: 'claude-sonnet-4.5' } });
  });

  it('refuses cli headers with an ide body', async () => {
    await expectRefused('cli', ideBody(), /cli wire with currentMessage origin "AI_EDITOR"/);
  });

  it('refuses ide headers with a cli body', async () => {
    await expectRefused('ide', cliBody(), /ide wire with currentMessage origin "KIRO_CLI"/);
  });

  it.each([
    ['an ide body field left in (agentContinuationId)', (b: any) => (b.conversationState.agentContinuationId = 'x'), /agentContinuationId/],
    ['a history modelId', (b: any) => (b.conversationState.history[0].userInputMessage.modelId = 'claude-sonnet-4.5'), /history\[0\] modelId/],
    ['a profileArn body field', (b: any) => (b.profileArn = 'arn:aws:codewhisperer:us-east-1:1:profile/X'), /profileArn/],
    ['no envState', (b: any) => delete b.conversationState.currentMessage.userInputMessage.userInputMessageContext.envState, /without .*envState/],
    ['an AI_EDITOR history origin', (b: any) => (b.conversationState.history[0].userInputMessage.origin = 'AI_EDITOR'), /history\[0\] origin/],
  ])('refuses a cli body with %s', async (_, spoil, reason) => {
    const body = cliBody();
    spoil(body);
    await expectRefused('cli', body, reason);
  });

  it.each([
    ['an ide content-type', (h: Record<string, string>) => (h['content-type'] = 'application/json'), /content-type application\/json/],
    ['the ide opt-out value', (h: Record<string, string>) => (h['x-amzn-codewhisperer-optout'] = 'true'), /optout true/],
    ['the ide agent-mode header', (h: Record<string, string>) => (h['x-amzn-kiro-agent-mode'] = 'vibe'), /agent-mode/],
    ['an ide user agent', (h: Record<string, string>) => (h['user-agent'] = 'aws-sdk-js/1.0.34 KiroIDE-0.11.107-x'), /user-agent/],
    ['the md/appVersion part in x-amz-user-agent', (h: Record<string, string>) => (h['x-amz-user-agent'] = h['user-agent']), /x-amz-user-agent/],
  ])('refuses the cli wire with %s', async (_, spoil, reason) => {
    await expectRefused('cli', cliBody(), reason, spoil);
  });

  it.each([
    ['x-amz-target', (h: Record<string, string>) => (h['x-amz-target'] = 'AmazonCodeWhispererStreamingService.GenerateAssistantResponse'), /x-amz-target/],
    ['the AWS JSON 1.0 content-type', (h: Record<string, string>) => (h['content-type'] = 'application/x-amz-json-1.0'), /content-type/],
    ['a Rust SDK user agent', (h: Record<string, string>) => (h['user-agent'] = 'aws-sdk-rust/1.3.15 ua/2.1'), /Rust SDK/],
  ])('refuses the ide wire with %s', async (_, spoil, reason) => {
    await expectRefused('ide', ideBody(), reason, spoil);
  });

  it('refuses an envState on the ide wire', async () => {
    const body = ideBody();
    body.conversationState.currentMessage.userInputMessage.userInputMessageContext = { envState: ENV } as never;
    await expectRefused('ide', body, /ide wire with currentMessage envState/);
  });

  it('answers a root POST without the GenerateAssistantResponse target as an unknown operation', async () => {
    const { headers } = generateCall('cli', CRED, token, WIRE_CONFIG);
    headers['x-amz-target'] = 'AmazonCodeWhispererStreamingService.SendMessage';
    const res = await request(`${sim.url}/`, { method: 'POST', headers, body: JSON.stringify(cliBody()) });
    expect(res.statusCode).toBe(400);
    expect(await res.body.json()).toMatchObject({ __type: 'UnknownOperationException' });
    expect(sim.stats.generate).toBe(0);
  });
});

describe('MCP on both wires', () => {
  const rpc = { jsonrpc: '2.0', id: 'web_search_1', method: 'tools/call', params: { name: 'web_search', arguments: { query: 'kiro' } } };

  it.each(['ide', 'cli'] as const)('answers the %s wire’s MCP call', async (wire) => {
    const res = await request(`${sim.url}/mcp`, { method: 'POST', headers: mcpHeaders(wire, CRED, token, WIRE_CONFIG), body: JSON.stringify(rpc) });
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as { result?: unknown }).result).toBeDefined();
  });

  it('refuses an MCP call whose two user agents come from different wires', async () => {
    const headers = mcpHeaders('cli', CRED, token, WIRE_CONFIG);
    headers['x-amz-user-agent'] = mcpHeaders('ide', CRED, token, WIRE_CONFIG)['x-amz-user-agent'];
    const res = await request(`${sim.url}/mcp`, { method: 'POST', headers, body: JSON.stringify(rpc) });
    expect(res.statusCode).toBe(400);
    expect(sim.stats.requests.at(-1)?.rejection).toMatch(/mixes a Rust SDK/);
  });
});
