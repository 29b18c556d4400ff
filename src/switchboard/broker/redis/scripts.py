"""The Lua the Redis broker runs: one script (:data:`BATCH`) that runs, in order and atomically,
every call a node queued in one loop pass.

Each call names a function below with its own keys and arguments, as a script of its own would
get them (``KEYS``, ``ARGV``); ``now`` is Redis's clock (ms), read once per batch. Channel
functions touch only keys under the channel's hash tag (``<prefix>{<channel>}:...``), registry
functions only keys under ``<prefix>{registry}``. Times come from Redis's own clock
(``TIME``), so nodes need not agree on one.

Why one script for many calls: redis-py spends several microseconds of Python per command it
sends and per reply it reads; one EVALSHA for a whole pass pays that once, and Redis parses one
command instead of hundreds.
"""

from __future__ import annotations

#: Names of the functions (what :meth:`~.batch.Batch.run` takes).
PUBLISH = "publish"
RECOVER = "recover"
HISTORY = "history"
HISTORY_PAGE = "history_page"
CLAIM = "claim"
ROUTE = "route"
REFRESH = "refresh"
LEAVE = "leave"
NODES = "nodes"
PRESENCE = "presence"
PRESENCE_ADD = "presence_add"

#: Functions that must not run after the node stopped waiting for them: the node answers
#: UNAVAILABLE when Redis does not reply in time (paused, overloaded), and what it asked must
#: not happen later behind that answer. Their batch carries a deadline in Redis's time.
TIMED = frozenset({PUBLISH, ROUTE})

_FUNCTIONS: dict[str, str] = {
    # KEYS: meta, stream. ARGV: data, format, history size, history TTL (ms), meta TTL (ms), a
    # new epoch, the pub/sub topic. The offset, the stored entry and the live message agree.
    PUBLISH: """
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
""",
    # KEYS: meta, stream. ARGV: a new epoch, meta TTL (ms), the offset to read after ('' for
    # none). The position (creating the epoch if the channel has none), Redis's clock, and the
    # entries after that offset.
    RECOVER: """
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
return {top, epoch, now, entries}
""",
    # KEYS: meta, stream. ARGV: how many. The last entries, newest first, creating nothing.
    HISTORY: """
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then return {0, '', 0, {}} end
local top = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
local entries = {}
if tonumber(ARGV[1]) > 0 then
  entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[1])
end
return {top, epoch, now, entries}
""",
    # KEYS: meta, stream. ARGV: how many, the offset to page from ('' for none), '1' to go
    # back. Up to that many live entries after that offset, oldest first (back: before it,
    # newest first), with the bound exclusive; expired entries do not count.
    HISTORY_PAGE: """
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then return {0, '', 0, {}} end
local top = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
local limit, back = tonumber(ARGV[1]), ARGV[3] == '1'
local bound = back and '+' or '-'
if ARGV[2] ~= '' then bound = '(' .. ARGV[2] .. '-0' end
local found = {}
while #found < limit do
  local entries
  if back then
    entries = redis.call('XREVRANGE', KEYS[2], bound, '-', 'COUNT', limit - #found)
  else
    entries = redis.call('XRANGE', KEYS[2], bound, '+', 'COUNT', limit - #found)
  end
  if #entries == 0 then break end
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'x' and tonumber(fields[i + 1]) > now then
        found[#found + 1] = entry
      end
    end
  end
  bound = '(' .. entries[#entries][1]
end
return {top, epoch, now, found}
""",
    # KEYS: the claim. ARGV: the value, its TTL (ms). The value already held, or false once
    # this one is stored.
    CLAIM: """
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
""",
    # KEYS: the live nodes (ZSET node -> expiry). ARGV: 'all', 'conn' or 'user'; the
    # connection id or user key; the registry key prefix; the node topic prefix; the message;
    # the topic every node reads. Counts the connections of live nodes the message is for and
    # PUBLISHes it to the nodes that hold them ('all': once, to every node).
    ROUTE: """
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
""",
    # KEYS: the live nodes, this node's connections, its users, its info. ARGV: this node, TTL
    # (ms), its info ('' for none yet). Marks the node alive until now + TTL and keeps its
    # entries as long; returns 1 when the node was not registered (new, expired, or Redis lost
    # it): then it writes them again; and Redis's clock (ms), which deadlines are set in.
    REFRESH: """
local added = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[4], ARGV[3], 'PX', ARGV[2])
end
return {added, now}
""",
    # KEYS: the live nodes, this node's info. ARGV: the node. Removes it at once (a clean stop).
    LEAVE: """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
""",
    # KEYS: the live nodes. ARGV: the registry key prefix. The info of every live node.
    NODES: """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local infos = {}
for _, node in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local info = redis.call('GET', ARGV[1] .. 'info:' .. node)
  if info then table.insert(infos, info) end
end
return infos
""",
    # KEYS: members (HASH client -> info), their expiry (ZSET client -> ms). The members whose
    # node kept refreshing them; the others are dropped.
    PRESENCE: """
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
if #gone > 0 then
  redis.call('HDEL', KEYS[1], unpack(gone))
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
end
return redis.call('HGETALL', KEYS[1])
""",
    # KEYS: members, their expiry. ARGV: TTL (ms), then client id and info pairs. Adds or
    # refreshes those members (written again in full: Redis may have lost them).
    PRESENCE_ADD: """
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ttl * 2)
redis.call('PEXPIRE', KEYS[2], ttl * 2)
return 1
""",
}

#: KEYS: every call's keys, one after the other. ARGV: the deadline (ms, Redis's clock), the
#: plan (per call: its function's name, how many keys, how many arguments), then every call's
#: arguments, one after the other. Returns one result per call, in order; a call that failed
#: (or came too late, for a timed one) has an error reply in its place and the others still run.
BATCH = (
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local late = now > tonumber(ARGV[1])
local timed = {"""
    + ", ".join(f"{name} = true" for name in sorted(TIMED))
    + """}
local f = {}
"""
    + "".join(
        f"f.{name} = function(KEYS, ARGV)\n{body.strip()}\nend\n"
        for name, body in _FUNCTIONS.items()
    )
    + """
local plan = cmsgpack.unpack(ARGV[2])
local results = {}
local k, a = 1, 3
for i = 1, #plan, 3 do
  local name, nkeys, nargs = plan[i], plan[i + 1], plan[i + 2]
  local keys, args = {}, {}
  for j = 1, nkeys do keys[j] = KEYS[k + j - 1] end
  for j = 1, nargs do args[j] = ARGV[a + j - 1] end
  k, a = k + nkeys, a + nargs
  local result
  if late and timed[name] then
    result = {err = 'EXPIRED the node stopped waiting'}
  else
    local ok, value = pcall(f[name], keys, args)
    if ok then
      result = value
      if result == nil then result = false end
    elseif type(value) == 'table' then
      result = {err = value.err or 'ERR script error'}
    else
      result = {err = tostring(value)}
    end
  end
  results[#results + 1] = result
end
return results
"""
)
