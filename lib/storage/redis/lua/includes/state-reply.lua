-- A reply's head: {epoch, version, <the values given>, digest, count, scope digests...}: `count`
-- is how many nodes hold a deadline (Redis's own count, whoever wrote them), the scope digests
-- the meta fields named by ARGV[from..].
--@include "registry"
local function stateReply(from, ...)
  local fields = {'epoch', 'version', 'digest'}
  for i = from, #ARGV do fields[#fields + 1] = ARGV[i] end
  local values = redis.call('HMGET', KEYS[3], unpack(fields))
  for i = 1, #values do values[i] = values[i] or '' end
  local result = {values[1], values[2], ...}
  result[#result + 1] = values[3]
  result[#result + 1] = redis.call('ZCARD', KEYS[2])
  for i = 4, #values do result[#result + 1] = values[i] end
  return result
end
