/**
 * Client API keys: what a managed key is, its limits, and what a request knows about the key it
 * was sent with. Types only and no imports, so the admin wire types (and the admin UI) can use them.
 */

/**
 * The limits of one key; a limit that is absent or 0 does not apply. Minute limits are token
 * buckets (capacity = the limit, refilled continuously over a minute, as Anthropic's own limits);
 * day limits count from 00:00 UTC.
 */
export interface KeyLimits {
  /** Requests per minute. */
  requestsPerMinute?: number;
  /** Input + output tokens per minute. */
  tokensPerMinute?: number;
  /** Input + output tokens per UTC day. */
  tokensPerDay?: number;
  /** Kiro credits (sum of meteringEvents) per UTC day. */
  creditsPerDay?: number;
  /** Requests (streams or JSON answers) in flight at once, over every replica. */
  concurrentStreams?: number;
}

/** Every limit name, in the order they are checked and shown. */
export const LIMIT_NAMES = ['requestsPerMinute', 'tokensPerMinute', 'tokensPerDay', 'creditsPerDay', 'concurrentStreams'] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

/** One managed key as stored (in Redis, or client-keys.json without Redis). Holds no secret. */
export interface ClientKeyRecord {
  /** `key_` + 16 hex; used in URLs, metrics labels and usage records. */
  id: string;
  name: string;
  /** Free text: who the key belongs to. */
  owner: string;
  enabled: boolean;
  /** Model names (as clients send them) the key may use; `*` matches any run of characters. Empty = any. */
  models: string[];
  /** Credential ids the key's requests may be served by. Empty = any. */
  credentials: number[];
  limits: KeyLimits;
  /** SHA-256 hex of the key: how a presented key is found. The key itself is never stored. */
  keyHash: string;
  /** `sk-kgw-…` plus the key's last 4 characters: enough to recognise it, useless to use it. */
  hint: string;
  /** RFC 3339. */
  createdAt: string;
  updatedAt: string;
}

/** The id under which the configuration's single `apiKey` is accounted (it has no limits). */
export const CONFIG_KEY_ID = 'config';
