"""Gates for RedisState: the rules of zbmcp.state.gates, as two Lua scripts that Redis runs atomically.

Per gate, three keys: `<prefix>g:<gate>:f` (leases in flight: ticket -> lease end), `...:a` (answers: ticket
-> answer time) and `...:m` (a hash: held, day, used). Times are the Redis server's, in seconds. Every key
expires on its own once idle, so ten thousand organizations cost only what is in use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from zbmcp.state.gates import IN_FLIGHT_POLL_SECONDS, REASONS, Admission, GateLimits, GateUpdate, Reason

META_TTL_MS = 2 * 86400 * 1000  # the day's count must outlive the day

# KEYS: f, a, m per gate. ARGV: ticket, lease, poll, then per gate: limit, window, concurrency, budget (0:
# none). Returns {reason or 'ok', gate index (1-based), wait, day count}.
ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local day = math.floor(now / 86400)
local ticket, lease, poll = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local n = #KEYS / 3
local worst, worst_gate, worst_wait = nil, 0, 0
local used, fresh_day = {}, {}
for i = 1, n do
  local f, a, m = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local o = 3 + 4 * (i - 1)
  local limit, window = tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2])
  local concurrency, budget = tonumber(ARGV[o + 3]), tonumber(ARGV[o + 4])
  -- leases that ran out become answers at their end; answers older than a window leave it
  local ended = redis.call('ZRANGEBYSCORE', f, '-inf', now, 'WITHSCORES')
  if #ended > 0 then
    if limit > 0 then
      for j = 1, #ended, 2 do redis.call('ZADD', a, ended[j + 1], ended[j]) end
      redis.call('PEXPIRE', a, math.ceil(window * 1000) + 1000)
    end
    redis.call('ZREMRANGEBYSCORE', f, '-inf', now)
  end
  redis.call('ZREMRANGEBYSCORE', a, '-inf', now - window)
  if limit > 0 then redis.call('ZREMRANGEBYRANK', a, 0, -(limit + 1)) end
  local meta = redis.call('HMGET', m, 'held', 'day', 'used')
  local held = tonumber(meta[1]) or 0
  used[i], fresh_day[i] = 0, tonumber(meta[2]) ~= day
  if not fresh_day[i] then used[i] = tonumber(meta[3]) or 0 end
  local reason, wait = nil, 0
  if now < held then
    reason, wait = 'held', held - now
  elseif budget > 0 and used[i] >= budget then
    return {'day', i, '0', tostring(used[i])}
  else
    local flying = redis.call('ZCARD', f)
    if concurrency > 0 and flying >= concurrency then
      reason, wait = 'busy', poll
    elseif limit > 0 then
      local answered = redis.call('ZCARD', a)
      local over = flying + answered - limit + 1
      if over > 0 then
        reason, wait = 'window', poll
        if over <= answered then
          local oldest = redis.call('ZRANGE', a, over - 1, over - 1, 'WITHSCORES')
          wait = tonumber(oldest[2]) + window - now
        end
      end
    end
  end
  if reason and (worst == nil or wait > worst_wait) then worst, worst_gate, worst_wait = reason, i, wait end
end
if worst then return {worst, worst_gate, tostring(worst_wait), '0'} end
for i = 1, n do
  local f, a, m = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local o = 3 + 4 * (i - 1)
  local limit, window, concurrency = tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3])
  if limit > 0 or concurrency > 0 then
    redis.call('ZADD', f, now + lease, ticket)
    -- a lease that ends unanswered still counts a window after its end, so it must outlive that
    redis.call('PEXPIRE', f, math.ceil((window + lease) * 1000) + 1000)
  end
  if fresh_day[i] then
    redis.call('HSET', m, 'day', day, 'used', 1)
    redis.call('PEXPIRE', m, %(meta_ttl)d)  -- refreshed by every hold and every count from Zoho, too
  else
    redis.call('HINCRBY', m, 'used', 1)
  end
end
return {'ok', 0, '0', '0'}
""" % {"meta_ttl": META_TTL_MS}

# KEYS: f, a, m per gate. ARGV: ticket, then per gate: limit (0: none), window, day
# count seen (-1: none), hold.
FINISH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local day = math.floor(now / 86400)
local ticket = ARGV[1]
for i = 1, #KEYS / 3 do
  local f, a, m = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local o = 1 + 4 * (i - 1)
  local window, seen, hold = tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3]), tonumber(ARGV[o + 4])
  local flew = redis.call('ZREM', f, ticket)
  if tonumber(ARGV[o + 1]) > 0 then  -- answers matter only to a window
    if flew == 1 then
      redis.call('ZADD', a, now, ticket)
    else  -- its lease ran out first and made it an answer: the real answer is later
      redis.call('ZADD', a, 'XX', 'GT', now, ticket)
    end
    redis.call('PEXPIRE', a, math.ceil(window * 1000) + 1000)
  end
  if seen >= 0 or hold > 0 then
    local meta = redis.call('HMGET', m, 'held', 'day', 'used')
    if seen >= 0 then
      local used = 0
      if tonumber(meta[2]) == day then used = tonumber(meta[3]) or 0 end
      if seen > used then redis.call('HSET', m, 'day', day, 'used', seen) end
    end
    if hold > 0 and now + hold > (tonumber(meta[1]) or 0) then redis.call('HSET', m, 'held', now + hold) end
    redis.call('PEXPIRE', m, %(meta_ttl)d)
  end
end
return 1
""" % {"meta_ttl": META_TTL_MS}

# KEYS: m. The day's count, 0 if the stored day is not today.
DAY_USED = """
local t = redis.call('TIME')
local day = math.floor(tonumber(t[1]) / 86400)
local meta = redis.call('HMGET', KEYS[1], 'day', 'used')
if tonumber(meta[1]) == day then return tonumber(meta[2]) or 0 end
return 0
"""


def gate_keys(prefix: str, gates: Sequence[GateLimits]) -> list[str]:
    keys = []
    for gate in gates:
        base = f"{prefix}g:{gate.key}:"
        keys += [base + "f", base + "a", base + "m"]
    return keys


def admit_args(gates: Sequence[GateLimits], ticket: str, lease: float) -> list[Any]:
    args: list[Any] = [ticket, repr(float(lease)), repr(IN_FLIGHT_POLL_SECONDS)]
    for gate in gates:
        args += [gate.per_window or 0, repr(float(gate.window)), gate.concurrency or 0,
                 gate.daily_budget or 0]
    return args


def finish_args(gates: Sequence[GateLimits], ticket: str, updates: Sequence[GateUpdate]) -> list[Any]:
    args: list[Any] = [ticket]
    for gate, update in zip(gates, updates):
        seen = -1 if update.day_used is None else max(0, update.day_used)
        args += [gate.per_window or 0, repr(float(gate.window)), seen, repr(float(update.hold))]
    return args


def admission(answer: Sequence[Any]) -> Admission:
    reason = answer[0].decode() if isinstance(answer[0], bytes) else str(answer[0])
    if reason == "ok":
        return Admission(True)
    if reason not in REASONS:
        raise ValueError(f"the admission script answered {reason!r}")
    return Admission(False, float(answer[2]), int(answer[1]) - 1, cast(Reason, reason), int(float(answer[3])))
