-- Gives back a grant this node will not run (its lease ran out, it began to shut down, or the
-- grant reached it past the tick's deadline): the tick's record goes, so another node can still
-- claim the tick in time, and the run marker it held is cleared.
-- KEYS: 1 job hash, 2 job ticks
-- ARGV: 1 node, 2 tick, 3 token
-- Returns: 1 if the grant was this node's (and is gone), else 0
--@include "tick-record"
local status, token, holder = parse(redis.call('HGET', HASH, 't:' .. ARGV[2]))
if token ~= ARGV[3] or holder ~= ARGV[1] or (status ~= 'granted' and status ~= 'claimed') then
  return 0
end
drop(ARGV[2])
local run = redis.call('HGET', HASH, 'run')
if run and string.match(run, '^(%d+)') == ARGV[3] then redis.call('HDEL', HASH, 'run', 'runUntil') end
return 1
