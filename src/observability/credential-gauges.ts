/**
 * Credential gauges of the gateway metrics, computed at scrape time from the credential store's
 * records (enabled, disabled by reason, near expiry, cooling down, and enabled per credential id).
 */
import { Gauge, type Registry } from 'prom-client';
import type { CredentialRecord } from '../credentials/types.js';
import { DISABLED_REASONS, credentialLabel } from './metric-labels.js';

/** Where the credential gauges read from when scraped. */
export interface CredentialGaugeSource {
  /** The current credential records (must be cheap and synchronous). */
  records(): readonly CredentialRecord[];
  /** Epoch ms. */
  now(): number;
  /** An access token this close to `expiresAt` counts as near expiry. */
  readonly nearExpiryMs: number;
}

/**
 * Registers `credentials_enabled`, `credentials_disabled` {reason}, `credentials_near_expiry`,
 * `credentials_cooling_down` and `credential_enabled` {credential} (names prefixed by `prefix`).
 */
export function registerCredentialGauges(registry: Registry, prefix: string, source: CredentialGaugeSource): void {
  const registers = [registry];
  new Gauge({
    name: `${prefix}credentials_enabled`,
    help: 'Credentials currently enabled (scrape time).',
    registers,
    collect: function (this: Gauge): void {
      this.set(countCredentials(source, (r) => !r.credential.disabled));
    },
  });
  new Gauge({
    name: `${prefix}credentials_disabled`,
    help: 'Credentials currently disabled, by reason (scrape time).',
    labelNames: ['reason'],
    registers,
    collect: function (this: Gauge<'reason'>): void {
      const counts = new Map<string, number>(DISABLED_REASONS.map((r) => [r, 0]));
      for (const r of source.records()) {
        if (!r.credential.disabled) continue;
        const reason = r.credential.disabledReason ?? 'Manual';
        const key = counts.has(reason) ? reason : 'Other';
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const [reason, n] of counts) this.set({ reason }, n);
    },
  });
  new Gauge({
    name: `${prefix}credentials_near_expiry`,
    help: 'Enabled credentials whose access token expires within the refresh window (scrape time).',
    registers,
    collect: function (this: Gauge): void {
      const limit = source.now() + source.nearExpiryMs;
      this.set(
        countCredentials(source, (r) => {
          if (r.credential.disabled || r.credential.authMethod === 'api_key') return false;
          const expiresAt = r.credential.expiresAt ? Date.parse(r.credential.expiresAt) : NaN;
          return Number.isFinite(expiresAt) && expiresAt <= limit;
        }),
      );
    },
  });
  new Gauge({
    name: `${prefix}credentials_cooling_down`,
    help: 'Enabled credentials skipped until a rate-limit cooldown ends (scrape time).',
    registers,
    collect: function (this: Gauge): void {
      const now = source.now();
      this.set(countCredentials(source, (r) => !r.credential.disabled && (r.stats.cooldownUntil ?? 0) > now));
    },
  });
  new Gauge({
    name: `${prefix}credential_enabled`,
    help: '1 if the credential is enabled, 0 if disabled, per credential id (scrape time).',
    labelNames: ['credential'],
    registers,
    collect: function (this: Gauge<'credential'>): void {
      this.reset(); // drop removed credentials
      for (const r of source.records()) {
        this.set({ credential: credentialLabel(r.credential.id) }, r.credential.disabled ? 0 : 1);
      }
    },
  });
}

function countCredentials(source: CredentialGaugeSource, predicate: (r: CredentialRecord) => boolean): number {
  let n = 0;
  for (const r of source.records()) if (predicate(r)) n++;
  return n;
}
