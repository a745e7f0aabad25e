-- Adds every digest up again from the owner fields (see digests.lua): the repair of a view's
-- digest mismatch that outlived a resync. One pass over the registry (HGETALL of nodes and meta).
-- KEYS: 1 nodes, 2 deadlines, 3 meta
-- ARGV: 1 minimum gap (ms) since the last recount (`recountedAt` in meta), 2.. digest fields of a
--   partial view
-- Returns: {epoch, version, now, digest, count, scope digests..., fields that were wrong (-1:
--   skipped, the last recount is more recent than the gap)}
--@include "registry"
--@include "epoch"
--@include "digests"
--@include "state-reply"
newEpoch()
local wrong = -1
local last = tonumber(redis.call('HGET', KEYS[3], 'recountedAt') or '0') or 0
if now - last >= tonumber(ARGV[1]) then
  wrong = recount()
  redis.call('HSET', KEYS[3], 'recountedAt', ms(now))
end
local result = stateReply(2, now)
result[#result + 1] = wrong
return result
