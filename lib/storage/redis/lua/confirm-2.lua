-- Confirms grants before their runs start: a grant still `granted` to this node with this token
-- becomes `claimed`, and no later claim can take it over. A grant already taken over (its claimer
-- was too slow to confirm) is refused: that node must not run it.
-- KEYS: 1 job hash, 2 job ticks
-- ARGV: 1 node, then tick, token pairs
-- Returns: {now, 1|0 per pair (confirmed, or refused)}
--@include "tick-record"
local result = {now}
for i = 2, #ARGV - 1, 2 do
  local record = redis.call('HGET', HASH, 't:' .. ARGV[i])
  local status, token, holder, at, signature, request = parse(record)
  local ours = token == ARGV[i + 1] and holder == ARGV[1]
  if ours and status == 'granted' then
    redis.call('HSET', HASH, 't:' .. ARGV[i], 'claimed ' .. token .. ' ' .. holder .. ' ' .. at ..
      ' ' .. signature .. ' ' .. request)
  end
  result[#result + 1] = (ours and (status == 'granted' or status == 'claimed')) and 1 or 0
end
return result
