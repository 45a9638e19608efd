/**
 * What client key enforcement costs: one Redis-backed gateway, the same streaming load with the
 * configured apiKey (no limits: no Redis call) and with a managed key that has every limit (set far
 * above the load, so nothing is refused and every request runs the whole check), runs alternated
 * A-B-B-A. Reports TTFB p50/p99 of both and the difference, and the Redis commands per request of
 * each, from MONITOR (attributed by script SHA, see redis-commands.ts): the limited key's one
 * key_check per request, the configured key's none, and the batched flush amortised over both.
 * It runs on a redis-server of its own, so every command MONITOR sees is this gateway's.
 */
import type { ChildProcess } from 'node:child_process';
import type { Result } from './load.js';
import { countKinds, monitorRedis } from './redis-commands.js';

const PREFIX = 'benchkeys:';
const ADMIN_KEY = 'bench-admin-key';
/** Every limit, far above what the bench can send. */
const HIGH_LIMITS = { requestsPerMinute: 1e9, tokensPerMinute: 1e12, tokensPerDay: 1e12, creditsPerDay: 1e12, concurrentStreams: 1e6 };

export interface ClientKeysBenchOptions {
  /** A redis-server of its own, so MONITOR sees this gateway alone. */
  redisUrl: string;
  /** Loads `url` with `concurrency` streams for `durationMs`, authenticating with `key`. */
  load: (url: string, key: string, concurrency: number, durationMs: number) => Promise<Result>;
  startGateway: (name: string, env: Record<string, string>) => Promise<{ url: string; child: ChildProcess }>;
  merge: (runs: Result[]) => Result;
  fmt: (r: Result) => string;
  configKey: string;
  concurrencies: number[];
  durationMs: number;
}

/** One concurrency's figures, for bench.json. */
export interface ClientKeysFigure {
  streams: number;
  configKeyRps: number;
  limitedKeyRps: number;
  configKeyTtfbP50: number;
  configKeyTtfbP99: number;
  limitedKeyTtfbP50: number;
  limitedKeyTtfbP99: number;
  addedTtfbP50: number;
  addedTtfbP99: number;
  /** key_check calls per limited-key request (target 1). */
  limitedKeyChecksPerRequest: number;
  /** Redis calls of any kind on the request path per configured-key request (target 0). */
  configKeyChecksPerRequest: number;
  /** Background flushes per request (both keys). */
  flushesPerRequest: number;
}

export async function benchClientKeys(opts: ClientKeysBenchOptions): Promise<{ lines: string[]; figures: ClientKeysFigure[]; child: ChildProcess }> {
  const gw = await opts.startGateway('keys.json', {
    KIRO_REDIS_URL: opts.redisUrl,
    KIRO_REDIS_KEY_PREFIX: PREFIX,
    KIRO_ADMIN_API_KEY: ADMIN_KEY,
  });
  const created = await fetch(`${gw.url}/api/admin/keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY },
    body: JSON.stringify({ name: 'bench-limited', limits: HIGH_LIMITS }),
  });
  if (created.status !== 201) throw new Error(`could not create the bench key: ${created.status} ${await created.text()}`);
  const limitedKey = ((await created.json()) as { secret: string }).secret;
  // Warm up both (token refresh, scripts loaded, connections open).
  await opts.load(gw.url, opts.configKey, 1, 300);
  await opts.load(gw.url, limitedKey, 1, 300);
  await new Promise((r) => setTimeout(r, 500));

  const mon = await monitorRedis(opts.redisUrl, PREFIX);
  const figures: ClientKeysFigure[] = [];
  const rows: string[] = [];
  const commandRows: string[] = [];
  try {
    for (const c of opts.concurrencies) {
      const half = opts.durationMs / 2;
      const spans = { config: [] as Array<[number, number]>, limited: [] as Array<[number, number]> };
      const run = async (which: 'config' | 'limited') => {
        const from = Date.now();
        const r = await opts.load(gw.url, which === 'config' ? opts.configKey : limitedKey, c, half);
        spans[which].push([from, Date.now()]);
        return r;
      };
      const c1 = await run('config');
      const l1 = await run('limited');
      const l2 = await run('limited');
      const c2 = await run('config');
      const config = opts.merge([c1, c2]);
      const limited = opts.merge([l1, l2]);
      // Flushes lag their requests by up to 250 ms: count a little past each window.
      await new Promise((r) => setTimeout(r, 300));
      const count = (which: 'config' | 'limited', kind: string) =>
        spans[which].reduce((n, [from, to]) => n + (countKinds(mon.captured, from, to).get(kind) ?? 0), 0);
      const hotPath = (which: 'config' | 'limited') =>
        spans[which].reduce((n, [from, to]) => {
          for (const [kind, k] of countKinds(mon.captured, from, to)) if (!kind.startsWith('background:')) n += k;
          return n;
        }, 0);
      const flushes = count('config', 'background:keys-flush') + count('limited', 'background:keys-flush');
      const okRequests = (r: Result) => Math.max(1, r.requests - r.errors - r.outOfOrder);
      const figure: ClientKeysFigure = {
        streams: c,
        configKeyRps: config.rps,
        limitedKeyRps: limited.rps,
        configKeyTtfbP50: config.p50,
        configKeyTtfbP99: config.p99,
        limitedKeyTtfbP50: limited.p50,
        limitedKeyTtfbP99: limited.p99,
        addedTtfbP50: limited.p50 - config.p50,
        addedTtfbP99: limited.p99 - config.p99,
        limitedKeyChecksPerRequest: count('limited', 'script:key_check') / okRequests(limited),
        configKeyChecksPerRequest: hotPath('config') / okRequests(config),
        flushesPerRequest: flushes / (okRequests(config) + okRequests(limited)),
      };
      figures.push(figure);
      rows.push(
        `| ${c} | ${config.rps.toFixed(0)} | ${limited.rps.toFixed(0)} | ${opts.fmt(config)} | ${opts.fmt(limited)} | ` +
          `${figure.addedTtfbP50.toFixed(2)} / ${figure.addedTtfbP99.toFixed(2)} | ${config.errors + limited.errors} |`,
      );
      commandRows.push(
        `| ${c} | ${okRequests(config)} | ${hotPath('config')} | ${okRequests(limited)} | ${count('limited', 'script:key_check')} | ` +
          `${hotPath('limited') - count('limited', 'script:key_check')} | ${figure.limitedKeyChecksPerRequest.toFixed(3)} | ${flushes} (${figure.flushesPerRequest.toFixed(4)}/req) |`,
      );
    }
  } finally {
    await mon.stop();
  }
  const lines = [
    '### Client key enforcement: configured apiKey (no limits) vs a managed key with every limit (Redis, runs alternated A-B-B-A)',
    '',
    '| streams | config key req/s | limited key req/s | config key TTFB p50/p99 ms | limited key TTFB p50/p99 ms | added p50 / p99 ms | errors |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'Redis round trips on the request path, from MONITOR (key_check = the one EVALSHA that checks and reserves every limit; ' +
      'the batched key usage flush, every 250 ms, is background):',
    '',
    '| streams | config key requests | their hot-path commands (target 0) | limited key requests | key_check calls | other hot-path commands (target 0) | key_check per request (target 1) | key usage flushes |',
    '|---|---|---|---|---|---|---|---|',
    ...commandRows,
    '',
  ];
  return { lines, figures, child: gw.child };
}
