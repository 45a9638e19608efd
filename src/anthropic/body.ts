import type { Context } from 'koa';
import { InvalidRequestError, RequestTooLargeError } from '../errors.js';

/**
 * Reads and parses a JSON request body with a size limit. Koa has no body parser of its own; this
 * one checks content-type and content-length before reading, and stops reading past the limit.
 */
export async function readJsonBody(ctx: Context, limitBytes: number): Promise<unknown> {
  const type = ctx.get('content-type');
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
    throw new InvalidRequestError(
      type ? `Unsupported content-type "${type}": send application/json` : 'Missing content-type: send application/json',
    );
  }
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > limitBytes) throw tooLarge(limitBytes);

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) {
      ctx.req.unpipe();
      ctx.req.resume();
      throw tooLarge(limitBytes);
    }
    chunks.push(chunk);
  }
  if (size === 0) throw new InvalidRequestError('Request body is empty: send a JSON object');
  const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    // V8's message quotes the input, which may hold a secret: report only where parsing stopped.
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new InvalidRequestError(`Request body is not valid JSON${position ? ` (at character ${position})` : ''}`);
  }
}

function tooLarge(limitBytes: number): RequestTooLargeError {
  // Whole MB for the usual limits; bytes when a small limit would round to "0 MB".
  const limit = limitBytes % (1024 * 1024) === 0 ? `${limitBytes / 1024 / 1024} MB` : `${limitBytes}-byte`;
  return new RequestTooLargeError(`Request body exceeds the ${limit} limit`);
}
