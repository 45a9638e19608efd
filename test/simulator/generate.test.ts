import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSimulator, DEFAULT_TEXT, type Simulator } from '../../src/simulator/index.js';
import type { KiroRequestBody } from '../../src/kiro/types.js';
import { accessToken, generate, joinChunks, kiroBody, oracleDecode, readChunks } from './helpers.js';

let sim: Simulator;
let token: string;

beforeAll(async () => {
  sim = await createSimulator({ maxInputBytes: 50_000 });
});
afterAll(() => sim.close());
beforeEach(async () => {
  sim.reset();
  token = await accessToken(sim);
});

async function generateOk(body: unknown) {
  const res = await generate(sim, token, body);
  const bytes = joinChunks(await readChunks(res.body));
  return { res, events: oracleDecode(bytes) };
}

async function expectMalformed(body: unknown, reason: RegExp) {
  const res = await generate(sim, token, body);
  expect(res.statusCode).toBe(400);
  expect(await res.body.json()).toEqual({ message: 'Improperly formed request.', reason: null });
  expect(sim.stats.requests.at(-1)?.rejection).toMatch(reason);
}

const tool = (name: string, json: Record<string, unknown> = { type: 'object', properties: {}, required: [] }) => ({
  toolSpecification: { name, description: `${name} tool`, inputSchema: { json } },
});

/** A body with one tool round trip in history and the given tools declared. */
function withToolHistory(tools = [tool('get_weather')]): KiroRequestBody {
  return kiroBody('', (b) => {
    b.conversationState.history = [
      { userInputMessage: { content: 'Weather in Paris?', modelId: 'claude-sonnet-4.5', origin: 'AI_EDITOR' } },
      {
        assistantResponseMessage: {
          content: 'Let me check.',
          toolUses: [{ toolUseId: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } }],
        },
      },
    ];
    b.conversationState.currentMessage.userInputMessage.userInputMessageContext = {
      tools,
      toolResults: [{ toolUseId: 'toolu_01', content: [{ text: '18°C' }], status: 'success' }],
    };
  });
}

describe('default reply', () => {
  it('streams the default text as event-stream frames the smithy codec decodes, then contextUsage and metering', async () => {
    const { res, events } = await generateOk(kiroBody('Hello'));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.amazon.eventstream');
    expect(events.map((e) => e.type)).toEqual([
      'assistantResponseEvent',
      'assistantResponseEvent',
      'assistantResponseEvent',
      'assistantResponseEvent',
      'contextUsageEvent',
      'meteringEvent',
    ]);
    expect(events.slice(0, 4).map((e) => e.payload.content).join('')).toBe(DEFAULT_TEXT);
    expect(events[4].payload.contextUsagePercentage).toBeGreaterThan(0);
    expect(events[5].payload).toMatchObject({ unit: 'credit', usage: expect.any(Number) });
  });

  it('derives a larger context usage from a larger request, and a smaller one for 1M-window models', async () => {
    const small = (await generateOk(kiroBody('hi'))).events[4].payload.contextUsagePercentage;
    const big = (await generateOk(kiroBody('x'.repeat(20_000)))).events[4].payload.contextUsagePercentage;
    const wide = (
      await generateOk(kiroBody('x'.repeat(20_000), (b) => (b.conversationState.currentMessage.userInputMessage.modelId = 'claude-sonnet-4.6')))
    ).events[4].payload.contextUsagePercentage;
    expect(big).toBeGreaterThan(small);
    expect(wide).toBeCloseTo(big / 5, 2);
  });

  it('counts the stream as completed and records the request with headers and parsed body', async () => {
    await generateOk(kiroBody('Hello'));
    expect(sim.stats).toMatchObject({ generate: 1, streamsCompleted: 1, streamsInFlight: 0, streamsAborted: 0 });
    const last = sim.stats.requests.at(-1)!;
    expect(last).toMatchObject({ method: 'POST', path: '/generateAssistantResponse', status: 200 });
    expect(last.headers.authorization).toBe(`Bearer ${token}`);
    expect(last.body).toEqual(kiroBody('Hello'));
  });
});

