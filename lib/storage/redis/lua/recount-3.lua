-- Adds every digest up again from the owner fields (see digests.lua): the repair of a view's
-- digest mismatch that outlived a resync. One pass over the registry (HGETALL of nodes and meta).
-- KEYS: 1 nodes, 2 deadlines, 3 meta
-- ARGV: 1.. digest fields of a partial view
-- Returns: {epoch, version, now, digest, count, scope digests..., fields that were wrong}
--@include "registry"
--@include "epoch"
--@include "digests"
--@include "state-reply"
newEpoch()
local wrong = recount()
local result = stateReply(1, now)
result[#result + 1] = wrong
return result
