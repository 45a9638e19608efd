/** Settings of managed client keys and their usage accounting. */
import { setting, type SchemaTree } from './setting.js';

export function clientKeysSettings(): SchemaTree {
  return {
    file: setting(
      'Where managed client keys (created in the admin API; SHA-256 hashes only, never keys) are kept without Redis; their usage goes to `client-usage.json` beside it. Empty = `client-keys.json` beside credentials.json. With Redis, keys and usage live in Redis and this file is not read.',
      String,
      '',
      'KIRO_CLIENT_KEYS_FILE',
    ),
  };
}

export function usageSettings(): SchemaTree {
  return {
    hourlyRetentionHours: setting(
      'How long hourly usage (per client key and per credential: requests, tokens, credits, errors) is kept (hours).',
      'kiro-positive',
      168,
      'KIRO_USAGE_HOURLY_RETENTION_HOURS',
    ),
    dailyRetentionDays: setting(
      'How long daily usage is kept (days).',
      'kiro-positive',
      90,
      'KIRO_USAGE_DAILY_RETENTION_DAYS',
    ),
  };
}
