import type { IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { InvalidRequestError, RequestTooLargeError } from '../errors.js';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from './json-depth.js';
import { headerOf } from './exchange.js';

/**
 * Reads and parses a JSON request body with a size limit. Koa has no body parser of its own; this
 * one checks content-type and content-length before reading, and stops reading past the limit.
 * Takes node's request (Koa's `ctx.req`), so routes served outside Koa read bodies the same way.
 */
export async function readJsonBody(
  req: IncomingMessage,
  limitBytes: number,
  parse: (text: string) => unknown = parseJsonText,
): Promise<unknown> {
  const type = headerOf(req, 'content-type');
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
    throw new InvalidRequestError(
      type ? `Unsupported content-type "${type}": send application/json` : 'Missing content-type: send application/json',
    );
  }
  const text = await readBodyText(req, limitBytes);
  if (text.length === 0) throw new InvalidRequestError('Request body is empty: send a JSON object');
  return parse(text);
}

/**
 * The raw request body as UTF-8, refusing (413) past `limitBytes`: a declared content-length is
 * checked before reading, and reading stops at the limit.
 */
export async function readBodyText(req: IncomingMessage, limitBytes: number): Promise<string> {
  const declared = Number(headerOf(req, 'content-length') || NaN);
  if (declared > limitBytes) throw tooLarge(limitBytes);
  // Events rather than `for await`: an async iterator per request body cost a few µs each.
  // The first chunk is kept as bytes (most bodies are one chunk: one decode); from the second on,
  // each is decoded as it arrives, split characters carried over by a StringDecoder. A 76 KB Claude
  // Code body (two chunks) was `Buffer.concat` + decode: a copy of it less before parsing, ~5 µs.
  let first: Buffer | undefined;
  let decoder: StringDecoder | undefined;
  let text = '';
  await new Promise<void>((resolve, reject) => {
    let size = 0;
    const done = (err?: unknown) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', done);
      req.off('close', onClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buf.length;
      if (size > limitBytes) {
        done(tooLarge(limitBytes));
        req.unpipe();
        req.resume();
        return;
      }
      if (first === undefined) {
        first = buf;
        return;
      }
      if (decoder === undefined) {
        decoder = new StringDecoder('utf8');
        text = decoder.write(first);
      }
      text += decoder.write(buf);
    };
    const onEnd = () => done();
    // Closed before the end without an error event: the client went away mid-body.
    const onClose = () => done(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', done);
    req.once('close', onClose);
  });
  if (decoder) return text + decoder.end();
  return first === undefined ? '' : first.toString('utf8');
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
