-- The registry's state with Redis time: how views notice missed events. Changes nothing.
-- KEYS: 1 nodes, 2 deadlines, 3 meta
-- ARGV: 1.. digest fields of a partial view
-- Returns: {epoch, version, now, digest, scope digests...}
--@include "registry"
--@include "state-reply"
return stateReply(1, now)
