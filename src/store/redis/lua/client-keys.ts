/**
 * Lua scripts of client-key limits and usage. CHECK_SCRIPT is the one call a limited key's request
 * makes (every limit checked and reserved at once); FLUSH_SCRIPT is the background batch (usage,
 * tokens and credits used, slots released and renewed). Both read the clock from Redis (`TIME`), so
 * replicas with skewed clocks share one notion of "this minute" and "today".
 *
 * Limit state of a key (`{p}climit:{id}`, a hash): `rq`/`rqt` request bucket level and its time,
 * `tk`/`tkt` token bucket, `day` (UTC day number) with `dtk`/`dcr` tokens and credits used that day.
 * Concurrency slots (`{p}cslots:{id}`, a sorted set): member = slot id, score = lease expiry (ms); a
 * replica renews the slots it holds, so those of a replica that died expire on their own.
 */

/** Clock, bucket refill and day roll-over, shared by both scripts. */
const HELPERS = `
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local today = math.floor(tonumber(t[1]) / 86400)
local function refill(level, at, cap)
  if level == nil or at == nil then return cap end
  local elapsed = now - at
  if elapsed < 0 then elapsed = 0 end
  return math.min(cap, level + elapsed * cap / 60000)
end
-- tokens/credits used today, restarting at 0 on a new UTC day
local function dayCounters(day, dtk, dcr)
  if tonumber(day) ~= today then return 0, 0 end
  return tonumber(dtk) or 0, tonumber(dcr) or 0
end
local STATE_TTL_MS = 2 * 86400000
`;

/**
 * Checks and reserves every limit of one key.
 * KEYS[1] limit state hash, KEYS[2] slot set.
 * ARGV[1..5] requests/min, tokens/min, tokens/day, credits/day, concurrent streams (0 = none);
 * ARGV[6] slot id to take, ARGV[7] slot lease (ms); ARGV[8], ARGV[9], ARGV[10] tokens, credits and
 * requests (admitted on its own while Redis was unreachable) this replica recorded for the key and
 * not sent yet (applied first); ARGV[11..] slots it released and did not report yet (removed first).
 * Returns `{ refused (comma-separated limit names, '' when admitted), now, rq, tk, dtk, dcr, inUse }`
 * with the numbers as strings (Lua numbers would be truncated to integers).
 */
export const CHECK_SCRIPT = `${HELPERS}
local rpm, tpm, tpd, cpd, conc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local slot, lease = ARGV[6], tonumber(ARGV[7])
local pendingTokens, pendingCredits, pendingRequests = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local st = redis.call('HMGET', KEYS[1], 'rq', 'rqt', 'tk', 'tkt', 'day', 'dtk', 'dcr')
local rq = 0
if rpm > 0 then rq = refill(tonumber(st[1]), tonumber(st[2]), rpm) - pendingRequests end
local tk = 0
if tpm > 0 then tk = refill(tonumber(st[3]), tonumber(st[4]), tpm) - pendingTokens end
local dtk, dcr = dayCounters(st[5], st[6], st[7])
dtk = dtk + pendingTokens
dcr = dcr + pendingCredits
for i = 11, #ARGV do redis.call('ZREM', KEYS[2], ARGV[i]) end
local inUse = 0
if conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  inUse = redis.call('ZCARD', KEYS[2])
end
local refused = {}
if rpm > 0 and rq < 1 then refused[#refused + 1] = 'requestsPerMinute' end
if tpm > 0 and tk <= 0 then refused[#refused + 1] = 'tokensPerMinute' end
if tpd > 0 and dtk >= tpd then refused[#refused + 1] = 'tokensPerDay' end
if cpd > 0 and dcr >= cpd then refused[#refused + 1] = 'creditsPerDay' end
if conc > 0 and inUse >= conc then refused[#refused + 1] = 'concurrentStreams' end
if #refused == 0 then
  if rpm > 0 then rq = rq - 1 end
  if conc > 0 then
    redis.call('ZADD', KEYS[2], now + lease, slot)
    redis.call('PEXPIRE', KEYS[2], lease * 2)
    inUse = inUse + 1
  end
end
redis.call('HSET', KEYS[1], 'rq', rq, 'rqt', now, 'tk', tk, 'tkt', now, 'day', today, 'dtk', dtk, 'dcr', dcr)
redis.call('PEXPIRE', KEYS[1], STATE_TTL_MS)
return { table.concat(refused, ','), tostring(now), tostring(rq), tostring(tk), tostring(dtk), tostring(dcr), inUse }
`;

