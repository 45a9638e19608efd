/**
 * Keeps secrets out of logs and spans. Two independent nets:
 *
 * 1. By key name: `isSecretKey()` / `redactSecrets()` replace the value of any secret-looking key
 *    (`refreshToken`, `authorization`, `x-api-key`, …) at any depth with `[REDACTED]`.
 * 2. By value: `createSecretScrubber()` replaces every occurrence of a known secret value (the
 *    tokens currently held by the credential pool, the configured API keys) inside a finished log
 *    line, as a last line of defence for a message that happens to quote a token.
 *
 * Why not pino's own `redact` paths: they only reach fixed depths, and every wildcard level is
 * expensive (measured with pino 10 on an 11-field request line: 1.5 µs/line without redaction,
 * 2.0 µs with 21 top-level paths, 33 µs with `*.key` paths, 128 µs with `*.*.key` paths). One
 * copy-on-write walk over the log object costs well under a microsecond and has no depth limit.
 */
import { createHash } from 'node:crypto';
import { SECRET_FIELDS } from '../credentials/types.js';
import { KEY_PREFIX } from '../keys/secret.js';

/**
 * Managed client keys are known only by their hash, so they cannot be scrubbed by value; they are
 * scrubbed by shape instead (their prefix and base64url), wherever a client put one (a URL, a field).
 */
const MANAGED_KEY = new RegExp(`${KEY_PREFIX}[A-Za-z0-9_-]{16,}`, 'g');

/** What a redacted value is replaced with, in logs and anywhere else. */
export const REDACTED = '[REDACTED]';

/**
 * Key names (compared case-insensitively, ignoring `-`, `_`, `.` and spaces) whose values are
 * always secret. Includes the credential secret fields, the gateway's own keys and the HTTP
 * headers that carry credentials.
 */
export const SECRET_KEY_NAMES: readonly string[] = [
  ...SECRET_FIELDS,
  'apiKey',
  'adminApiKey',
  'countTokensApiKey',
  'kiroApiKeyCredential',
  'password',
  'passwd',
  'secret',
  'token',
  'idToken',
  'sessionToken',
  'bearer',
  'privateKey',
  'clientAssertion',
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'x-amz-security-token',
  'cookie',
  'set-cookie',
];

/**
 * Endings that make any key secret (`nextToken`, `http.request.header.authorization`,
 * `upstreamApiKey`, …). `…tokens` (token *counts* such as `inputTokens`) deliberately does not match.
 */
const SECRET_KEY_SUFFIXES = ['token', 'secret', 'password', 'apikey', 'authorization', 'cookie'] as const;

const NORMALIZED_SECRET_NAMES = new Set(SECRET_KEY_NAMES.map(normalizeKey));

/** Memo of key → verdict. Log keys are a small, fixed vocabulary, so this stays tiny; capped anyway. */
const keyVerdicts = new Map<string, boolean>();
const KEY_VERDICT_CACHE_LIMIT = 4096;

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_.\s]/g, '');
}

/**
 * True when a key's value must never be logged or exported: a known secret name or a name
 * ending in token/secret/password/apiKey/authorization/cookie.
 */
export function isSecretKey(key: string): boolean {
  const cached = keyVerdicts.get(key);
  if (cached !== undefined) return cached;
  const n = normalizeKey(key);
  const verdict = NORMALIZED_SECRET_NAMES.has(n) || SECRET_KEY_SUFFIXES.some((s) => n.endsWith(s));
  if (keyVerdicts.size < KEY_VERDICT_CACHE_LIMIT) keyVerdicts.set(key, verdict);
  return verdict;
}

/** Deeper than any log object we write; also what stops cycles. */
const MAX_DEPTH = 10;

/**
 * Returns `value` with every secret-keyed entry replaced by `[REDACTED]`, at any depth, inside
 * plain objects, arrays and Errors (custom properties and `cause`). The input is never mutated:
 * objects on the path to a secret are shallow-copied (Errors keep their prototype, message and
 * stack), everything else is shared, and when nothing is secret the same reference comes back,
 * so the common case allocates nothing. Class instances other than Error (Buffer, Date, Map, …)
 * are left alone.
 */
export function redactSecrets<T>(value: T): T {
  return redactValue(value, 0) as T;
}

