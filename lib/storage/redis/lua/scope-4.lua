-- The live nodes of one service (`svc:<name>`) or pool (`pool:<name>`), with their tags: how a
-- partial view loads what it keeps. Changes nothing.
-- KEYS: 1 nodes, 2 deadlines, 3 meta, 4 the service or pool set
-- ARGV: 1.. digest fields of the view
-- Returns: {epoch, version, now, digest, count, scope digests..., record, tag, owner, record, tag,
--   owner...}
--@include "registry"
--@include "digests"
--@include "state-reply"
local result = stateReply(1, now)
local ids = redis.call('SMEMBERS', KEYS[4])
if #ids == 0 then return result end
local owners = {}
for i = 1, #ids do owners[i] = 'o:' .. ids[i] end
local records = redis.call('HMGET', KEYS[1], unpack(ids))
local deadlines = redis.call('ZMSCORE', KEYS[2], unpack(ids))
local tags = redis.call('HMGET', KEYS[3], unpack(owners))
for i = 1, #ids do
  if records[i] and deadlines[i] and tonumber(deadlines[i]) > now then
    result[#result + 1] = records[i]
    result[#result + 1] = tagOf(tags[i], records[i])
    result[#result + 1] = tags[i] or ''
  end
end
return result
