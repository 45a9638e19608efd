/** The two real Claude Code requests (test/fixtures/claude-code/) through validation and conversion. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateMessagesRequest } from '../../src/anthropic/validate.js';
import { convertRequest } from '../../src/convert/request.js';
import { estimateInputTokens } from '../../src/convert/tokens.js';
import type { KiroUserInputMessage } from '../../src/kiro/types.js';
import { assertWellFormedKiroBody } from './well-formed.js';

function fixtureBody(name: string): unknown {
  const path = fileURLToPath(new URL(`../fixtures/claude-code/${name}.json`, import.meta.url));
  return (JSON.parse(readFileSync(path, 'utf8')) as { body: unknown }).body;
}

const SESSION_ID = '00000000-0000-4000-8000-000000000000';
const ADAPTIVE_PREFIX = '<thinking_mode>adaptive</thinking_mode><thinking_effort>high</thinking_effort>\n';

describe.each(['first-turn', 'tool-result-turn'])('Claude Code fixture %s', (name) => {
  const req = validateMessagesRequest(fixtureBody(name));
  const out = convertRequest(req);
  const cs = out.body.conversationState;
  const current = cs.currentMessage.userInputMessage;
  const midSystem = req.messages.find((m) => m.role === 'system')!.content as string;

  it('converts into a well-formed body on the opus family', () => {
    assertWellFormedKiroBody(out.body);
    // Claude Code 2.1 asks for claude-opus-4-8: it must reach Kiro as that model, not 4.6.
    expect(out.kiroModelId).toBe('claude-opus-4.8');
    expect(out.windowSize).toBe(1_000_000);
    expect(out.thinking).toBe(true);
    expect(out.webSearch).toBeUndefined();
  });

  it('starts history with the adaptive thinking prefix and the system prompt', () => {
    const first = (cs.history![0] as { userInputMessage: KiroUserInputMessage }).userInputMessage.content;
    expect(first.startsWith(`${ADAPTIVE_PREFIX}x-anthropic-billing-header:`)).toBe(true);
    expect(first).toContain('[system prompt text replaced, 5673 chars]');
  });

  it('keeps the mid-conversation system text', () => {
    expect(JSON.stringify(out.body)).toContain(JSON.stringify(midSystem).slice(1, -1));
  });

  it('declares all 24 tools, with Write/Edit hints', () => {
    const tools = current.userInputMessageContext!.tools!;
    expect(tools).toHaveLength(24);
    expect(tools.map((t) => t.toolSpecification.name)).toEqual((req.tools ?? []).map((t) => t.name));
    expect(tools.find((t) => t.toolSpecification.name === 'Write')!.toolSpecification.description).toMatch(/50 lines/);
  });

  it('uses the session id of metadata.user_id as conversationId', () => {
    expect(cs.conversationId).toBe(SESSION_ID);
  });

  it('estimates input tokens like count_tokens would', () => {
    expect(out.inputTokensEstimate).toBe(estimateInputTokens(req));
    expect(out.inputTokensEstimate).toBeGreaterThan(10_000);
  });
});

describe('Claude Code fixture details', () => {
  it('first-turn: the user text and the trailing system message form the current message', () => {
    const out = convertRequest(validateMessagesRequest(fixtureBody('first-turn')));
    const current = out.body.conversationState.currentMessage.userInputMessage;
    expect(current.content).toMatch(/^<system-reminder>/);
    expect(current.content).toContain('\nsay hi\n[mid-conversation system text replaced]');
    expect(out.body.conversationState.history).toHaveLength(2);
  });

  it('tool-result-turn: the Read result lands in currentMessage toolResults with its text', () => {
    const out = convertRequest(validateMessagesRequest(fixtureBody('tool-result-turn')));
    const cs = out.body.conversationState;
    expect(cs.currentMessage.userInputMessage.userInputMessageContext!.toolResults).toEqual([
      { toolUseId: 'toolu_01', content: [{ text: '1\thello from file\n2\t' }], status: 'success' },
    ]);
    expect(cs.currentMessage.userInputMessage.content).toBe('');
    const history = cs.history!;
    expect(history).toHaveLength(4);
    const user = (history[2] as { userInputMessage: KiroUserInputMessage }).userInputMessage.content;
    expect(user).toContain('read hello.txt\n[mid-conversation system text replaced]');
    expect(history[3]).toEqual({
      assistantResponseMessage: {
        content: ' ',
        toolUses: [{ toolUseId: 'toolu_01', name: 'Read', input: { file_path: '/home/user/project/hello.txt' } }],
      },
    });
  });
});
