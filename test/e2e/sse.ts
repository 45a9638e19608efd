/**
 * Small helpers for the e2e tests: raw SSE parsing (to check exactly what went over the wire) and
 * the simulator's generateAssistantResponse log.
 */
import { API_KEY, type Stack } from '../helpers/stack.js';

/** One SSE record as sent: its `event:` name, its raw `data:` line and that line parsed. */
export interface SseRecord {
  event: string;
  data: string;
  json: any;
}

/**
 * Splits a complete SSE body into records. Throws when a record is not a well-formed
 * `event: …\ndata: <JSON>` pair or the body does not end on a record boundary, i.e. when something
 * was half-written.
 */
export function parseSse(text: string): SseRecord[] {
  if (text.length > 0 && !text.endsWith('\n\n')) throw new Error(`SSE body does not end on a record boundary: …${JSON.stringify(text.slice(-80))}`);
  const records: SseRecord[] = [];
  for (const block of text.split('\n\n')) {
    if (block === '') continue;
    const lines = block.split('\n');
    const event = lines.find((l) => l.startsWith('event: '))?.slice('event: '.length);
    const data = lines.find((l) => l.startsWith('data: '))?.slice('data: '.length);
    if (event === undefined || data === undefined || lines.length !== 2) throw new Error(`malformed SSE record: ${JSON.stringify(block)}`);
    records.push({ event, data, json: JSON.parse(data) });
  }
  return records;
}

/** POSTs a streaming Messages request with fetch and reads the whole SSE body. */
export async function rawStream(
  stack: Stack,
  body: Record<string, unknown>,
  path = '/v1/messages',
): Promise<{ status: number; contentType: string | null; text: string; records: SseRecord[] }> {
  const res = await fetch(`${stack.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), text, records: parseSse(text) };
}

/** The generateAssistantResponse calls the simulator answered, oldest first. */
export function generateCalls(stack: Stack) {
  return stack.sim.stats.requests.filter((r) => r.path === '/generateAssistantResponse');
}

/** The Kiro body of the newest generateAssistantResponse call. */
export function lastKiroBody(stack: Stack): any {
  return generateCalls(stack).at(-1)?.body;
}

/** The id the gateway gave the credential with this refresh token. */
export function credentialId(stack: Stack, refreshToken: string): number {
  const record = stack.gateway.store.list().find((r) => r.credential.refreshToken === refreshToken);
  if (!record) throw new Error('no credential with that refresh token');
  return record.credential.id;
}
