"""The Lua scripts the Redis broker runs (EVALSHA), each one atomic on the Redis side.

Channel scripts touch only keys under the channel's hash tag (``<prefix>{<channel>}:...``);
registry scripts only keys under ``<prefix>{registry}``: each script stays in one Redis
Cluster slot. Times come from Redis's own clock (``TIME``), so nodes need not agree on one.
"""

from __future__ import annotations

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

#: Refuses a script that runs after the node stopped waiting for it (ARGV[1], in Redis's
#: time): a node answers UNAVAILABLE when Redis does not reply in time (paused, overloaded),
#: and what it asked must not happen later behind that answer.
_IN_TIME = (
    _NOW
    + """
if now > tonumber(ARGV[1]) then
  return redis.error_reply('EXPIRED the node stopped waiting')
end
"""
)

#: KEYS: meta, stream. ARGV: the deadline (ms), data, format, history size, history TTL (ms),
#: meta TTL (ms), a new epoch, the pub/sub topic. The offset, the stored entry and the live
#: message agree.
PUBLISH = (
    _IN_TIME
    + """
table.remove(ARGV, 1)
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[6]
  redis.call('HSET', KEYS[1], 'e', epoch)
  redis.call('DEL', KEYS[2])
end
local offset = redis.call('HINCRBY', KEYS[1], 's', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local size = tonumber(ARGV[3])
if size > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', size, offset .. '-0',
             'd', ARGV[1], 'f', ARGV[2], 'x', now + tonumber(ARGV[4]))
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
redis.call('PUBLISH', ARGV[7], offset .. '\\n' .. epoch .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[1])
return {offset, epoch}
"""
)

#: KEYS: meta, stream. ARGV: a new epoch, meta TTL (ms), the offset to read after ('' for
#: none). The position (creating the epoch if the channel has none), Redis's clock, and the
#: entries after that offset.
RECOVER = (
    """
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'e', epoch, 's', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('DEL', KEYS[2])
end
local top = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
local entries = {}
if ARGV[3] ~= '' then
  entries = redis.call('XRANGE', KEYS[2], (tonumber(ARGV[3]) + 1) .. '-0', '+')
end
"""
    + _NOW
    + """
return {top, epoch, now, entries}
"""
)

#: KEYS: meta, stream. ARGV: how many. The last entries, newest first, creating nothing.
HISTORY = (
    """
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then return {0, '', 0, {}} end
local top = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
local entries = {}
if tonumber(ARGV[1]) > 0 then
  entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[1])
end
"""
    + _NOW
    + """
return {top, epoch, now, entries}
"""
)

#: KEYS: the live nodes (ZSET node -> expiry). ARGV: the deadline (ms); 'all', 'conn' or
#: 'user'; the connection id or user key; the registry key prefix; the node topic prefix; the
#: message; the topic every node reads. Counts the connections of live nodes the message is
#: for and PUBLISHes it to the nodes that hold them ('all': once, to every node).
ROUTE = (
    _IN_TIME
    + """
table.remove(ARGV, 1)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local mode, target, base = ARGV[1], ARGV[2], ARGV[3]
local reached = 0
for _, node in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local n = 0
  if mode == 'all' then
    n = redis.call('HLEN', base .. 'conns:' .. node)
  elseif mode == 'conn' then
    n = redis.call('HEXISTS', base .. 'conns:' .. node, target)
  else
    n = tonumber(redis.call('HGET', base .. 'users:' .. node, target) or '0')
  end
  if n > 0 and mode ~= 'all' then
    redis.call('PUBLISH', ARGV[4] .. node, ARGV[5])
  end
  reached = reached + n
end
if mode == 'all' then
  redis.call('PUBLISH', ARGV[6], ARGV[5])
end
return reached
"""
)

#: KEYS: the live nodes, this node's connections, its users, its info. ARGV: this node, TTL
#: (ms), its info ('' for none yet). Marks the node alive until now + TTL and keeps its
#: entries as long; returns 1 when the node was not registered (new, expired, or Redis lost
#: it): then it writes them again; and Redis's clock (ms), which deadlines are set in.
REFRESH = (
    _NOW
    + """
local added = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[4], ARGV[3], 'PX', ARGV[2])
end
return {added, now}
"""
)

#: KEYS: the live nodes, this node's info. ARGV: the node. Removes it at once (a clean stop).
LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
"""

#: KEYS: the live nodes. ARGV: the registry key prefix. The info of every live node.
NODES = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local infos = {}
for _, node in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local info = redis.call('GET', ARGV[1] .. 'info:' .. node)
  if info then table.insert(infos, info) end
end
return infos
"""
)

#: KEYS: members (HASH client -> info), their expiry (ZSET client -> ms). The members whose
#: node kept refreshing them; the others are dropped.
PRESENCE = (
    _NOW
    + """
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
if #gone > 0 then
  redis.call('HDEL', KEYS[1], unpack(gone))
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
end
return redis.call('HGETALL', KEYS[1])
"""
)

#: KEYS: members, their expiry. ARGV: TTL (ms), then client id and info pairs. Adds or
#: refreshes those members (written again in full: Redis may have lost them).
PRESENCE_ADD = (
    _NOW
    + """
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ttl * 2)
redis.call('PEXPIRE', KEYS[2], ttl * 2)
return 1
"""
)