describe('access tokens', () => {
  const INVALID = { message: 'The bearer token included in the request is invalid.', reason: null };

  it.each([
    ['missing', undefined],
    ['unknown', 'not-a-token'],
  ])('answers 403 to a %s bearer token', async (_, bearer) => {
    const res = await generate(sim, bearer, kiroBody('hi'));
    expect(res.statusCode).toBe(403);
    expect(await res.body.json()).toEqual(INVALID);
  });

  it('answers 403 once the access token has expired', async () => {
    const short = await createSimulator({ tokenTtlSeconds: 0.05 });
    try {
      const t = await accessToken(short);
      expect((await generate(short, t, kiroBody('hi'))).statusCode).toBe(200);
      await new Promise((r) => setTimeout(r, 80));
      const res = await generate(short, t, kiroBody('hi'));
      expect(res.statusCode).toBe(403);
      expect(await res.body.json()).toEqual(INVALID);
    } finally {
      await short.close();
    }
  });

  it('answers 403 after expireAccessTokens() so a forced refresh can be tested', async () => {
    sim.expireAccessTokens();
    expect((await generate(sim, token, kiroBody('hi'))).statusCode).toBe(403);
  });

  it('accepts any bearer token with acceptAnyToken', async () => {
    const open = await createSimulator({ acceptAnyToken: true });
    try {
      const res = await generate(open, 'whatever', kiroBody('hi'));
      expect(res.statusCode).toBe(200);
      await res.body.arrayBuffer();
    } finally {
      await open.close();
    }
  });
});

