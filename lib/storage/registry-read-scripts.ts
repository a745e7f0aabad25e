// Lua scripts that read the Redis registry: one service or pool with tags (a partial view's load),
// the registry state with Redis time, and one live record. They change nothing.
import { PRELUDE } from './redis-scripts.js';

/**
 * The live nodes of one service (`svc:<name>`) or pool (`pool:<name>`), with their tags: how a
 * partial view loads what it keeps. KEYS: 1 nodes, 2 deadlines, 3 meta, 4 the set.
 * ARGV: 1.. digest fields of the view. Returns {epoch, version, now, digest, scope digests...,
 * record, tag, ...}.
 */
export const SCOPE_SCRIPT = `${PRELUDE}
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
  end
end
return result
`;

/** ARGV: 1.. digest fields of a partial view. Returns {epoch, version, now, digest, scope digests...}. */
export const VERSION_SCRIPT = `${PRELUDE}
return stateReply(1, now)
`;

/** KEYS: 1 nodes, 2 deadlines. ARGV: 1 nodeId. Returns the record if the node is alive, else false. */
export const FETCH_NODE_SCRIPT = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local deadline = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
if deadline <= now then return false end
return redis.call('HGET', KEYS[1], ARGV[1])
`;
