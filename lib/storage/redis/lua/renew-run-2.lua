-- Extends the run marker while its run goes on.
-- KEYS: 1 job hash, 2 job ticks
-- ARGV: 1 token, 2 run lease
-- Returns: 1 if the marker is still the run's (and was extended), else 0
--@include "run-marker"
if redis.call('HGET', HASH, 'run') ~= ARGV[1] then return 0 end
hold(ARGV[1], tonumber(ARGV[2]))
return 1