function redactValue(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;

  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const next = redactValue(item, depth + 1);
      if (next !== item) {
        copy ??= value.slice();
        copy[i] = next;
      }
    }
    return copy ?? value;
  }

  const isError = value instanceof Error;
  if (!isError) {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
  }

  const source = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key in source) {
    if (!Object.prototype.hasOwnProperty.call(source, key)) continue;
    const current = source[key];
    const next = isSecretKey(key) ? censor(current) : redactValue(current, depth + 1);
    if (next !== current) {
      copy ??= shallowCopy(source, isError);
      copy[key] = next;
    }
  }
  if (isError) {
    // `cause` is a non-enumerable own property, so the loop above does not see it.
    const cause: unknown = (source as { cause?: unknown }).cause;
    const next = redactValue(cause, depth + 1);
    if (next !== cause) {
      copy ??= shallowCopy(source, true);
      Object.defineProperty(copy, 'cause', { value: next, writable: true, configurable: true });
    }
  }
  return copy ?? value;
}

function censor(value: unknown): unknown {
  // Keep "absent" visibly absent: an empty or missing secret is useful debugging information.
  return value === undefined || value === null || value === '' ? value : REDACTED;
}

function shallowCopy(source: Record<string, unknown>, isError: boolean): Record<string, unknown> {
  if (!isError) return { ...source };
  // Own descriptors include the non-enumerable message and stack; the prototype keeps
  // `instanceof Error` true so pino's error serializer still recognises it.
  return Object.create(
    Object.getPrototypeOf(source) as object,
    Object.getOwnPropertyDescriptors(source),
  ) as Record<string, unknown>;
}

/** Options of {@link createSecretScrubber}. */
export interface SecretScrubberOptions {
  /**
   * Values shorter than this are ignored: replacing a short string everywhere would mangle
   * unrelated text (and `''` would match everywhere). Default 8.
   */
  minLength?: number;
}

/**
 * Secrets up to this length are matched by one combined regular expression (one native scan
 * whatever their number); longer ones (access and refresh tokens, often longer than the line
 * itself) by `includes`, which is skipped outright when the secret is longer than the text.
 */
const REGEX_NEEDLE_MAX_LENGTH = 128;

/**
 * Builds `scrub(text)`, which replaces every occurrence of a known secret value with
 * `[REDACTED]`. `source` is called on every scrub; the prepared matchers are rebuilt only when
 * the list changes (same instance: nothing to check; a new array with the same strings: one pass
 * of comparisons), so returning a cached array replaced on token refresh is cheapest. Costs nothing when the list is empty; a typical request
 * line with a few short keys and dozens of long tokens costs a few hundred nanoseconds. Secrets
 * are also matched in their JSON-escaped form, since the text is usually a serialized log line.
 * If `source` throws, the previous list keeps being used.
 */
export function createSecretScrubber(
  source: () => readonly string[],
  opts: SecretScrubberOptions = {},
): (text: string) => string {
  const minLength = opts.minLength ?? 8;
  let lastList: readonly string[] | undefined;
  let longNeedles: string[] = [];
  let shortTest: RegExp | undefined;
  let shortReplace: RegExp | undefined;

  const prepare = (list: readonly string[]): void => {
    const set = new Set<string>();
    for (const s of list) {
      if (typeof s !== 'string' || s.length < minLength) continue;
      set.add(s);
      const escaped = JSON.stringify(s).slice(1, -1);
      if (escaped !== s) set.add(escaped);
    }
    // Longest first everywhere, so a secret that contains another one is replaced whole.
    const needles = [...set].sort((a, b) => b.length - a.length);
    longNeedles = needles.filter((n) => n.length > REGEX_NEEDLE_MAX_LENGTH);
    const short = needles.filter((n) => n.length <= REGEX_NEEDLE_MAX_LENGTH);
    const pattern = short.map(escapeRegExp).join('|');
    shortTest = short.length > 0 ? new RegExp(pattern) : undefined;
    shortReplace = short.length > 0 ? new RegExp(pattern, 'g') : undefined;
    lastList = list;
  };

  return function scrub(text: string): string {
    let list: readonly string[] | undefined;
    try {
      list = source();
    } catch {
      list = lastList;
    }
    if (list !== undefined && list !== lastList) {
      if (lastList !== undefined && sameStrings(list, lastList)) lastList = list;
      else prepare(list);
    }
    let out = text;
    for (let i = 0; i < longNeedles.length; i++) {
      const needle = longNeedles[i];
      if (needle.length <= out.length && out.includes(needle)) out = out.replaceAll(needle, REDACTED);
    }
    if (shortTest?.test(out)) out = out.replace(shortReplace!, REDACTED);
    if (out.includes(KEY_PREFIX)) out = out.replace(MANAGED_KEY, REDACTED);
    return out;
  };
}

/** A fresh array with the same secrets must not cost a rebuild (the regex compile is the expensive part). */
function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A short, stable, non-reversible tag for a secret (first 12 hex chars of its SHA-256), so logs
 * can say which token or key was used without containing it.
 */
export function secretFingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 12);
}
