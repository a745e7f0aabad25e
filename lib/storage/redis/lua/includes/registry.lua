-- What every registry script shares: the namespace of its keys and Redis time.
-- KEYS of a registry script: 1 nodes (HASH id -> record), 2 deadlines (ZSET id -> deadline),
-- 3 meta (HASH epoch, version, digests, and `o:<id>` -> '<instance> <tag>' of each node's owner).
-- Service sets (`svc:<name>`) and pool sets (`pool:<name>`) sit beside KEYS[1] (same hash tag).
--@include "server-time"
local NS = string.sub(KEYS[1], 1, -6)
local now = serverTime()
