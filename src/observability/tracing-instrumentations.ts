/**
 * The instrumentations that give spans for free: undici (Kiro calls, token refreshes,
 * getUsageLimits) and ioredis (Redis commands), configured so no secret reaches an attribute.
 *
 * - Both only trace inside a request (`requireParentforSpans` / `requireParentSpan`): the store's
 *   timers (stats flush, heartbeat, resync) and the test clients stay untraced.
 * - undici records no header (no `headersToSpanAttributes`): Authorization and the refresh body
 *   never reach a span. URLs go through the scrubber (scrubbing-tracer.ts) like every string.
 * - ioredis: {@link redisStatement} replaces the instrumentation's default statement serializer,
 *   which prints every argument of EVAL/EVALSHA (our Lua scripts get tokens as arguments) and
 *   the value of SET; ours keeps the command and its key names only.
 *
 * ESM: undici is observed through `diagnostics_channel` and needs nothing. ioredis is patched
 * when it is loaded, which an ES module import only reveals through a loader hook:
 * {@link registerModuleHooks} registers import-in-the-middle's hook for `ioredis` alone, and
 * must run before anything imports ioredis (main.ts imports the gateway after `initTracing`).
 */
import { register } from 'node:module';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';

/** Modules patched at load time (the loader hook intercepts only these). */
const PATCHED_MODULES = ['ioredis'];

let hooksRegistered = false;

/**
 * Registers the ESM loader hook that lets the ioredis instrumentation patch `import 'ioredis'`.
 * Once per process; only modules imported afterwards are patched.
 */
export function registerModuleHooks(): void {
  if (hooksRegistered) return;
  hooksRegistered = true;
  register('import-in-the-middle/hook.mjs', import.meta.url, { data: { include: PATCHED_MODULES } });
}

/** Fresh undici + ioredis instrumentations with the gateway's secret-safe settings. */
export function createInstrumentations(): Instrumentation[] {
  return [
    new UndiciInstrumentation({ requireParentforSpans: true }),
    new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: redisStatement }),
  ];
}

/** Commands whose arguments are never keys (credentials, scripts, server settings). */
const NO_KEY_COMMANDS = new Set(['auth', 'hello', 'acl', 'config', 'client', 'script', 'function', 'migrate', 'select', 'info', 'ping']);
const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);
const MAX_KEYS_SHOWN = 4;

/**
 * `db.query.text` of a Redis command without any value: `HSET kiro:credentials (+4 args)`,
 * `EVALSHA <sha> keys: kiro:lock:3 (+2 args)`, `AUTH (+1 args)`. Key names are the gateway's own
 * (prefix + id); values (tokens, passwords, script arguments) are only counted.
 */
export function redisStatement(name: string, args: ReadonlyArray<unknown>): string {
  const command = name.toLowerCase();
  const shown: string[] = [];
  let used = 0;
  if (SCRIPT_COMMANDS.has(command)) {
    const numKeys = Number(args[1]);
    // EVAL's first argument is the script body (long, not a key); EVALSHA / FCALL name the script.
    shown.push(command === 'eval' || command === 'eval_ro' ? '<script>' : String(args[0]));
    const keys = Number.isInteger(numKeys) && numKeys > 0 ? args.slice(2, 2 + Math.min(numKeys, MAX_KEYS_SHOWN)) : [];
    if (keys.length) shown.push(`keys: ${keys.map(String).join(' ')}`);
    used = 2 + keys.length;
  } else if (!NO_KEY_COMMANDS.has(command) && args.length > 0) {
    shown.push(String(args[0]));
    used = 1;
  }
  const rest = Math.max(0, args.length - used);
  if (rest > 0) shown.push(`(+${rest} args)`);
  return [name.toUpperCase(), ...shown].join(' ');
}
