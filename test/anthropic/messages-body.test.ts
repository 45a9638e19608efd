/**
 * parseMessagesBody skips re-parsing a tool list whose raw text it has seen; whatever the body,
 * its result must be what JSON.parse of the whole text gives, and its errors those of the plain parse.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { messagesBodyStats, parseMessagesBody } from '../../src/anthropic/messages-body.js';
import { parseJsonText } from '../../src/http/body.js';

const fixture = (name: string): Record<string, unknown> =>
  (JSON.parse(readFileSync(fileURLToPath(new URL(`../fixtures/claude-code/${name}.json`, import.meta.url)), 'utf8')) as { body: Record<string, unknown> }).body;

/** Parses `text` both ways and checks they agree; returns whether it was a hit. */
function parsesAsJson(text: string): boolean {
  const hits = messagesBodyStats.hits;
  expect(parseMessagesBody(text)).toEqual(JSON.parse(text));
  return messagesBodyStats.hits > hits;
}

describe('parseMessagesBody', () => {
  const body = fixture('tool-result-turn');
  const text = JSON.stringify(body);

  it('parses a tool list it has seen from its raw text, with the same result as JSON.parse', () => {
    parsesAsJson(text);
    expect(parsesAsJson(text)).toBe(true);
    // The next turn: other messages, the same tools.
    expect(parsesAsJson(JSON.stringify({ ...body, messages: [{ role: 'user', content: 'next' }] }))).toBe(true);
    // The parsed list is shared between requests: read-only.
    expect(Object.isFrozen((parseMessagesBody(text) as { tools: unknown[] }).tools[0])).toBe(true);
  });

  it('parses anything else in full, and still as JSON.parse', () => {
    parsesAsJson(text);
    const tools = body.tools as Array<Record<string, unknown>>;
    const changed = JSON.stringify({ ...body, tools: [{ ...tools[0], description: `${tools[0]!.description}.` }, ...tools.slice(1)] });
    expect(parsesAsJson(changed)).toBe(false);
    expect(parsesAsJson(JSON.stringify(body, null, 2))).toBe(false);
    expect(parsesAsJson(JSON.stringify({ ...body, tools: undefined }))).toBe(false);
  });

  it('never takes a nested or duplicate "tools" for the top-level list', () => {
    parsesAsJson(text);
    const rawTools = JSON.stringify(body.tools);
    // The known list first appears nested in a message; the top-level list is another one.
    const nested = `{"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"x","input":{"tools":${rawTools}}}]}],"tools":[{"name":"other","input_schema":{}}]}`;
    expect(parsesAsJson(nested)).toBe(false);
    // Two top-level lists: JSON.parse keeps the last one.
    const duplicate = `{"model":"m","tools":${rawTools},"messages":[],"tools":[{"name":"last","input_schema":{}}]}`;
    expect(parsesAsJson(duplicate)).toBe(false);
    const duplicateKnownLast = `{"model":"m","tools":[{"name":"first","input_schema":{}}],"messages":[],"tools":${rawTools}}`;
    parsesAsJson(duplicateKnownLast);
    // The key quoted inside a string is not a key.
    expect(parsesAsJson(JSON.stringify({ ...body, system: `see "tools":${rawTools}` }))).toBe(true);
  });

  it('reports malformed bodies as the plain parse does, positions included', () => {
    parsesAsJson(text);
    for (const broken of [text.slice(0, -1), `${text.slice(0, -1)},}`, text.replace('"messages":', '"messages"')]) {
      expect(() => parseMessagesBody(broken)).toThrow();
      let expected = '';
      try {
        parseJsonText(broken);
      } catch (err) {
        expected = (err as Error).message;
      }
      expect(() => parseMessagesBody(broken)).toThrow(expected);
    }
  });
});
