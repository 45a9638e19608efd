/**
 * What a request knows about the key it came with: which key (for usage and limits), what it may
 * use (models, credentials), and how to name it in messages. Built once per key version and reused
 * by every request with that key.
 */
import { CONFIG_KEY_ID, type ClientKeyRecord } from './types.js';
import { hasLimits } from './limits.js';

export interface ClientKeyContext {
  /** Key id, or `config` for the configuration's `apiKey`. */
  readonly id: string;
  /** `"name" (key_…)`, for messages. */
  readonly label: string;
  /** The managed key; undefined for the configuration's key. */
  readonly record?: ClientKeyRecord;
  /** True when a limit applies, i.e. requests need a check. */
  readonly limited: boolean;
  /** Whether the key may ask for `model` (its `models` patterns; any model when it has none). */
  allowsModel(model: string): boolean;
  /** Credentials its requests may be served by; undefined = any. */
  readonly credentials?: ReadonlySet<number>;
}

/** The configuration's `apiKey`: no limits, every model, every credential. */
export const CONFIG_KEY_CONTEXT: ClientKeyContext = {
  id: CONFIG_KEY_ID,
  label: 'apiKey (configuration)',
  limited: false,
  allowsModel: () => true,
};

/** `claude-sonnet-*` → a regex matching the whole name; `*` is the only wildcard. */
export function modelPattern(pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}

const contexts = new WeakMap<ClientKeyRecord, ClientKeyContext>();

/** The context of a managed key (cached per record: a changed key is a new record). */
export function contextOf(record: ClientKeyRecord): ClientKeyContext {
  let context = contexts.get(record);
  if (context) return context;
  const patterns = record.models.map(modelPattern);
  context = {
    id: record.id,
    label: `"${record.name}" (${record.id})`,
    record,
    limited: hasLimits(record.limits),
    allowsModel: patterns.length === 0 ? () => true : (model) => patterns.some((p) => p.test(model)),
    credentials: record.credentials.length > 0 ? new Set(record.credentials) : undefined,
  };
  contexts.set(record, context);
  return context;
}
