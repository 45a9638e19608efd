/**
 * Input checks of the admin API's client-key and usage routes. Every failure is a 400 naming the
 * field (the field checks are the ones stored records pass too: keys/stored-key.ts).
 */
import { InvalidRequestError } from '../errors.js';
import { KEY_ID_PATTERN } from '../keys/secret.js';
import { checkCredentialIds, checkLimits, checkModels, checkText, MAX_NAME_LENGTH, MAX_OWNER_LENGTH } from '../keys/stored-key.js';
import type { ClientKeyPatch } from '../keys/key-store.js';
import { HOUR_MS, type UsageGranularity, type UsageQuery, type UsageSubject } from '../keys/usage.js';
import { requireObject } from './validate.js';

const FIELDS = ['name', 'owner', 'enabled', 'models', 'credentials', 'limits'] as const;
const EXAMPLE = '{"name":"team-a","limits":{"requestsPerMinute":60}}';

/** A key id from the path. */
export function parseKeyId(raw: string | undefined): string {
  const id = raw ?? '';
  if (!KEY_ID_PATTERN.test(id)) throw new InvalidRequestError(`Invalid API key id '${id.slice(0, 40)}': expected key_ and 16 hex digits`);
  return id;
}

/**
 * The fields of a create (`name` required) or change request. `knownCredential` rejects pinned
 * credentials that do not exist.
 */
export function parseKeyFields(body: unknown, mode: 'create' | 'update', knownCredential: (id: number) => boolean): ClientKeyPatch {
  const o = requireObject(body, EXAMPLE);
  for (const field of Object.keys(o)) {
    if (!(FIELDS as readonly string[]).includes(field)) {
      throw new InvalidRequestError(`Unknown field "${field}"; accepted: ${FIELDS.join(', ')}`);
    }
  }
  const patch: ClientKeyPatch = {};
  if (o.name !== undefined || mode === 'create') {
    const name = checkText(o.name, 'name', MAX_NAME_LENGTH).trim();
    if (name === '') throw new InvalidRequestError('Field "name" must not be empty');
    patch.name = name;
  }
  if (o.owner !== undefined) patch.owner = checkText(o.owner, 'owner', MAX_OWNER_LENGTH).trim();
  if (o.enabled !== undefined) {
    if (typeof o.enabled !== 'boolean') throw new InvalidRequestError('Field "enabled" must be a boolean');
    patch.enabled = o.enabled;
  }
  if (o.models !== undefined) patch.models = checkModels(o.models);
  if (o.credentials !== undefined) {
    const ids = checkCredentialIds(o.credentials);
    const unknown = ids.filter((id) => !knownCredential(id));
    if (unknown.length > 0) throw new InvalidRequestError(`Unknown credential id(s) in "credentials": ${unknown.join(', ')}`);
    patch.credentials = ids;
  }
  if (o.limits !== undefined) patch.limits = checkLimits(o.limits);
  if (mode === 'update' && Object.keys(patch).length === 0) {
    throw new InvalidRequestError(`Nothing to change: send at least one of ${FIELDS.join(', ')}`);
  }
  return patch;
}

/** Longest ranges served in one answer. */
const MAX_BUCKETS: Record<UsageGranularity, number> = { hour: 24 * 31, day: 400 };
const DEFAULT_SPAN_MS: Record<UsageGranularity, number> = { hour: 24 * HOUR_MS, day: 30 * 24 * HOUR_MS };

function parseTime(value: unknown, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const text = Array.isArray(value) ? value[0] : value;
  const ms = typeof text === 'string' ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) throw new InvalidRequestError(`Query parameter "${name}" must be an RFC 3339 time such as 2025-12-07T00:00:00Z`);
  return ms;
}

/** `?granularity=hour|day&from=&to=&subject=key|credential`; defaults: hourly over the last 24 h, daily over 30 days. */
export function parseUsageQuery(query: Record<string, unknown>, now = Date.now()): UsageQuery {
  const granularity = (query.granularity ?? 'hour') as string;
  if (granularity !== 'hour' && granularity !== 'day') throw new InvalidRequestError('Query parameter "granularity" must be hour or day');
  const to = parseTime(query.to, 'to') ?? now;
  const from = parseTime(query.from, 'from') ?? to - DEFAULT_SPAN_MS[granularity] + 1;
  if (from > to) throw new InvalidRequestError('Query parameter "from" must not be after "to"');
  const size = granularity === 'hour' ? HOUR_MS : 24 * HOUR_MS;
  if ((to - from) / size > MAX_BUCKETS[granularity]) {
    throw new InvalidRequestError(`At most ${MAX_BUCKETS[granularity]} ${granularity}s per query: narrow "from"/"to" or use a coarser granularity`);
  }
  const subject = query.subject as string | undefined;
  if (subject !== undefined && subject !== 'key' && subject !== 'credential') {
    throw new InvalidRequestError('Query parameter "subject" must be key or credential');
  }
  return { granularity, from, to, subject: subject as UsageSubject | undefined };
}
