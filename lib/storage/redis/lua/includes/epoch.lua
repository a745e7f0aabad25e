-- The registry's epoch: made when the registry is first written (or written again after its
-- data was lost), so views can tell a registry rebuilt from scratch from the one they loaded.
--@include "registry"
local function newEpoch()
  local epoch = redis.call('HGET', KEYS[3], 'epoch')
  if not epoch then
    epoch = redis.sha1hex(now .. KEYS[1] .. math.random())
    redis.call('HSET', KEYS[3], 'epoch', epoch, 'version', 0)
  end
  return epoch
end
