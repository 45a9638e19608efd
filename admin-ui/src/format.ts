/** Small display helpers shared by the screens. */

/** "in 42 min", "3 h ago"; the absolute time goes in a title attribute. */
export function relativeTime(iso: string | null, now: number = Date.now()): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const diff = t - now;
  const abs = Math.abs(diff);
  const units: Array<[number, string]> = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  let text = 'now';
  for (const [ms, unit] of units) {
    if (abs >= ms) {
      text = `${Math.floor(abs / ms)} ${unit}`;
      break;
    }
  }
  if (text === 'now') return 'now';
  return diff >= 0 ? `in ${text}` : `${text} ago`;
}

export function absoluteTime(iso: string | null): string | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toLocaleString();
}

export function number(value: number, digits = 2): string {
  return value.toLocaleString(undefined, { maximumFractionDigits: digits });
}

/** Token state from its expiry, as the gateway judges it (refresh when < 10 min remain). */
export function tokenState(expiresAt: string | null, now: number = Date.now()): 'ok' | 'soon' | 'expired' | 'unknown' {
  if (!expiresAt) return 'unknown';
  const t = Date.parse(expiresAt);
  if (Number.isNaN(t)) return 'unknown';
  if (t <= now) return 'expired';
  return t - now < 10 * 60_000 ? 'soon' : 'ok';
}
