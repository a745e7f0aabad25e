-- Claims a run of a job now, outside its schedule (`trigger`), for the calling node: refused while
-- the job is paused, and by the job's overlap policy against the run marker (`bufferOne` refuses
-- like `skip`: a trigger does not wait). A trigger of an `allow` job that is `exclusive` holds the
-- marker too, so a concurrent trigger from another node is refused instead of running twice. The
-- run gets a fencing token and a record `t:<tick>`, `tick` being the caller's Redis time.
-- KEYS: 1 job hash, 2 job ticks
-- ARGV: 1 tick, 2 node, 3 signature, 4 request id, 5 overlap policy, 6 run lease, 7 token floor,
--   8 initially paused ('1' | '0'), 9 exclusive ('1' | '0')
-- Returns: {status (claimed | paused | overlap | taken), tick, token, holder, now, cancelled token,
--   1 if it holds the run marker else 0}
--@include "tick-record"
--@include "fencing-token"
--@include "run-marker"
--@include "pause-state"
local tick, node, policy, lease = ARGV[1], ARGV[2], ARGV[5], tonumber(ARGV[6])
if isPaused(ARGV[8]) then
  return {'paused', tick, '0', redis.call('HGET', HASH, 'pausedBy') or '', now, '', 0}
end
if redis.call('HEXISTS', HASH, 't:' .. tick) == 1 then return {'taken', tick, '0', '', now, '', 0} end
local holds = policy ~= 'allow' or ARGV[9] == '1'
local cancelled = ''
if holds then
  local run = activeRun(lease)
  if run and policy == 'cancelOther' then cancelled = run[1]
  elseif run then
    local _, _, holder = parse(run[3])
    return {'overlap', tick, '0', holder or '', now, '', 0}
  end
end
local token = nextToken(ARGV[7])
put('claimed', tick, token, node, ARGV[3], ARGV[4])
if holds then hold(token, tick, lease) end
tally('triggered')
return {'claimed', tick, token, node, now, cancelled, holds and 1 or 0}
