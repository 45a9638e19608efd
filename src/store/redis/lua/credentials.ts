/**
 * Lua scripts of the Redis credential store. Each write that touches several keys runs as one script
 * so replicas never see half of it, and each publishes its change event from inside the script so a
 * durable write is never left without its notification.
 *
 * All keys of a store share one prefix (and, in Cluster mode, one hash slot; see `redisKeys`), so
 * scripts build per-credential key names from ARGV's prefix. KEYS[1] is always a key of that slot,
 * which is what routes the call in Cluster mode.
 */
import { CRED_KEY, EXPIRES_MS_FIELD, REFRESHED_AT_FIELD, REV_FIELD, SEED_HASH_FIELD, STATS_KEY } from '../codec.js';

/** Shared Lua helpers: key builders, HSET/HDEL of possibly empty lists, the event publisher. */
const HELPERS = `
local function credKey(prefix, id) return prefix .. '${CRED_KEY}' .. id end
local function statsKey(prefix, id) return prefix .. '${STATS_KEY}' .. id end
local function hsetList(key, list) if #list > 0 then redis.call('HSET', key, unpack(list)) end end
local function hdelList(key, list) if #list > 0 then redis.call('HDEL', key, unpack(list)) end end
local function slice(from, count)
  local out = {}
  for i = from, from + count - 1 do out[#out + 1] = ARGV[i] end
  return out
end
local function publish(channel, id, replica, kind)
  local payload = { replica = replica, kind = kind }
  if id == nil then payload.id = cjson.null else payload.id = tonumber(id) end
  redis.call('PUBLISH', channel, cjson.encode(payload))
end
-- Next id: above both the highest id ever allocated (seq) and the highest present one, so a removed
-- id is never reused (late stats of other replicas for it must not land on a new credential).
local function nextId(idsKey, seqKey)
  local seq = tonumber(redis.call('GET', seqKey) or '0')
  local top = redis.call('ZREVRANGE', idsKey, 0, 0, 'WITHSCORES')
  local max = seq
  if #top == 2 and tonumber(top[2]) > max then max = tonumber(top[2]) end
  return max + 1
end
`;

/**
 * Reads credentials and their stats in one consistent snapshot.
 * KEYS[1] ids, KEYS[2] meta. ARGV[1] prefix, ARGV[2..] ids (none = every id in the set).
 * Returns `{ metaExists, {id, credFlat, statsFlat}, … }`; a removed id comes back with an empty credFlat.
 */
export const READ_SCRIPT = `${HELPERS}
local prefix = ARGV[1]
local ids = {}
if #ARGV > 1 then
  ids = slice(2, #ARGV - 1)
else
  ids = redis.call('ZRANGE', KEYS[1], 0, -1)
end
-- meta disappears only when Redis lost its data; the caller then re-seeds from its local copy.
local out = { redis.call('EXISTS', KEYS[2]) }
for _, id in ipairs(ids) do
  out[#out + 1] = { id, redis.call('HGETALL', credKey(prefix, id)), redis.call('HGETALL', statsKey(prefix, id)) }
end
return out
`;

/**
 * Inserts credentials that Redis does not know yet; never overwrites existing state.
 * KEYS[1] ids, KEYS[2] seq, KEYS[3] seedhash, KEYS[4] meta.
 * ARGV[1] prefix, ARGV[2] channel, ARGV[3] replica, ARGV[4] mode (`file` | `local`), ARGV[5] now (ms),
 * then per credential: id, seedHash, n, n credential hash values (field, value, …; incl. id/_rev/_seed),
 * m, m stats hash values.
 * Returns flat `{ inputId, storedId, outcome, … }`, outcome one of
 * `inserted`, `known` (seed hash already recorded: the credential exists, perhaps with a rotated token),
 * `exists` (id taken and nothing tells them apart: kept as is), `renumbered` (id taken by a different
 * credential: inserted under a new id).
 */
export const SEED_SCRIPT = `${HELPERS}
local prefix, channel, replica, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local out = {}
local inserted = 0
local i = 6
while i <= #ARGV do
  local id, hash = ARGV[i], ARGV[i + 1]
  local nCred = tonumber(ARGV[i + 2])
  local credPairs = slice(i + 3, nCred)
  local nStats = tonumber(ARGV[i + 3 + nCred])
  local statsPairs = slice(i + 4 + nCred, nStats)
  i = i + 4 + nCred + nStats

  local target = id
  local outcome = 'inserted'
  if hash ~= '' and redis.call('HEXISTS', KEYS[3], hash) == 1 then
    -- Seen before under this original token: Redis has it (maybe rotated, maybe removed on purpose).
    outcome = 'known'
  elseif redis.call('EXISTS', credKey(prefix, id)) == 1 then
    if mode == 'file' and hash ~= '' then
      -- A different credential owns this id (e.g. added through the admin API): keep both.
      target = tostring(nextId(KEYS[1], KEYS[2]))
      outcome = 'renumbered'
    else
      outcome = 'exists'
    end
  end

  if outcome == 'inserted' or outcome == 'renumbered' then
    local key = credKey(prefix, target)
    hsetList(key, credPairs)
    redis.call('HSET', key, 'id', target)
    hsetList(statsKey(prefix, target), statsPairs)
    redis.call('ZADD', KEYS[1], tonumber(target), target)
    if hash ~= '' then redis.call('HSET', KEYS[3], hash, target) end
    -- Keep seq at or above every id so add() never hands out a seeded id again.
    if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(target) then redis.call('SET', KEYS[2], target) end
    inserted = inserted + 1
  end
  out[#out + 1] = id
  out[#out + 1] = target
  out[#out + 1] = outcome
end
-- Mark this Redis as seeded; its absence later means the data was lost.
redis.call('HSETNX', KEYS[4], 'createdAt', ARGV[5])
if inserted > 0 then publish(channel, nil, replica, 'seed') end
return out
`;

