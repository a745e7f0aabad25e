-- What every job-claim script shares: the job's two keys and Redis time.
-- KEYS of a job script: 1 job hash (`token`, the run marker `run` / `runUntil`, `buffered`, and
-- one field per tick `t:<tick>`), 2 job ticks (ZSET of the ticks that have a record, to trim).
--@include "server-time"
local HASH, TICKS = KEYS[1], KEYS[2]
local now = serverTime()
