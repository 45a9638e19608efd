/**
 * The fixed label sets of the gateway metrics: every label value comes from one of these small
 * sets (model families, outcome classes, credential ids, ...) — never a raw model string, URL,
 * request id or secret. Also the functions that map raw values onto them.
 */
import { DISABLED_REASONS as CREDENTIAL_DISABLED_REASONS } from '../credentials/types.js';

/**
 * Outcome classes of one upstream call (docs/kiro-protocol.md §9.2). `canceled` is for calls the
 * gateway aborted because the client went away, so they do not count as upstream failures.
 */
export const OUTCOME_CLASSES = [
  'ok',
  'auth',
  'quota',
  'rate_limited',
  'server_error',
  'network',
  'bad_request',
  'truncated',
  'canceled',
] as const;
/** One of {@link OUTCOME_CLASSES}. */
export type OutcomeClass = (typeof OUTCOME_CLASSES)[number];

/** True for outcomes that mean the upstream (or its credential) failed, not the client. */
export function isFailureOutcome(outcome: string): boolean {
  return outcome !== 'ok' && outcome !== 'bad_request' && outcome !== 'canceled';
}

/** Model families used as the `model` label; client model strings are unbounded. */
export const MODEL_FAMILIES = ['sonnet', 'opus', 'haiku', 'other'] as const;
/** One of {@link MODEL_FAMILIES}. */
export type ModelFamily = (typeof MODEL_FAMILIES)[number];

/**
 * Maps any model string (Anthropic `claude-sonnet-4-5-20250929`, Kiro `CLAUDE_SONNET_4_5_…`, or a
 * family name itself) to its family. No allocation.
 */
export function modelFamily(model: string): ModelFamily {
  if (/opus/i.test(model)) return 'opus';
  if (/sonnet/i.test(model)) return 'sonnet';
  if (/haiku/i.test(model)) return 'haiku';
  return 'other';
}

/**
 * Results of one token-refresh attempt: `skipped` = another holder refreshed while we waited
 * for the lock; `invalid_grant` = the refresh token is dead; `rejected` = any other HTTP error;
 * `network` = no answer; `lock_failed` = the refresh lock could not be taken.
 */
export const REFRESH_OUTCOMES = ['ok', 'skipped', 'invalid_grant', 'rejected', 'network', 'lock_failed'] as const;
/** One of {@link REFRESH_OUTCOMES}. */
export type RefreshOutcome = (typeof REFRESH_OUTCOMES)[number];

/** SSE event names counted individually; anything else is counted as `other`. */
export const SSE_EVENT_TYPES = [
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
  'ping',
  'error',
  'other',
] as const;

/** `reason` label values of the disabled-credentials gauge; unknown reasons become `Other`. */
export const DISABLED_REASONS = [...CREDENTIAL_DISABLED_REASONS, 'Other'] as const;

/** Redis commands timed under their own name (lower case); others are labelled `other`. */
export const DEFAULT_REDIS_COMMANDS: readonly string[] = [
  'get', 'set', 'del', 'exists', 'expire', 'pexpire', 'incr', 'incrby', 'mget', 'mset',
  'hget', 'hset', 'hmget', 'hgetall', 'hdel', 'hincrby', 'sadd', 'srem', 'smembers',
  'zadd', 'zrem', 'zrange', 'eval', 'evalsha', 'script', 'publish', 'subscribe',
  'psubscribe', 'ping', 'scan', 'multi', 'exec', 'info',
];

/** `method` label values; anything else is `OTHER`. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Largest credential id used as a `credential` label value; anything else is `invalid`. */
const MAX_CREDENTIAL_ID = 99_999;

/** `outcome` as a label value: unclassified outcomes count as `server_error`. */
export function knownOutcome(outcome: string): OutcomeClass {
  // Unclassified outcomes are gateway bugs; count them as server errors rather than drop them.
  return (OUTCOME_CLASSES as readonly string[]).includes(outcome) ? (outcome as OutcomeClass) : 'server_error';
}

/** A credential id as a `credential` label value (`invalid` when not a small non-negative integer). */
export function credentialLabel(id: number): string {
  return Number.isInteger(id) && id >= 0 && id <= MAX_CREDENTIAL_ID ? String(id) : 'invalid';
}

/** `path` label of `admission_admitted_total`: admitted at once, or after waiting in the queue. */
export const ADMISSION_PATHS = ['immediate', 'queued'] as const;

/** `reason` label of `admission_shed_total` (see anthropic/admission.ts `ShedReason`). */
export const SHED_REASONS = ['queue_full', 'queue_timeout'] as const;
