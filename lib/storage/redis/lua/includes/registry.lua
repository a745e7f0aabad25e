-- What every registry script shares: the namespace of its keys and Redis time.
-- KEYS of a registry script: 1 nodes (HASH id -> record), 2 deadlines (ZSET id -> deadline),
-- 3 meta (HASH epoch, version, digests, and `o:<id>` -> each node's owner, see owner.lua), and
-- for the scripts that remove nodes 4 gone (ZSET id -> when its tombstone lapses).
-- Service sets (`svc:<name>`) and pool sets (`pool:<name>`) sit beside KEYS[1] (same hash tag).
--@include "server-time"
local NS = string.sub(KEYS[1], 1, -6)
local now = serverTime()
