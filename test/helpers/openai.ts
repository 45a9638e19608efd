/**
 * The official `openai` SDK pointed at a test stack's gateway, and raw helpers for checking exactly
 * what the OpenAI routes put on the wire.
 */
import OpenAI from 'openai';
import { readWhole, type WholeAnswer } from './http-body.js';
import { API_KEY, type Stack } from './stack.js';

/** An SDK client for the stack (no retries: a test sees each answer as it came). */
export function openAiClient(stack: Stack, apiKey = API_KEY): OpenAI {
  return new OpenAI({ baseURL: `${stack.url}/v1`, apiKey, maxRetries: 0, logLevel: 'off' });
}

/** POSTs to an OpenAI route with fetch (Bearer key, as the SDK sends it) and reads the whole body. */
export async function postOpenAi(
  stack: Stack,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<WholeAnswer> {
  const res = await fetch(`${stack.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return readWhole(res);
}

/** The `data:` payloads of an SSE body, in order (`[DONE]` kept as the string). */
export function sseData(text: string): Array<any> {
  return text
    .split('\n\n')
    .filter((record) => record !== '')
    .flatMap((record) => record.split('\n').filter((line) => line.startsWith('data: ')))
    .map((line) => {
      const data = line.slice('data: '.length);
      return data === '[DONE]' ? data : JSON.parse(data);
    });
}

/** Asserts nothing: returns whether a body is OpenAI's error shape and nothing else. */
export function isOpenAiErrorShape(json: any): boolean {
  if (typeof json !== 'object' || json === null || Object.keys(json).join() !== 'error') return false;
  const e = json.error;
  return (
    Object.keys(e).sort().join() === 'code,message,param,type' &&
    typeof e.message === 'string' &&
    e.message.length > 0 &&
    typeof e.type === 'string' &&
    (e.param === null || typeof e.param === 'string') &&
    (e.code === null || typeof e.code === 'string')
  );
}
