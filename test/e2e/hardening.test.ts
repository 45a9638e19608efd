/**
 * Request hardening that prevents Kiro's 400s (docs/kiro-protocol-newer.md §4, §7), through the real
 * SDK. The simulator refuses each raw form (oversized or mislabelled images, empty tool
 * descriptions, `$schema`, Draft 2020-12 bounds), so these pass only because the gateway fixes them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import sharp from 'sharp';
import { startStack, type Stack } from '../helpers/stack.js';
import { generateCalls, lastKiroBody } from './sse.js';

async function noisePng(width: number, height: number): Promise<string> {
  const buf = await sharp({ create: { width, height, channels: 4, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 20 } } }).png().toBuffer();
  return buf.toString('base64');
}

describe('request hardening', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it('downscales an oversized PNG so Kiro accepts it', async () => {
    const png = await noisePng(2400, 1500);
    expect(png.length).toBeGreaterThan(400_000);
    const message = await stack.client.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 64,
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }, { type: 'text', text: 'What is this?' }] }],
    });
    expect(message.stop_reason).toBe('end_turn');
    expect(generateCalls(stack).at(-1)!.status).toBe(200);
    const [image] = lastKiroBody(stack).conversationState.currentMessage.userInputMessage.images;
    expect(image.format).toBe('jpeg');
    expect(image.source.bytes.length).toBeLessThanOrEqual(400_000);
    const meta = await sharp(Buffer.from(image.source.bytes, 'base64')).metadata();
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(1568);
  });

  it('labels an image by its bytes, not by the client\'s media_type', async () => {
    const png = (await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).png().toBuffer()).toString('base64');
    await stack.client.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 64,
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: png } }, { type: 'text', text: 'And this?' }] }],
    });
    expect(lastKiroBody(stack).conversationState.currentMessage.userInputMessage.images[0].format).toBe('png');
  });

  it('fills empty tool descriptions and strips $schema and Draft 2020-12 bounds from MCP tool schemas', async () => {
    await stack.client.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 64,
      tools: [
        {
          name: 'mcp__db__query',
          description: '',
          input_schema: {
            $schema: 'https://json-schema.org/draft/2020-12/schema',
            type: 'object',
            properties: {
              limit: { type: 'integer', exclusiveMinimum: 0, maximum: 2 ** 53 - 1 },
              filter: { type: 'object', properties: { score: { type: 'number', exclusiveMaximum: 1 } } },
            },
          } as never,
        },
      ],
      messages: [{ role: 'user', content: 'Query it' }],
    });
    expect(generateCalls(stack).at(-1)!.status).toBe(200);
    const spec = lastKiroBody(stack).conversationState.currentMessage.userInputMessage.userInputMessageContext.tools[0].toolSpecification;
    expect(spec.description).toBe('mcp__db__query');
    expect(JSON.stringify(spec.inputSchema.json)).not.toMatch(/\$schema|exclusiveM|9007199254740991/);
    expect(spec.inputSchema.json.properties.limit).toEqual({ type: 'integer' });
  });

  it('refuses an image by URL with a 400 saying why, before any upstream call, instead of dropping it', async () => {
    const before = generateCalls(stack).length;
    const err = await stack.client.messages
      .create({
        model: 'claude-sonnet-4-6',
        max_tokens: 64,
        messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'http://169.254.169.254/latest/meta-data' } }, { type: 'text', text: 'What is this?' }] }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const body = (err as InstanceType<typeof Anthropic.BadRequestError>).error as { error: { type: string; message: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/source type "url" cannot be sent to Kiro.*base64/);
    expect(generateCalls(stack).length).toBe(before);
  });

  it('passes a plain-text document as text, and tells the model of a PDF it cannot pass', async () => {
    await stack.client.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 64,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', title: 'notes.txt', source: { type: 'text', media_type: 'text/plain', data: 'the launch is on Friday' } },
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' } },
            { type: 'text', text: 'When is the launch?' },
          ],
        },
      ],
    });
    const content: string = lastKiroBody(stack).conversationState.currentMessage.userInputMessage.content;
    expect(content).toContain('<document "notes.txt">\nthe launch is on Friday\n</document>');
    expect(content).toContain('[A document (application/pdf) was attached here; this gateway cannot pass it to the model.]');
    expect(content).toContain('When is the launch?');
  });
});
