-- Removes nodes whose deadline passed. Atomic, so however many peers run it at once, each expired
-- node is removed and announced exactly once.
-- KEYS: 1 nodes, 2 deadlines, 3 meta
-- ARGV: 1 channel ('' = none), 2.. digest fields of a partial view
-- Returns: {epoch, version, now, next deadline|false, digest, scope digests..., removed records...}
--@include "registry"
--@include "reap-expired"
--@include "state-reply"
local removed, nextDeadline = reapExpired(ARGV[1], 100)
local result = stateReply(2, now, nextDeadline)
for _, record in ipairs(removed) do result[#result + 1] = record end
return result
