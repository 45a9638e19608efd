/**
 * Checks of OpenAI request fields, failing with a 400 that names the field the OpenAI way
 * (`messages[1].content[0].image_url.url`) and carries OpenAI's `code` for what is wrong.
 */
import { OpenAiParamError, type ParamCode } from './errors.js';

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function fail(param: string, message: string, code: ParamCode = 'invalid_value'): never {
  throw new OpenAiParamError(param, message, code);
}

/** The JSON type of a value, as error messages name it. */
function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

function wrongType(param: string, expected: string, v: unknown): never {
  if (v === undefined) fail(param, 'missing required parameter', 'missing_required_parameter');
  fail(param, `expected ${expected}, got ${kind(v)}`, 'invalid_type');
}

export function requireString(v: unknown, param: string): string {
  if (typeof v !== 'string') wrongType(param, 'a string', v);
  return v;
}

export function requireNonEmptyString(v: unknown, param: string): string {
  if (requireString(v, param) === '') fail(param, 'expected a non-empty string');
  return v as string;
}

export function optionalString(v: unknown, param: string): string | undefined {
  if (v == null) return undefined;
  return requireString(v, param);
}

export function optionalBoolean(v: unknown, param: string): boolean | undefined {
  if (v == null) return undefined;
  if (typeof v !== 'boolean') wrongType(param, 'a boolean', v);
  return v;
}

export function optionalNumber(v: unknown, param: string): number | undefined {
  if (v == null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) wrongType(param, 'a number', v);
  return v;
}

/** An integer of at least `min`, or undefined when absent. */
export function optionalInteger(v: unknown, param: string, min: number): number | undefined {
  if (v == null) return undefined;
  if (!Number.isInteger(v)) wrongType(param, 'an integer', v);
  if ((v as number) < min) fail(param, `expected an integer of at least ${min}, got ${v as number}`);
  return v as number;
}

export function requireObject(v: unknown, param: string): Obj {
  if (!isObj(v)) wrongType(param, 'an object', v);
  return v;
}

export function optionalObject(v: unknown, param: string): Obj | undefined {
  if (v == null) return undefined;
  return requireObject(v, param);
}

export function requireArray(v: unknown, param: string): unknown[] {
  if (!Array.isArray(v)) wrongType(param, 'an array', v);
  return v;
}

/** One of `values` (a string), or undefined when absent. */
export function optionalEnum<T extends string>(v: unknown, param: string, values: readonly T[]): T | undefined {
  if (v == null) return undefined;
  requireString(v, param);
  if (!(values as readonly string[]).includes(v as string)) {
    fail(param, `expected one of ${values.map((x) => `'${x}'`).join(', ')}, got '${(v as string).slice(0, 64)}'`);
  }
  return v as T;
}

/** Refuses a field this gateway cannot honour, saying why. */
export function unsupported(param: string, why: string): never {
  fail(param, `not supported: ${why}`, 'unsupported_parameter');
}
