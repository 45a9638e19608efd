/**
 * A small parser for the Prometheus text exposition format (0.0.4), for tests that read
 * `GatewayMetrics.metricsText()` or a `/metrics` body and assert on samples.
 *
 * @example
 * const m = parseProm(await metrics.metricsText());
 * expect(m.value('kiro_gateway_http_requests_total', { route: '/v1/messages', status: '200' })).toBe(1);
 */

/** One sample line: `name{labels} value`. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed exposition: every sample plus `# TYPE` / `# HELP` per metric family. */
export interface PromExposition {
  samples: PromSample[];
  types: Map<string, string>;
  help: Map<string, string>;
  /** Samples named `name` whose labels include every pair of `labels`. */
  find(name: string, labels?: Record<string, string>): PromSample[];
  /** Sum of {@link find}'s values; 0 when nothing matches. */
  sum(name: string, labels?: Record<string, string>): number;
  /** The value of the only matching sample; throws when there are none or several. */
  value(name: string, labels?: Record<string, string>): number;
  /** Every value of `label` across samples of `name` (including histogram `_bucket`/`_sum`/`_count`). */
  labelValues(name: string, label: string): Set<string>;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/;

/** Parses exposition text; throws on a line it does not understand, so tests fail loudly. */
export function parseProm(text: string): PromExposition {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(TYPE|HELP)\s+(\S+)\s*(.*)$/.exec(line);
      if (m?.[1] === 'TYPE') types.set(m[2], m[3]);
      else if (m?.[1] === 'HELP') help.set(m[2], m[3]);
      continue;
    }
    const m = SAMPLE_LINE.exec(line);
    if (!m) throw new Error(`prom-parse: cannot parse line: ${line}`);
    samples.push({ name: m[1], labels: m[3] ? parseLabels(m[3]) : {}, value: parseValue(m[4]) });
  }

  const find = (name: string, labels: Record<string, string> = {}): PromSample[] =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    samples,
    types,
    help,
    find,
    sum: (name, labels) => find(name, labels).reduce((acc, s) => acc + s.value, 0),
    value(name, labels) {
      const found = find(name, labels);
      if (found.length !== 1) {
        throw new Error(`prom-parse: expected one sample ${name}${JSON.stringify(labels ?? {})}, found ${found.length}`);
      }
      return found[0].value;
    },
    labelValues(name, label) {
      const out = new Set<string>();
      for (const s of samples) {
        const base = s.name.replace(/_(bucket|sum|count)$/, '');
        if ((s.name === name || base === name) && label in s.labels) out.add(s.labels[label]);
      }
      return out;
    },
  };
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text.toLowerCase() === 'nan') return NaN; // prom-client writes "Nan"
  const n = Number(text);
  if (Number.isNaN(n)) throw new Error(`prom-parse: bad value ${text}`);
  return n;
}

/** `a="x",b="y\"z"` → { a: 'x', b: 'y"z' }, with the format's three escapes. */
function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) break;
    const name = text.slice(i, eq).trim().replace(/^,/, '').trim();
    if (text[eq + 1] !== '"') throw new Error(`prom-parse: bad labels ${text}`);
    let j = eq + 2;
    let value = '';
    while (j < text.length && text[j] !== '"') {
      if (text[j] === '\\') {
        const next = text[j + 1];
        value += next === 'n' ? '\n' : next;
        j += 2;
      } else {
        value += text[j++];
      }
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
  }
  return labels;
}
