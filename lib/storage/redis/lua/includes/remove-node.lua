-- Removes a node's record, owner, deadline and index entries; returns its record (or false).
--@include "registry"
--@include "digests"
local function removeNode(id)
  local record = redis.call('HGET', KEYS[1], id)
  local owner = redis.call('HGET', KEYS[3], 'o:' .. id)
  if record then
    local fields, services, pool = fieldsOf(record)
    for _, name in ipairs(services) do redis.call('SREM', NS .. 'svc:' .. name, id) end
    if type(pool) == 'string' then redis.call('SREM', NS .. 'pool:' .. pool, id) end
    count(fields, tagOf(owner, record), -1)
  end
  redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[3], 'o:' .. id)
  redis.call('ZREM', KEYS[2], id)
  return record
end
