import type { Context } from 'koa';
import { InvalidRequestError, RequestTooLargeError } from '../errors.js';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from './json-depth.js';

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
  const text = await readBodyText(ctx, limitBytes);
  if (text.length === 0) throw new InvalidRequestError('Request body is empty: send a JSON object');
  return parseJsonText(text);
}

/**
 * The raw request body as UTF-8, refusing (413) past `limitBytes`: a declared content-length is
 * checked before reading, and reading stops at the limit.
 */
export async function readBodyText(ctx: Context, limitBytes: number): Promise<string> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > limitBytes) throw tooLarge(limitBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  // Leaving a plain for-await early destroys the request, and with it the parsing of the rest of
  // its body: the next request on that keep-alive connection would never be answered. So the
  // request is kept, and what is left of an oversized body is read and dropped (resumed once the
  // iterator has let go of the stream, which pauses it).
  let over = false;
  for await (const chunk of ctx.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > limitBytes) {
      over = true;
      break;
    }
    chunks.push(buf);
  }
  if (over) {
    ctx.req.resume();
    throw tooLarge(limitBytes);
  }
  return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
}

/**
 * JSON.parse with a 400 that says where parsing stopped but never quotes the input, and a 400 for
 * nesting deeper than {@link MAX_JSON_DEPTH} (checked here, before any recursive walk sees it).
 */
export function parseJsonText(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // V8's message quotes the input, which may hold a secret: report only where parsing stopped.
    const message = (err as Error).message;
    const position = /position (\d+)/.exec(message)?.[1];
    const where = position ? ` (at character ${position})` : /end of JSON/.test(message) ? ' (truncated)' : '';
    throw new InvalidRequestError(`Request body is not valid JSON${where}`);
  }
  if (exceedsJsonDepth(value)) {
    throw new InvalidRequestError(`Request body nests JSON more than ${MAX_JSON_DEPTH} levels deep (the limit)`);
  }
  return value;
}

function tooLarge(limitBytes: number): RequestTooLargeError {
  // Whole MB for the usual limits; bytes when a small limit would round to "0 MB".
  const limit = limitBytes % (1024 * 1024) === 0 ? `${limitBytes / 1024 / 1024} MB` : `${limitBytes}-byte`;
  return new RequestTooLargeError(`Request body exceeds the ${limit} limit`);
}
