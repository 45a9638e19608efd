/**
 * What the admin API shows of client keys and usage: a key without its hash (and never the key,
 * which only the creation answer carries), usage rows with names, and usage as CSV.
 */
import type { ClientKeyRecord } from '../keys/types.js';
import type { UsageQuery, UsageRow } from '../keys/usage.js';
import type { ClientKeyItem, UsageResponse, UsageRowBody } from './wire-types.js';

export function toKeyItem(r: ClientKeyRecord): ClientKeyItem {
  return {
    id: r.id,
    name: r.name,
    owner: r.owner,
    enabled: r.enabled,
    models: [...r.models],
    credentials: [...r.credentials],
    limits: { ...r.limits },
    hint: r.hint,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/** Round away float noise of summed credits (0.1 + 0.2). */
function tidy(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

export function toUsageResponse(query: UsageQuery, rows: UsageRow[], nameOf: (subject: UsageRow['subject'], id: string) => string | null): UsageResponse {
  return {
    granularity: query.granularity,
    from: new Date(query.from).toISOString(),
    to: new Date(query.to).toISOString(),
    rows: rows.map(
      (r): UsageRowBody => ({
        start: new Date(r.start).toISOString(),
        subject: r.subject,
        id: r.id,
        name: nameOf(r.subject, r.id),
        requests: tidy(r.counts.requests),
        inputTokens: tidy(r.counts.inputTokens),
        outputTokens: tidy(r.counts.outputTokens),
        credits: tidy(r.counts.credits),
        errors: tidy(r.counts.errors),
        rateLimited: tidy(r.counts.rateLimited),
      }),
    ),
  };
}

const CSV_COLUMNS = ['start', 'granularity', 'subject', 'id', 'name', 'requests', 'input_tokens', 'output_tokens', 'credits', 'errors', 'rate_limited'];

/** A CSV cell: quoted when needed; text that a spreadsheet would run as a formula is prefixed with '. */
function cell(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** RFC 4180 CSV of a usage answer, one line per subject and bucket. */
export function usageCsv(body: UsageResponse): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of body.rows) {
    lines.push(
      [r.start, body.granularity, r.subject, r.id, r.name, r.requests, r.inputTokens, r.outputTokens, r.credits, r.errors, r.rateLimited]
        .map(cell)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}
