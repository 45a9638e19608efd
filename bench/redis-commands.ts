/**
 * Which Redis commands a gateway sends, and when: MONITOR on the bench redis-server, each command
 * attributed (EVALSHA by script SHA, SET/MULTI by key) to a background timer of the store or to
 * the request path, where there must be none.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { ADD_SCRIPT, FLUSH_STATS_SCRIPT, READ_SCRIPT, RECONCILE_SCRIPT, REMOVE_SCRIPT, SEED_SCRIPT, UPDATE_SCRIPT } from '../src/store/redis/lua/credentials.js';
import { CHECK_SCRIPT, FLUSH_SCRIPT, READ_KEYS_SCRIPT } from '../src/store/redis/lua/client-keys.js';

export interface Captured {
  at: number;
  kind: string;
}

/** Script SHA-1 → name, for attributing EVALSHA calls. */
const SCRIPT_NAMES = new Map(
  Object.entries({
    read: READ_SCRIPT,
    seed: SEED_SCRIPT,
    add: ADD_SCRIPT,
    update: UPDATE_SCRIPT,
    reconcile: RECONCILE_SCRIPT,
    remove: REMOVE_SCRIPT,
    flush_stats: FLUSH_STATS_SCRIPT,
    key_check: CHECK_SCRIPT,
    key_flush: FLUSH_SCRIPT,
    key_read: READ_KEYS_SCRIPT,
  }).map(([name, source]) => [createHash('sha1').update(source).digest('hex'), name]),
);

/** What a command is for: `background:*` (timers of the store), or anything else (would be the hot path). */
function classify(args: string[], prefix: string): string {
  const cmd = (args[0] ?? '').toLowerCase();
  const key = args[1] ?? '';
  // Redlock's acquire, extend and release scripts: the one key they touch is the lock.
  if ((cmd === 'evalsha' || cmd === 'eval') && (args[3] ?? '').startsWith(`${prefix}lock:`)) return 'refresh-lock';
  if (cmd === 'evalsha' || cmd === 'eval') {
    const name = cmd === 'evalsha' ? (SCRIPT_NAMES.get(key) ?? 'unknown-script') : 'eval';
    if (name === 'flush_stats') return 'background:stats-flush';
    // Client keys: usage and limit updates leave in one batch every 250 ms; key_check is the one
    // call of a request with a limited key (none for the bench's configured key).
    if (name === 'key_flush') return 'background:keys-flush';
    if (name === 'read' || name === 'key_read') return 'background:resync';
    return `script:${name}`;
  }
  if (['multi', 'exec'].includes(cmd)) return 'background:heartbeat';
  if (key.startsWith(`${prefix}replica`)) return 'background:heartbeat';
  if (cmd === 'hgetall' && key === `${prefix}settings`) return 'background:resync'; // shared settings, re-read with each resync
  return `cmd:${cmd}`;
}

/** Captures every command of other clients with MONITOR until `stop()`; `prefix` is the gateway's key prefix. */
export async function monitorRedis(url: string, prefix: string): Promise<{ captured: Captured[]; stop(): Promise<void> }> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  const monitor = await client.monitor();
  const captured: Captured[] = [];
  // Commands run inside a Lua script show up too, with source "lua": the script call itself is what was sent.
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua') captured.push({ at: Date.now(), kind: classify(args, prefix) });
  });
  return {
    captured,
    async stop() {
      monitor.disconnect();
      client.disconnect();
    },
  };
}

export function countKinds(captured: Captured[], from: number, to: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of captured) if (c.at >= from && c.at < to) out.set(c.kind, (out.get(c.kind) ?? 0) + 1);
  return out;
}

/** A measurement window: its time spans and the requests answered well during them (0 = idle). */
export interface CommandWindow {
  label: string;
  spans: Array<[number, number]>;
  requests: number;
}

/** The Markdown report of the commands captured in each window, and the count of hot-path commands. */
export function redisCommandReport(windows: readonly CommandWindow[], captured: Captured[]): { lines: string[]; hotPath: number } {
  const lines: string[] = [];
  lines.push('### Redis commands sent by the Redis-backed gateway');
  lines.push('');
  lines.push(
    'Method: MONITOR on the bench redis-server captures every command the gateway sends (commands run inside ' +
      'Lua scripts are left out: the script call is what was sent). EVALSHA is attributed by script SHA, ' +
      'SET/MULTI/ZADD by key. Background = the store\'s timers (stats flush every 200 ms when there is something ' +
      'to send, client-key usage flush every 250 ms likewise, heartbeat every 5 s, full resync every 30 s); they do not scale with requests. Anything else ' +
      'during a load window would be a command on the request path ("synchronous"). Load windows are the Redis ' +
      'gateway\'s runs only; the idle window, before them, is as long as one of them.',
  );
  lines.push('');
  lines.push('| window | s | requests ok | all commands | background: stats flush / key usage flush / heartbeat / resync | other (hot path) | commands per request |');
  lines.push('|---|---|---|---|---|---|---|');
  let hotPath = 0;
  for (const w of windows) {
    const kinds = new Map<string, number>();
    for (const [from, to] of w.spans) for (const [k, n] of countKinds(captured, from, to)) kinds.set(k, (kinds.get(k) ?? 0) + n);
    const seconds = w.spans.reduce((a, [from, to]) => a + (to - from), 0) / 1000;
    const total = [...kinds.values()].reduce((a, b) => a + b, 0);
    const bg = (k: string) => kinds.get(`background:${k}`) ?? 0;
    const other = [...kinds].filter(([k]) => !k.startsWith('background:'));
    const otherCount = other.reduce((a, [, n]) => a + n, 0);
    if (w.requests > 0) hotPath += otherCount;
    lines.push(
      `| ${w.label} | ${seconds.toFixed(1)} | ${w.requests} | ${total} | ${bg('stats-flush')} / ${bg('keys-flush')} / ${bg('heartbeat')} / ${bg('resync')} | ` +
        `${otherCount}${other.length ? ` (${other.map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''} | ` +
        `${w.requests > 0 ? (total / w.requests).toFixed(4) : '—'} |`,
    );
  }
  lines.push('');
  lines.push(`Synchronous Redis commands on the request path: ${hotPath} ${hotPath === 0 ? '(OK)' : '(EXPECTED 0)'}`);
  lines.push('');
  return { lines, hotPath };
}