describe('request validation (§12.2)', () => {
  it('accepts a well-formed body with a tool round trip in history', async () => {
    const { res } = await generateOk(withToolHistory());
    expect(res.statusCode).toBe(200);
  });

  it('answers 400 "Input is too long." above maxInputBytes', async () => {
    const res = await generate(sim, token, kiroBody('x'.repeat(60_000)));
    expect(res.statusCode).toBe(400);
    expect(await res.body.json()).toEqual({ message: 'Input is too long.', reason: 'CONTENT_LENGTH_EXCEEDS_THRESHOLD' });
    expect(sim.stats.rejected).toBe(1);
  });

  it('rejects a body that is not JSON', () => expectMalformed('{"conversationState":', /not JSON/));

  it('rejects a missing conversationState, currentMessage or modelId', async () => {
    await expectMalformed({}, /conversationState/);
    await expectMalformed(kiroBody('x', (b) => delete (b.conversationState as any).currentMessage), /currentMessage/);
    await expectMalformed(kiroBody('x', (b) => delete (b.conversationState.currentMessage.userInputMessage as any).modelId), /modelId/);
  });

  it('rejects what the gateway must clean up (newer notes §4, §7): empty tool descriptions, $schema, Draft 2020-12 bounds, big or mislabelled images', async () => {
    const withTool = (spec: Record<string, unknown>) =>
      kiroBody('hi', (b) => {
        b.conversationState.currentMessage.userInputMessage.userInputMessageContext = { tools: [{ toolSpecification: spec } as never] };
      });
    const schema = (json: Record<string, unknown>) => ({ name: 'mcp_tool', description: 'd', inputSchema: { json: { type: 'object', ...json } } });
    await expectMalformed(withTool({ name: 'mcp_tool', description: '', inputSchema: { json: { type: 'object' } } }), /mcp_tool: empty description/);
    await expectMalformed(withTool(schema({ $schema: 'https://json-schema.org/draft/2020-12/schema' })), /has \$schema/);
    await expectMalformed(withTool(schema({ properties: { n: { type: 'number', exclusiveMinimum: 0 } } })), /properties\.n\.exclusiveMinimum is a number/);
    await expectMalformed(withTool(schema({ properties: { n: { type: 'integer', maximum: 2 ** 53 } } })), /outside the 32-bit range/);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]).toString('base64');
    const withImage = (format: string, bytes: string) =>
      kiroBody('hi', (b) => {
        (b.conversationState.currentMessage.userInputMessage as unknown as Record<string, unknown>).images = [{ format, source: { bytes } }];
      });
    await expectMalformed(withImage('jpeg', png), /labelled jpeg but its bytes are png \(IMAGE_MIME_MISMATCH\)/);
    await generateOk(withImage('png', png));
    // This suite's simulator caps bodies at 50 KB; the image limit needs a default one.
    const roomy = await createSimulator();
    try {
      const res = await generate(roomy, await accessToken(roomy), withImage('png', png + 'A'.repeat(400_000)));
      expect(res.statusCode).toBe(400);
      await res.body.arrayBuffer();
      expect(roomy.stats.requests.at(-1)?.rejection).toMatch(/over 400000 \(CONTENT_LENGTH_EXCEEDS_THRESHOLD\)/);
    } finally {
      await roomy.close();
    }
  });

  it('rejects a chatTriggerType other than MANUAL', () =>
    expectMalformed(kiroBody('x', (b) => ((b.conversationState as any).chatTriggerType = 'AUTO')), /chatTriggerType/));

  it('rejects history that starts with an assistant message', () =>
    expectMalformed(
      kiroBody('x', (b) => {
        b.conversationState.history = [{ assistantResponseMessage: { content: 'hi' } }, { userInputMessage: { content: 'a', modelId: 'm', origin: 'AI_EDITOR' } }];
      }),
      /does not start with a user/,
    ));

  it('rejects two user messages in a row, including the last history one and the current one', async () => {
    const user = { userInputMessage: { content: 'a', modelId: 'claude-sonnet-4.5', origin: 'AI_EDITOR' as const } };
    await expectMalformed(
      kiroBody('x', (b) => (b.conversationState.history = [user, { assistantResponseMessage: { content: 'ok' } }, user, user])),
      /both user/,
    );
    await expectMalformed(kiroBody('x', (b) => (b.conversationState.history = [user])), /ends with a user message/);
  });

  it('rejects an assistant message with empty content', () =>
    expectMalformed(
      kiroBody('x', (b) => {
        b.conversationState.history = [
          { userInputMessage: { content: 'a', modelId: 'm', origin: 'AI_EDITOR' } },
          { assistantResponseMessage: { content: '' } },
        ];
      }),
      /assistant content is empty/,
    ));

  it('rejects a history toolUse without its toolResult', () =>
    expectMalformed(
      (() => {
        const b = withToolHistory();
        b.conversationState.currentMessage.userInputMessage.userInputMessageContext!.toolResults = [];
        return b;
      })(),
      /toolu_01 has no toolResult/,
    ));

  it('rejects a toolResult without its toolUse, and a duplicated toolResult', async () => {
    const orphan = withToolHistory();
    orphan.conversationState.currentMessage.userInputMessage.userInputMessageContext!.toolResults!.push({
      toolUseId: 'toolu_99',
      content: [{ text: '?' }],
      status: 'success',
    });
    await expectMalformed(orphan, /toolu_99, which the previous assistant message did not use/);
    const twice = withToolHistory();
    const results = twice.conversationState.currentMessage.userInputMessage.userInputMessageContext!.toolResults!;
    results.push({ ...results[0] });
    await expectMalformed(twice, /answers tool use toolu_01 twice/);
  });

  it('rejects a tool used in history but not declared, comparing names case-insensitively', async () => {
    await expectMalformed(withToolHistory([tool('other')]), /get_weather is used in history\[1\] but not declared/);
    const { res } = await generateOk(withToolHistory([tool('GET_WEATHER')]));
    expect(res.statusCode).toBe(200);
  });

  it.each([
    ['required null', { type: 'object', properties: {}, required: null }, /required is not an array/],
    ['required not an array', { type: 'object', properties: {}, required: 'city' }, /required is not an array/],
    ['properties null', { type: 'object', properties: null }, /properties is not an object/],
    ['no type', { properties: {} }, /no type/],
  ])('rejects a tool schema with %s', (_, json, reason) =>
    expectMalformed(withToolHistory([tool('get_weather', json as Record<string, unknown>)]), reason),
  );

  it('rejects tool names longer than 64 characters and accepts 64', async () => {
    const body = (name: string) =>
      kiroBody('x', (b) => (b.conversationState.currentMessage.userInputMessage.userInputMessageContext = { tools: [tool(name)] }));
    await expectMalformed(body('t'.repeat(65)), /longer than 64/);
    expect((await generateOk(body('t'.repeat(64)))).res.statusCode).toBe(200);
  });
});
