/**
 * The Kiro body as sent (tools spliced in from their cached JSON, the history serialised entry by
 * entry with its long texts' JSON remembered) is byte for byte `JSON.stringify` of the body — the
 * oracle — over generated bodies: texts around the remembered lengths, escapes, unicode, lone
 * surrogates, the markers themselves in every place a client can put text, the same texts again
 * (remembered) and the `cli` wire.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../helpers/seeded-random.js';
import type { KiroHistoryEntry, KiroRequestBody } from '../../src/kiro/types.js';
import { CONTENT_MARKER, HISTORY_MARKER, serialiseAroundTools, stringJson, toCliBody, TOOLS_MARKER, WireBody } from '../../src/kiro/wire-body.js';


const PIECES = ['lorem ipsum ', '\n', '"', '\\', '/', 'é', '日本語', '😀', '\ud800', '\u2028', '\u0000', '\t', '<system-reminder>', TOOLS_MARKER, HISTORY_MARKER, CONTENT_MARKER, `"${CONTENT_MARKER}"`];
const LENGTHS = [0, 5, 1_000, 1_023, 1_024, 1_025, 6_000, 65_536, 65_537, 70_000];

const MARKERS = [TOOLS_MARKER, HISTORY_MARKER, CONTENT_MARKER];

function text(next: () => number, markers: boolean): string {
  // A text that is a marker (inside a longer text its JSON never matches the quoted marker).
  if (markers && next() < 0.15) return MARKERS[Math.floor(next() * MARKERS.length)]!;
  const target = LENGTHS[Math.floor(next() * LENGTHS.length)]!;
  let s = '';
  while (s.length < target) {
    const piece = PIECES[Math.floor(next() * PIECES.length)]!;
    if (!markers && piece.includes('kiro-gateway-')) continue;
    s += next() < 0.7 ? 'x'.repeat(Math.floor(next() * 200)) : piece;
  }
  // Exactly the target length where it matters (the remembered range's ends).
  return next() < 0.5 ? s.slice(0, target) : s;
}

function body(next: () => number, pool: string[]): KiroRequestBody {
  const markers = next() < 0.2;
  // Texts from a small pool come back, as a session's system prompt does.
  const pick = (): string => {
    if (next() < 0.5 && pool.length > 0) return pool[Math.floor(next() * pool.length)]!;
    const s = text(next, markers);
    if (pool.length < 40) pool.push(s);
    return s;
  };
  const history: KiroHistoryEntry[] = [];
  const turns = Math.floor(next() * 4);
  for (let i = 0; i < turns; i++) {
    history.push({ userInputMessage: { content: pick(), modelId: 'claude-sonnet-4.5', origin: 'AI_EDITOR', ...(next() < 0.3 ? { userInputMessageContext: { toolResults: [{ toolUseId: 't', content: [{ text: pick() }], status: 'success' }] } } : {}) } });
    history.push({ assistantResponseMessage: { content: pick(), ...(next() < 0.3 ? { toolUses: [{ toolUseId: 't', name: 'Read', input: { path: pick() } }] } : {}) } });
  }
  const b: KiroRequestBody = {
    conversationState: {
      agentContinuationId: 'a',
      agentTaskType: 'vibe',
      chatTriggerType: 'MANUAL',
      conversationId: 'c',
      currentMessage: {
        userInputMessage: {
          content: pick(),
          modelId: 'claude-sonnet-4.5',
          origin: 'AI_EDITOR',
          userInputMessageContext: { tools: [{ toolSpecification: { name: 'Read', description: pick(), inputSchema: { json: { type: 'object' } } } }] },
        },
      },
    },
  };
  if (turns > 0 || next() < 0.5) b.conversationState.history = history;
  return b;
}

const config = { cliEndpoint: { version: '2.3.0', operatingSystem: 'macos', workingDirectory: '/w' } };
const envState = { operatingSystem: 'macos', currentWorkingDirectory: '/w' };

describe('the Kiro body as sent', () => {
  it('is JSON.stringify of the body, over generated bodies, on both wires', () => {
    const next = seededRandom(0x5eed);
    const pool: string[] = [];
    let spliced = 0;
    for (let i = 0; i < 200; i++) {
      const b = body(next, pool);
      const toolsJson = Buffer.from(JSON.stringify(b.conversationState.currentMessage.userInputMessage.userInputMessageContext!.tools));
      const wire = new WireBody(b, config, toolsJson);
      expect(wire.bytes('ide', 'arn:x').toString()).toBe(JSON.stringify({ profileArn: 'arn:x', ...b }));
      // Byte for byte, no slack at the end of the buffer written in place.
      expect(Buffer.from(wire.bytes('ide', undefined)).equals(Buffer.from(JSON.stringify(b)))).toBe(true);
      expect(wire.bytes('cli', undefined).toString()).toBe(JSON.stringify(toCliBody(b, envState)));
      const pieces = serialiseAroundTools(b);
      const whole = typeof pieces === 'string' ? pieces : pieces.before + toolsJson.toString() + pieces.after;
      expect(whole).toBe(JSON.stringify(b));
      if (typeof pieces !== 'string') spliced++;
    }
    // Most bodies take the spliced path; the rest (a marker in the conversation) the plain one.
    expect(spliced).toBeGreaterThan(100);
    expect(spliced).toBeLessThan(200);
  });

  it('remembers long texts as JSON.stringify gives them', () => {
    const next = seededRandom(42);
    for (let i = 0; i < 200; i++) {
      const s = text(next, true);
      expect(stringJson(s)).toBe(JSON.stringify(s));
      expect(stringJson(s.slice(0))).toBe(JSON.stringify(s));
    }
  });
});
