-- The newest tick records of a job. Changes nothing.
-- KEYS: 1 job hash, 2 job ticks
-- ARGV: 1 limit
-- Returns: {tick, record, tick, record...}, newest first
local result = {}
for _, tick in ipairs(redis.call('ZREVRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)) do
  local record = redis.call('HGET', KEYS[1], 't:' .. tick)
  if record then
    result[#result + 1] = tick
    result[#result + 1] = record
  end
end
return result
