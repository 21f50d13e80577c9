"""Logs for RedisState (State.append, State.read_log), as two Lua scripts that Redis runs atomically.

Per log: `<prefix>l:<log>`, a sorted set of entry numbers; `<prefix>le:<log>:<n>`, each entry (the SHA-256
of its unique key, or dashes, then the encoded value) with its own expiry; `<prefix>lu:<log>:<digest>`, a
unique key's marker holding its entry's number. One counter, `<prefix>lseq`, numbers every log's entries.
"""

from __future__ import annotations

import hashlib

NO_UNIQUE = "-" * 64

# Drops the expired entries at the front of the index (a log's entries share one ttl, so they go in order).
_SWEEP_FRONT = """
while true do
  local first = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #first == 0 or redis.call('EXISTS', ARGV[1] .. first[1]) == 1 then break end
  redis.call('ZREM', KEYS[1], first[1])
end
"""

# KEYS: index, counter, unique marker. ARGV: entry prefix, entry, ttl in ms, most, "1" if unique, marker
# prefix. Returns the entry's number, or false when a live entry has the unique key.
APPEND = """
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return false end
local n = redis.call('INCR', KEYS[2])
local ttl = tonumber(ARGV[3])
redis.call('SET', ARGV[1] .. n, ARGV[2], 'PX', ttl)
redis.call('ZADD', KEYS[1], n, n)
if ARGV[5] == '1' then redis.call('SET', KEYS[3], n, 'PX', ttl) end
""" + _SWEEP_FRONT + """
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if over > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[1], 0, over - 1)) do
    local entry = redis.call('GET', ARGV[1] .. old)
    if entry then
      local digest = string.sub(entry, 1, 64)
      if digest ~= string.rep('-', 64) and redis.call('GET', ARGV[6] .. digest) == old then
        redis.call('DEL', ARGV[6] .. digest)
      end
      redis.call('DEL', ARGV[1] .. old)
    end
  end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
end
redis.call('PEXPIRE', KEYS[1], ttl)
return n
"""

# KEYS: index. ARGV: entry prefix, after, limit, "1" for the newest. Returns number, entry, number, entry...
READ = _SWEEP_FRONT + """
local numbers
if ARGV[4] == '1' then
  numbers = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
else
  numbers = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf', 'LIMIT', 0, tonumber(ARGV[3]))
end
local out = {}
for _, n in ipairs(numbers) do
  local entry = redis.call('GET', ARGV[1] .. n)
  if entry then
    table.insert(out, n)
    table.insert(out, entry)
  end
end
return out
"""


def unique_digest(unique: str | None) -> str:
    return NO_UNIQUE if unique is None else hashlib.sha256(unique.encode()).hexdigest()
