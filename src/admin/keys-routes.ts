/**
 * Admin API routes of client keys and usage, under `/api/admin`:
 *
 * - `GET /keys` — every key (never the key itself nor its hash) and where limits are enforced;
 * - `POST /keys` — creates a key; the answer (201) carries the key, shown this once;
 * - `GET /keys/:id`, `PATCH /keys/:id` (name, owner, enabled, models, credentials, limits),
 *   `DELETE /keys/:id`;
 * - `GET /usage` and `GET /usage.csv` — usage per key and per credential, hourly or daily.
 */
import type { Middleware } from 'koa';
import type Router from '@koa/router';
import { NotFoundError } from '../errors.js';
import { generateKeyId, generateKeySecret, keyHashOf, keyHint } from '../keys/secret.js';
import type { ClientKeys } from '../keys/setup.js';
import { CONFIG_KEY_ID, type ClientKeyRecord } from '../keys/types.js';
import type { CredentialStore } from '../store/store.js';
import { parseKeyFields, parseKeyId, parseUsageQuery } from './keys-validate.js';
import { toKeyItem, toUsageResponse, usageCsv } from './keys-views.js';
import { readJsonBody } from './validate.js';
import type { ClientKeyChangeResponse, ClientKeysResponse, CreatedClientKeyResponse } from './wire-types.js';

export function registerKeyRoutes(router: Router, guarded: Middleware[], keys: ClientKeys, credentials: CredentialStore): void {
  const store = keys.store;
  const knownCredential = (id: number) => credentials.get(id) !== undefined;

  function recordOf(raw: string | undefined): ClientKeyRecord {
    const id = parseKeyId(raw);
    const record = store.get(id);
    if (!record) throw new NotFoundError(`API key ${id} not found`);
    return record;
  }

  router.get('/keys', ...guarded, (ctx) => {
    const health = keys.health();
    const body: ClientKeysResponse = { keys: store.list().map(toKeyItem), limiter: { mode: health.mode, replicas: health.replicas } };
    ctx.body = body;
  });

  router.post('/keys', ...guarded, async (ctx) => {
    const fields = parseKeyFields(await readJsonBody(ctx), 'create', knownCredential);
    const secret = generateKeySecret();
    const now = new Date().toISOString();
    const record: ClientKeyRecord = {
      id: generateKeyId(),
      name: fields.name!,
      owner: fields.owner ?? '',
      enabled: fields.enabled ?? true,
      models: fields.models ?? [],
      credentials: fields.credentials ?? [],
      limits: fields.limits ?? {},
      keyHash: keyHashOf(secret),
      hint: keyHint(secret),
      createdAt: now,
      updatedAt: now,
    };
    await store.add(record);
    const body: CreatedClientKeyResponse = {
      success: true,
      message: `API key ${record.id} created; copy it now, it is not shown again`,
      key: toKeyItem(record),
      secret,
    };
    ctx.status = 201;
    ctx.body = body;
  });

  router.get('/keys/:id', ...guarded, (ctx) => {
    ctx.body = toKeyItem(recordOf(ctx.params.id));
  });

  router.patch('/keys/:id', ...guarded, async (ctx) => {
    const { id } = recordOf(ctx.params.id);
    const patch = parseKeyFields(await readJsonBody(ctx), 'update', knownCredential);
    const updated = await store.update(id, patch);
    const body: ClientKeyChangeResponse = { success: true, message: `API key ${id} updated`, key: toKeyItem(updated) };
    ctx.body = body;
  });

  router.delete('/keys/:id', ...guarded, async (ctx) => {
    const { id } = recordOf(ctx.params.id);
    await store.remove(id);
    const body: ClientKeyChangeResponse = { success: true, message: `API key ${id} deleted` };
    ctx.body = body;
  });

  const nameOf = (subject: 'key' | 'credential', id: string): string | null => {
    if (subject === 'credential') return credentials.get(Number(id))?.credential.email ?? null;
    if (id === CONFIG_KEY_ID) return 'apiKey (configuration)';
    return store.get(id)?.name ?? null;
  };

  async function usage(query: Record<string, unknown>) {
    const parsed = parseUsageQuery(query);
    return toUsageResponse(parsed, await keys.usage.query(parsed), nameOf);
  }

  router.get('/usage', ...guarded, async (ctx) => {
    ctx.body = await usage(ctx.query);
  });

  router.get('/usage.csv', ...guarded, async (ctx) => {
    const body = await usage(ctx.query);
    ctx.type = 'text/csv; charset=utf-8';
    ctx.set('content-disposition', `attachment; filename="kiro-gateway-usage-${body.granularity}.csv"`);
    ctx.body = usageCsv(body);
  });
}
