"""The queue's Lua scripts: each runs atomically inside Redis (see `faas.queue.store`).

Record and parked-retry keys are built inside the scripts from the prefixes in `faas.keys`
(a single Redis, not a cluster).
"""

ENQUEUE = """
local id = ARGV[1]
if KEYS[3] ~= '' then
  local seen = redis.call('GET', KEYS[3])
  if seen then
    local sep = string.find(seen, ' ', 1, true)
    local old = string.sub(seen, 1, sep - 1)
    if string.sub(seen, sep + 1) ~= ARGV[2] then return {'conflict', old} end
    return {'existing', old}
  end
end
if tonumber(ARGV[4]) > 0 and redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[4]) then
  return {'full', ''}
end
local t = redis.call('TIME')
local now = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
local n = tonumber(ARGV[5])
local record = {'status', 'queued', 'created', now}
for i = 6, 5 + 2 * n do record[#record + 1] = ARGV[i] end
local fields = {'c', now}
for i = 6 + 2 * n, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('HSET', KEYS[2], unpack(record))
if KEYS[3] ~= '' then redis.call('SET', KEYS[3], id .. ' ' .. ARGV[2], 'EX', ARGV[3]) end
return {'new', id}
"""

# Keep our claim on entries we still work on (idle 0), or hand them back (idle = visibility
# timeout, so any consumer's next XAUTOCLAIM takes them). Never touches an entry that another
# consumer has claimed meanwhile; returns those ids.
CLAIM_OWN = """
local lost = {}
for i = 4, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
"""

MOVE_DUE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  local key = ARGV[3] .. id .. ARGV[4]
  local fields = redis.call('HGETALL', key)
  if #fields > 0 then redis.call('XADD', KEYS[2], '*', unpack(fields)) end
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], id)
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#ids, nxt[2] or ''}
"""

DEAD = """
local dl = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
redis.call('HSET', KEYS[2], 'status', 'dead', 'dead_letter_id', dl)
redis.call('PERSIST', KEYS[2])
return dl
"""

# Dead letter -> calls stream: a fresh message (attempts reset, created now), same call id.
REDRIVE = """
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then return false end
local raw = found[1][2]
local m = ''
for i = 1, #raw, 2 do if raw[i] == 'm' then m = raw[i + 1] end end
local nl = string.find(m, '\\n', 1, true)
local ok, head = false, nil
if nl then ok, head = pcall(cjson.decode, string.sub(m, 1, nl - 1)) end
if not (ok and type(head) == 'table' and type(head['id']) == 'string'
        and type(head['fn']) == 'string') then
  return redis.error_reply('MALFORMED the dead letter is not a faas call')
end
local t = redis.call('TIME')
local now = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
redis.call('XADD', KEYS[2], '*', 'c', now, 'a', '0', 'p', '0', 'm', m)
redis.call('XDEL', KEYS[1], ARGV[1])
local record = ARGV[2] .. head['id']
redis.call('HSET', record, 'status', 'queued', 'function', head['fn'], 'kind', head['k'] or 'async',
  'created', now, 'attempts', '0', 'redriven_at', now)
redis.call('HDEL', record, 'reason', 'dead_letter_id', 'next_attempt_at')
redis.call('HINCRBY', record, 'redrives', 1)
redis.call('PERSIST', record)
return head['id']
"""

# A batch of attempt outcomes, atomically: ops are encoded by `faas.queue.ops.encode`.
# Finished records are noted in KEYS[4] by finish time; past ARGV[4] of them the oldest are
# deleted (retention by count; their own TTL is retention by age).
APPLY = """
local group, prefix, suffix, keep = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local i = 5
local finished = 0
local acks = {}
local function take(count)
  local out = {}
  for j = i, i + count - 1 do out[#out + 1] = ARGV[j] end
  i = i + count
  return out
end
while i <= #ARGV do
  local op, id, entry, n = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  i = i + 4
  local record = prefix .. id
  if n > 0 then redis.call('HSET', record, unpack(take(2 * n))) end
  if entry ~= '' then acks[#acks + 1] = entry end
  if op == 'S' then
    redis.call('HINCRBY', record, 'executions', 1)
  elseif op == 'F' then
    redis.call('HINCRBY', record, 'completions', 1)
    redis.call('EXPIRE', record, take(1)[1])
    local t = redis.call('TIME')
    redis.call('ZADD', KEYS[4], t[1] + t[2] / 1e6, id)
    finished = finished + 1
  elseif op == 'R' then
    local due, m = ARGV[i], tonumber(ARGV[i + 1])
    i = i + 2
    local parked = record .. suffix
    redis.call('DEL', parked)
    redis.call('HSET', parked, unpack(take(2 * m)))
    redis.call('ZADD', KEYS[2], due, id)
  elseif op == 'D' then
    local m = tonumber(ARGV[i])
    i = i + 1
    local dl = redis.call('XADD', KEYS[3], '*', unpack(take(2 * m)))
    redis.call('HSET', record, 'dead_letter_id', dl)
    redis.call('PERSIST', record)
  end
end
if #acks > 0 then
  redis.call('XACK', KEYS[1], group, unpack(acks))
  redis.call('XDEL', KEYS[1], unpack(acks))
end
if finished > 0 then
  local over = redis.call('ZCARD', KEYS[4]) - keep
  if over > 0 then
    for n, old in ipairs(redis.call('ZPOPMIN', KEYS[4], over)) do
      if n % 2 == 1 then redis.call('DEL', prefix .. old) end
    end
  end
end
return #acks
"""
