/**
 * The cache of converted tool lists gives exactly what converting the list again gives, and tells
 * apart lists that differ anywhere; the Kiro body serialised with the cached tool JSON spliced in
 * is byte for byte JSON.stringify of the body, on both wires.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateMessagesRequest } from '../../src/anthropic/validate.js';
import type { MessagesRequest, ToolParam } from '../../src/anthropic/types.js';
import { convertRequest } from '../../src/convert/request.js';
import { estimateToolsTokens } from '../../src/convert/tokens.js';
import { convertToolList, sameJsonValue, ToolListCache } from '../../src/convert/tool-list-cache.js';
import { toKiroToolSpec, ToolNamer } from '../../src/convert/tools.js';
import { serialiseAroundTools, toCliBody, TOOLS_MARKER, WireBody } from '../../src/kiro/wire-body.js';

function fixture(name: string): MessagesRequest {
  const path = fileURLToPath(new URL(`../fixtures/claude-code/${name}.json`, import.meta.url));
  return validateMessagesRequest((JSON.parse(readFileSync(path, 'utf8')) as { body: unknown }).body);
}

/** A fresh parse of the fixture's tools, as the next request would bring them. */
const toolsOf = (name: string): ToolParam[] => structuredClone(fixture(name).tools!);

const config = { cliEndpoint: { version: '2.3.0', operatingSystem: 'macos', workingDirectory: '/w' } };

describe('ToolListCache', () => {
  it('converts a list as the per-tool converter and the estimate do', () => {
    const tools = toolsOf('first-turn');
    const namer = new ToolNamer();
    const expected = tools.map((t) => toKiroToolSpec(t, namer));
    const converted = new ToolListCache().get(tools);
    expect(converted.specs).toEqual(expected);
    expect(converted.tokens).toBe(estimateToolsTokens(tools));
    expect(converted.json.toString()).toBe(JSON.stringify(expected));
  });

  it('answers the same list from the cache, and converts it only once', () => {
    const cache = new ToolListCache();
    const first = cache.get(toolsOf('first-turn'));
    const second = cache.get(toolsOf('tool-result-turn'));
    expect(second).toBe(first);
    expect([cache.hits, cache.misses]).toEqual([1, 1]);
  });

  it('tells apart lists that differ deep in a schema, in key order, or in a description of the same length', () => {
    const cache = new ToolListCache();
    const base = toolsOf('first-turn');
    cache.get(base);
    const deep = toolsOf('first-turn');
    const props = (deep[0]!.input_schema as { properties: Record<string, Record<string, unknown>> }).properties;
    const firstProp = Object.keys(props)[0]!;
    props[firstProp] = { ...props[firstProp], description: 'changed' };
    const reordered = toolsOf('first-turn');
    const schema = reordered[1]!.input_schema as Record<string, unknown>;
    reordered[1] = { ...reordered[1]!, input_schema: Object.fromEntries(Object.entries(schema).reverse()) };
    const sameLength = toolsOf('first-turn');
    const d = sameLength[2]!.description!;
    sameLength[2] = { ...sameLength[2]!, description: `${d.slice(0, -1)}${d.endsWith('x') ? 'y' : 'x'}` };
    for (const variant of [deep, reordered, sameLength]) {
      const converted = cache.get(variant);
      expect(converted).toEqual(convertToolList(structuredClone(variant)));
    }
    expect(cache.hits).toBe(0);
  });

  it('keeps a bounded number of lists, least recently used dropped first', () => {
    const cache = new ToolListCache(2);
    const list = (n: number): ToolParam[] => [{ name: `tool_${n}`, input_schema: { type: 'object' } }];
    cache.get(list(1));
    cache.get(list(2));
    cache.get(list(1));
    cache.get(list(3));
    expect(cache.size).toBe(2);
    cache.get(list(1));
    expect(cache.hits).toBe(2);
    cache.get(list(2));
    expect(cache.misses).toBe(4);
  });

  it('finds the very list object it cached without comparing it, and not once that entry was dropped', () => {
    const cache = new ToolListCache(1);
    const list = (n: number): ToolParam[] => [{ name: `tool_${n}`, input_schema: { type: 'object' } }];
    const one = list(1);
    const converted = cache.get(one);
    expect(cache.get(one)).toBe(converted);
    expect([cache.hits, cache.misses]).toEqual([1, 1]);
    cache.get(list(2)); // drops list 1
    const again = cache.get(one);
    expect(again).not.toBe(converted);
    expect(again).toEqual(convertToolList(list(1)));
    expect([cache.hits, cache.misses]).toEqual([1, 3]);
  });

  it('freezes what it shares between requests', () => {
    const tools = toolsOf('first-turn');
    const converted = new ToolListCache().get(tools);
    expect(Object.isFrozen(converted.specs[0]!.toolSpecification.inputSchema.json)).toBe(true);
    expect(Object.isFrozen(tools[0]!.input_schema)).toBe(true);
  });

  it('compares JSON values strictly', () => {
    expect(sameJsonValue({ a: [1, { b: 'x' }] }, { a: [1, { b: 'x' }] })).toBe(true);
    expect(sameJsonValue({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false);
    expect(sameJsonValue([1], { 0: 1 })).toBe(false);
    expect(sameJsonValue(null, {})).toBe(false);
    expect(sameJsonValue({ a: undefined }, {})).toBe(false);
  });
});

describe('the Kiro body with the cached tool JSON spliced in', () => {
  it.each(['first-turn', 'tool-result-turn'])('%s: byte for byte JSON.stringify, on the ide and cli wires', (name) => {
    const converted = convertRequest(fixture(name));
    expect(converted.toolsJson!.toString()).toBe(JSON.stringify(converted.body.conversationState.currentMessage.userInputMessage.userInputMessageContext!.tools));
    const wire = new WireBody(converted.body, config, converted.toolsJson);
    expect(wire.bytes('ide', undefined).toString()).toBe(JSON.stringify(converted.body));
    expect(wire.bytes('ide', 'arn:aws:x').toString()).toBe(JSON.stringify({ profileArn: 'arn:aws:x', ...converted.body }));
    expect(wire.bytes('cli', undefined).toString()).toBe(JSON.stringify(toCliBody(converted.body, { operatingSystem: 'macos', currentWorkingDirectory: '/w' })));
  });

  it('adds placeholders for history tools the list lacks to the spliced JSON', () => {
    const req = fixture('tool-result-turn');
    const converted = convertRequest({ ...req, tools: req.tools!.filter((t) => t.name !== 'Read') });
    const tools = converted.body.conversationState.currentMessage.userInputMessage.userInputMessageContext!.tools!;
    expect(tools.at(-1)!.toolSpecification.name).toBe('Read');
    expect(converted.toolsJson!.toString()).toBe(JSON.stringify(tools));
    expect(new WireBody(converted.body, config, converted.toolsJson).bytes('ide', 'arn:x').toString()).toBe(
      JSON.stringify({ profileArn: 'arn:x', ...converted.body }),
    );
  });

  it('serialises plainly when the conversation itself contains the marker text', () => {
    const converted = convertRequest(fixture('tool-result-turn'));
    const body = structuredClone(converted.body);
    body.conversationState.currentMessage.userInputMessage.content = TOOLS_MARKER;
    expect(serialiseAroundTools(body)).toBe(JSON.stringify(body));
    expect(new WireBody(body, config, converted.toolsJson).bytes('ide', undefined).toString()).toBe(JSON.stringify(body));
  });
});