/**
 * Adds a credential under a fresh id.
 * KEYS[1] ids, KEYS[2] seq, KEYS[3] seedhash. ARGV[1] prefix, ARGV[2] channel, ARGV[3] replica,
 * ARGV[4] seed hash, ARGV[5..] credential hash values (field, value, …). Returns the new id.
 */
export const ADD_SCRIPT = `${HELPERS}
local prefix, channel, replica, hash = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local id = nextId(KEYS[1], KEYS[2])
local key = credKey(prefix, id)
-- Fresh stats: a leftover hash of a long-gone credential must not leak in.
redis.call('DEL', statsKey(prefix, id))
hsetList(key, slice(5, #ARGV - 4))
redis.call('HSET', key, 'id', id, '${REV_FIELD}', 1, '${SEED_HASH_FIELD}', hash)
redis.call('ZADD', KEYS[1], id, id)
redis.call('SET', KEYS[2], id)
-- Remember the original token so a later seed from credentials.json does not add it twice.
if hash ~= '' then redis.call('HSET', KEYS[3], hash, id) end
publish(channel, id, replica, 'add')
return id
`;

/**
 * Changes durable fields of an existing credential in one HSET (so a refresh's rotated refresh token,
 * access token and expiry land together), bumps `_rev` and publishes.
 *
 * Fenced (ARGV[4] = '1'): a compare-and-set on the tokens a refresh started from. The write happens
 * only while the hash still holds exactly that refresh token and access token (ARGV[5], ARGV[6]; ''
 * = absent), so a holder whose lock expired cannot overwrite the tokens of the holder after it. A
 * fenced write that sets an access token lifts an InvalidRefreshToken disable: the refresh token it
 * started from just worked, so whoever was refused with it was late, not the token dead.
 *
 * KEYS[1] credential hash. ARGV[1] channel, ARGV[2] replica, ARGV[3] id, ARGV[4] fenced ('1' | ''),
 * ARGV[5] expected refreshToken, ARGV[6] expected accessToken, ARGV[7] n, n HSET values, rest HDEL fields.
 * Returns `{ written, lifted, hash }` (hash = the whole hash as it is now), or nil when the
 * credential does not exist.
 */
export const UPDATE_SCRIPT = `${HELPERS}
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local fenced = ARGV[4] == '1'
if fenced then
  local refreshToken = redis.call('HGET', KEYS[1], 'refreshToken') or ''
  local accessToken = redis.call('HGET', KEYS[1], 'accessToken') or ''
  if refreshToken ~= ARGV[5] or accessToken ~= ARGV[6] then
    -- Another holder replaced the tokens: ours are older, keep theirs.
    return { 0, 0, redis.call('HGETALL', KEYS[1]) }
  end
end
local n = tonumber(ARGV[7])
local set = slice(8, n)
hsetList(KEYS[1], set)
hdelList(KEYS[1], slice(8 + n, #ARGV - 7 - n))
local lifted = 0
if fenced and redis.call('HGET', KEYS[1], 'disabledReason') == 'InvalidRefreshToken' then
  for i = 1, #set, 2 do
    if set[i] == 'accessToken' then lifted = 1 end
  end
  if lifted == 1 then
    redis.call('HSET', KEYS[1], 'disabled', '0')
    redis.call('HDEL', KEYS[1], 'disabledReason', 'disabledUntil')
  end
end
redis.call('HINCRBY', KEYS[1], '${REV_FIELD}', 1)
publish(ARGV[1], ARGV[3], ARGV[2], 'update')
return { 1, lifted, redis.call('HGETALL', KEYS[1]) }
`;

