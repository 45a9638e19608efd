/**
 * Lua scripts of the single-instance Redlock algorithm (redis.io/docs/manual/patterns/distributed-locks).
 * Acquisition needs no script: `SET key token NX PX ttl` is atomic. Extension and release must only
 * touch a key that still holds *our* token, otherwise a holder whose lock expired could extend or
 * delete the lock of the next holder; the check and the action therefore run together in Lua.
 */

/** KEYS[1] lock key; ARGV[1] our token; ARGV[2] new TTL in ms. Returns 1 when extended, 0 when lost. */
export const EXTEND_SCRIPT = `
-- Only the owner may extend: compare the stored token with ours.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  -- Still ours: push the expiry out by a full TTL from now.
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
-- Expired or taken over by another holder.
return 0
`;

/** KEYS[1] lock key; ARGV[1] our token. Returns 1 when deleted, 0 when it was no longer ours. */
export const RELEASE_SCRIPT = `
-- Only the owner may release; a late release must not free someone else's lock.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;
