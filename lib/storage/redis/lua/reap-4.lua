-- Removes nodes whose deadline passed (and lapsed tombstones). Atomic, so however many peers run
-- it at once, each expired node is removed and announced exactly once.
-- KEYS: 1 nodes, 2 deadlines, 3 meta, 4 gone
-- ARGV: 1 channel ('' = none), 2 the calling node's own deadline as its last heartbeat reply said
--   ('' for a client: it always judges; a deadline passed: it reaps nobody), 3.. digest fields of a
--   partial view
-- Returns: {epoch, version, now, next deadline|false, digest, count, scope digests...,
--   removed records...}
--@include "registry"
--@include "reap-expired"
--@include "state-reply"
local own = tonumber(ARGV[2])
local removed, nextDeadline = reapExpired(ARGV[1], 100, not own or own > now)
local result = stateReply(3, now, nextDeadline)
for _, record in ipairs(removed) do result[#result + 1] = record end
return result