/**
 * Writes an update that was made while Redis was unreachable, without overwriting newer state:
 * the token group (refresh/access token, expiry, profileArn, refresh times) is written when Redis's
 * copy is unchanged since we last saw it (`_rev` = baseRev) or our tokens come from a later refresh
 * (`refreshedAt`; for tokens without one, a later expiry `_exp`): with rotation, the latest refresh
 * holds the only live refresh token. Every other field is written only when `_rev` is unchanged.
 * When our newer tokens land on a credential another replica disabled meanwhile as
 * InvalidRefreshToken, the disable is lifted: it judged an older refresh token than ours (the one the
 * cut-off replica had already rotated), not the one that now works.
 * KEYS[1] credential hash. ARGV[1] channel, ARGV[2] replica, ARGV[3] id, ARGV[4] baseRev,
 * ARGV[5] our expiry in ms ('' = none), ARGV[6] our refreshedAt in ms ('' = none),
 * ARGV[7..10] counts of token-set, token-del, other-set, other-del, then those four lists.
 * Returns `{ tokenWritten, otherWritten, hash, enabled }`, or nil for a missing credential.
 */
export const RECONCILE_SCRIPT = `${HELPERS}
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local rev = tonumber(redis.call('HGET', KEYS[1], '${REV_FIELD}') or '0')
local unchanged = rev == tonumber(ARGV[4])
local theirExp = tonumber(redis.call('HGET', KEYS[1], '${EXPIRES_MS_FIELD}') or '0')
local theirRefreshed = tonumber(redis.call('HGET', KEYS[1], '${REFRESHED_AT_FIELD}') or '0') or 0
local ourExp = tonumber(ARGV[5])
local ourRefreshed = tonumber(ARGV[6])
local newer
if ourRefreshed ~= nil then newer = ourRefreshed > theirRefreshed else newer = ourExp ~= nil and ourExp > theirExp end
local nTs, nTd, nOs, nOd = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local at = 11
local tokenSet = slice(at, nTs); at = at + nTs
local tokenDel = slice(at, nTd); at = at + nTd
local otherSet = slice(at, nOs); at = at + nOs
local otherDel = slice(at, nOd)
local tokenWritten, otherWritten, enabled = 0, 0, 0
if (nTs + nTd) > 0 and (unchanged or newer) then
  hsetList(KEYS[1], tokenSet)
  hdelList(KEYS[1], tokenDel)
  tokenWritten = 1
  if not unchanged and ourRefreshed ~= nil and redis.call('HGET', KEYS[1], 'disabledReason') == 'InvalidRefreshToken' then
    redis.call('HSET', KEYS[1], 'disabled', '0')
    redis.call('HDEL', KEYS[1], 'disabledReason', 'disabledUntil')
    enabled = 1
  end
end
if (nOs + nOd) > 0 and unchanged then
  hsetList(KEYS[1], otherSet)
  hdelList(KEYS[1], otherDel)
  otherWritten = 1
end
if tokenWritten + otherWritten > 0 then
  redis.call('HINCRBY', KEYS[1], '${REV_FIELD}', 1)
  publish(ARGV[1], ARGV[3], ARGV[2], 'update')
end
return { tokenWritten, otherWritten, redis.call('HGETALL', KEYS[1]), enabled }
`;

/**
 * Removes a credential and its stats. Its seed hash stays recorded so credentials.json does not bring
 * it back on the next start.
 * KEYS[1] ids, KEYS[2] credential hash, KEYS[3] stats hash. ARGV[1] channel, ARGV[2] replica, ARGV[3] id.
 * Returns 1 when removed, 0 when it did not exist.
 */
export const REMOVE_SCRIPT = `${HELPERS}
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[1], ARGV[3])
publish(ARGV[1], ARGV[3], ARGV[2], 'remove')
return 1
`;

/**
 * Applies a batch of stats deltas from one replica.
 * KEYS[1] ids (routing only). ARGV[1] prefix, ARGV[2] channel, ARGV[3] replica, then per credential:
 * id, n, and n/3 triples `op field value` (`i` HINCRBY, `f` HINCRBYFLOAT, `s` HSET, `d` HDEL).
 * Deltas of a credential removed meanwhile are dropped rather than recreating an orphan stats hash.
 * Returns the number of credentials updated.
 */
export const FLUSH_STATS_SCRIPT = `${HELPERS}
local prefix, channel, replica = ARGV[1], ARGV[2], ARGV[3]
local updated = 0
local i = 4
while i <= #ARGV do
  local id, n = ARGV[i], tonumber(ARGV[i + 1])
  local ops = slice(i + 2, n)
  i = i + 2 + n
  if redis.call('EXISTS', credKey(prefix, id)) == 1 then
    local key = statsKey(prefix, id)
    for j = 1, #ops, 3 do
      local op, field, value = ops[j], ops[j + 1], ops[j + 2]
      if op == 'i' then
        redis.call('HINCRBY', key, field, value) -- increments from all replicas add up
      elseif op == 'f' then
        redis.call('HINCRBYFLOAT', key, field, value) -- credits: fractional increments
      elseif op == 's' then
        redis.call('HSET', key, field, value) -- resets and timestamps: last writer wins
      else
        redis.call('HDEL', key, field)
      end
    end
    publish(channel, id, replica, 'stats')
    updated = updated + 1
  end
end
return updated
`;