/**
 * The background batch of one replica. KEYS[1] the replica set (heartbeats), which also routes the
 * call in Cluster mode (every key shares the prefix's hash slot).
 * ARGV[1] prefix, ARGV[2] this replica's clock (ms, as the heartbeats are scored), ARGV[3] how old a
 * heartbeat may be (ms), ARGV[4] hour-bucket TTL (s), ARGV[5] day-bucket TTL (s), then four groups,
 * each a count followed by its items:
 *   usage: bucket, field, amount (HINCRBYFLOAT into `{p}usage:{bucket}`)
 *   used:  key id, requests/min and tokens/min limits, requests (admitted locally while Redis was
 *          unreachable), tokens, credits (debited from the key's limit state)
 *   released: key id, slot
 *   held:  key id, slot, lease ms (renewed, or re-added after Redis lost them)
 * Returns the number of live replicas (for the fallback limits).
 */
export const FLUSH_SCRIPT = `${HELPERS}
local prefix = ARGV[1]
local i = 6
local n = tonumber(ARGV[i]); i = i + 1
local touched = {}
for _ = 1, n do
  local key = prefix .. 'usage:' .. ARGV[i]
  redis.call('HINCRBYFLOAT', key, ARGV[i + 1], ARGV[i + 2])
  if not touched[key] then
    touched[key] = true
    if string.sub(ARGV[i], 1, 2) == 'h:' then redis.call('EXPIRE', key, ARGV[4]) else redis.call('EXPIRE', key, ARGV[5]) end
  end
  i = i + 3
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local key = prefix .. 'climit:' .. ARGV[i]
  local rpm, tpm = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local requests, tokens, credits = tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5])
  local st = redis.call('HMGET', key, 'rq', 'rqt', 'tk', 'tkt', 'day', 'dtk', 'dcr')
  local dtk, dcr = dayCounters(st[5], st[6], st[7])
  if rpm > 0 and requests > 0 then
    redis.call('HSET', key, 'rq', refill(tonumber(st[1]), tonumber(st[2]), rpm) - requests, 'rqt', now)
  end
  if tpm > 0 and tokens > 0 then
    redis.call('HSET', key, 'tk', refill(tonumber(st[3]), tonumber(st[4]), tpm) - tokens, 'tkt', now)
  end
  redis.call('HSET', key, 'day', today, 'dtk', dtk + tokens, 'dcr', dcr + credits)
  redis.call('PEXPIRE', key, STATE_TTL_MS)
  i = i + 6
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('ZREM', prefix .. 'cslots:' .. ARGV[i], ARGV[i + 1])
  i = i + 2
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local key = prefix .. 'cslots:' .. ARGV[i]
  local lease = tonumber(ARGV[i + 2])
  redis.call('ZADD', key, now + lease, ARGV[i + 1])
  redis.call('PEXPIRE', key, lease * 2)
  i = i + 3
end
return redis.call('ZCOUNT', KEYS[1], tonumber(ARGV[2]) - tonumber(ARGV[3]), '+inf')
`;

/**
 * Puts client keys back into a Redis that lost its data (restarted empty), from a replica's local
 * copy; only the first replica to try does it, so a key deleted since cannot come back from a slower one.
 * KEYS[1] records hash, KEYS[2] written marker. ARGV: id, JSON, id, JSON, …
 * Returns 1 when it wrote them, 0 when the marker was there (data not lost, or re-seeded already).
 */
export const RESEED_KEYS_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('SET', KEYS[2], '1')
return 1
`;

/**
 * Reads every client key and whether keys were ever written (see RESEED_KEYS_SCRIPT).
 * KEYS[1] records hash, KEYS[2] written marker. Returns `{ flat HGETALL, 0|1 }`.
 */
export const READ_KEYS_SCRIPT = `
return { redis.call('HGETALL', KEYS[1]), redis.call('EXISTS', KEYS[2]) }
`;
