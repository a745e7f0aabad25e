-- What every job-claim script shares: the job's two keys and Redis time.
-- KEYS of a job script: 1 job hash (`token`, the run marker `run` / `runUntil`, `buffered`, and
-- one field per tick `t:<tick>`), 2 job ticks (ZSET of the ticks that have a record, to trim).
--@include "server-time"
local HASH, TICKS = KEYS[1], KEYS[2]
local now = serverTime()
-- A job no node claims or runs any more (removed or renamed) leaves no keys behind for good: they
-- expire once idle for 7 days (or 4 retentions, if longer); every claim and run pushes that back.
local function expireIdle(retention, ...)
  local idle = ms(math.max(7 * 86400000, 4 * (tonumber(retention) or 0)))
  for _, key in ipairs({...}) do redis.call('PEXPIRE', key, idle) end
end
