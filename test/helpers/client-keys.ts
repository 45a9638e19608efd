/** The admin API of managed client keys, as the client key tests drive it over HTTP. */
import { expect } from 'vitest';
import { readWhole, type WholeAnswer } from './http-body.js';
import { ADMIN_KEY } from './stack.js';

/** One admin API call on the gateway at `baseUrl` (`path` below /api/admin), with the admin key. */
export async function adminCall(baseUrl: string, method: string, path: string, body?: unknown): Promise<WholeAnswer> {
  const res = await fetch(`${baseUrl}/api/admin${path}`, {
    method,
    headers: { 'x-api-key': ADMIN_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return readWhole(res);
}

/** Creates a client key (`POST /api/admin/keys`, which must answer 201); its id and its secret, shown this once. */
export async function createClientKey(baseUrl: string, body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const res = await adminCall(baseUrl, 'POST', '/keys', body);
  expect(res.status, res.text).toBe(201);
  return { id: res.json.key.id, secret: res.json.secret };
}
