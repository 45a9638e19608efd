/**
 * Helpers for the simulator's own tests: Kiro bodies, token refresh, and reading event streams with
 * the smithy codec as the oracle.
 */
import { request } from 'undici';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { KiroRequestBody } from '../../src/kiro/types.js';
import type { Simulator } from '../../src/simulator/index.js';

const oracle = new EventStreamCodec(toUtf8, fromUtf8);

/** A refresh token long enough to be accepted; `tag` makes it unique. */
export function refreshToken(tag: string): string {
  return `aor-${tag}-`.padEnd(120, 'x');
}

/** A minimal valid Kiro body whose user text is `content`. */
export function kiroBody(content: string, patch: (body: KiroRequestBody) => void = () => {}): KiroRequestBody {
  const body: KiroRequestBody = {
    conversationState: {
      agentContinuationId: '00000000-0000-4000-8000-000000000001',
      agentTaskType: 'vibe',
      chatTriggerType: 'MANUAL',
      conversationId: '00000000-0000-4000-8000-000000000002',
      currentMessage: {
        userInputMessage: { content, modelId: 'claude-sonnet-4.5', origin: 'AI_EDITOR', userInputMessageContext: {} },
      },
    },
  };
  patch(body);
  return body;
}

/** Social refresh; returns the parsed answer and status. */
export async function refresh(sim: Simulator, token: string): Promise<{ status: number; body: any }> {
  const res = await request(`${sim.url}/refreshToken`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken: token }),
  });
  return { status: res.statusCode, body: await res.body.json() };
}

/** An access token for a fresh account. */
export async function accessToken(sim: Simulator, token = refreshToken(String(Math.random()))): Promise<string> {
  const { status, body } = await refresh(sim, token);
  if (status !== 200) throw new Error(`refresh failed: ${status} ${JSON.stringify(body)}`);
  return body.accessToken as string;
}

/** POST /generateAssistantResponse. */
export function generate(sim: Simulator, bearer: string | undefined, body: unknown, signal?: AbortSignal) {
  return request(`${sim.url}/generateAssistantResponse`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });
}

/** Reads a whole response body as chunks. */
export async function readChunks(body: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(new Uint8Array(chunk));
  return chunks;
}

/** A decoded frame in an easy-to-assert shape. */
export interface OracleEvent {
  messageType: string;
  type: string | undefined;
  payload: any;
}

/** Decodes back-to-back frames with the smithy codec (which also checks both CRCs). */
export function oracleDecode(bytes: Uint8Array): OracleEvent[] {
  const out: OracleEvent[] = [];
  let p = 0;
  while (p < bytes.length) {
    const total = new DataView(bytes.buffer, bytes.byteOffset + p).getUint32(0);
    const message = oracle.decode(bytes.subarray(p, p + total));
    const h = message.headers;
    const text = new TextDecoder().decode(message.body);
    out.push({
      messageType: String(h[':message-type']?.value ?? 'event'),
      type: (h[':event-type'] ?? h[':exception-type'] ?? h[':error-code'])?.value as string | undefined,
      payload: text ? JSON.parse(text) : undefined,
    });
    p += total;
  }
  return out;
}

/** Concatenates chunks. */
export function joinChunks(chunks: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks));
}
