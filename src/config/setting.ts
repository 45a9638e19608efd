/**
 * One setting of the convict schema (doc, format, default, env variable) and the value formats the
 * settings use.
 */
import convict from 'convict';
import { parseLockNodes, withRegion } from './gateway-config.js';

/** One setting: the leaf of the schema tree. */
export interface Setting {
  doc: string;
  format: unknown;
  default: unknown;
  env: string;
  sensitive?: boolean;
  /** Shown in the generated table instead of the (dynamic) default. */
  defaultText?: string;
}

/** The schema: settings grouped by topic, nested as the keys of `GatewayConfig`. */
export type SchemaTree = { [key: string]: Setting | SchemaTree };

export function setting(
  doc: string,
  format: unknown,
  defaultValue: unknown,
  env: string,
  extra: { sensitive?: boolean; defaultText?: string } = {},
): Setting {
  return { doc, format, default: defaultValue, env, ...extra };
}

// --- formats -------------------------------------------------------------------------------------
// convict's built-in coercions are lax (parseInt('8080abc') = 8080, any string but "false" is true),
// so env values are parsed strictly here and left as strings when malformed, which then fails
// validation with the setting's name.

function coerceInt(v: string): number | string {
  return /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
}

function coerceBool(v: string): boolean | string {
  const s = v.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  return v;
}

function assertFormat(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

convict.addFormats({
  'kiro-port': {
    validate: (v: unknown) =>
      assertFormat(Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535, 'must be an integer from 0 to 65535'),
    coerce: coerceInt,
  },
  'kiro-nat': {
    validate: (v: unknown) => assertFormat(Number.isInteger(v) && (v as number) >= 0, 'must be an integer >= 0'),
    coerce: coerceInt,
  },
  'kiro-positive': {
    validate: (v: unknown) => assertFormat(Number.isInteger(v) && (v as number) >= 1, 'must be an integer >= 1'),
    coerce: coerceInt,
  },
  'kiro-bool': {
    validate: (v: unknown) => assertFormat(typeof v === 'boolean', 'must be true or false'),
    coerce: coerceBool,
  },
  'kiro-lock-ttl': {
    // Redlock extends a lock at least 100 ms before it expires; the store extends every ttl/3.
    validate: (v: unknown) => assertFormat(Number.isInteger(v) && (v as number) >= 300, 'must be an integer >= 300'),
    coerce: coerceInt,
  },
});


function stringFormat(v: unknown): void {
  assertFormat(typeof v === 'string', 'must be a string');
}

export function nonEmptyString(v: unknown): void {
  assertFormat(typeof v === 'string' && v.trim() !== '', 'must be set (a non-empty string)');
}

export function httpUrlTemplate(v: unknown): void {
  stringFormat(v);
  let url: URL | undefined;
  try {
    url = new URL(withRegion(v as string, 'us-east-1'));
  } catch {
    // reported below
  }
  assertFormat(
    url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:'),
    'must be an http(s) URL ({region} is replaced by the region)',
  );
}

export function optionalHttpUrl(v: unknown): void {
  stringFormat(v);
  if (v === '') return;
  httpUrlTemplate(v);
}

export function optionalProxyUrl(v: unknown): void {
  stringFormat(v);
  if (v === '') return;
  let url: URL | undefined;
  try {
    url = new URL(v as string);
  } catch {
    // reported below
  }
  assertFormat(
    url !== undefined && ['http:', 'https:', 'socks5:', 'socks5h:'].includes(url.protocol),
    'must be empty or an http://, https:// or socks5:// URL',
  );
}

export function redisUrlList(v: unknown): void {
  stringFormat(v);
  for (const entry of parseLockNodes(v as string)) {
    let url: URL | undefined;
    try {
      url = new URL(entry);
    } catch {
      // reported below
    }
    // The entry itself is not echoed: it may carry a password.
    assertFormat(url !== undefined && (url.protocol === 'redis:' || url.protocol === 'rediss:'), 'must be empty or redis:// / rediss:// URLs separated by commas');
  }
}

export function optionalMachineId(v: unknown): void {
  stringFormat(v);
  const s = (v as string).trim();
  assertFormat(
    s === '' || /^[0-9a-fA-F]{64}$/.test(s) || /^[0-9a-fA-F]{32}$/.test(s.replaceAll('-', '')),
    'must be empty, 64 hex characters or a UUID',
  );
}
