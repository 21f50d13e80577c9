"""RedisState: the State in Redis (or Valkey), shared by every replica of a hosted fleet.

Every change that reads before it writes is one Lua script, so it is atomic on the server: nothing is ever
read-modify-written from a client. Times come from the Redis server's clock (TIME), so replicas whose clocks
differ still agree on what has expired. Records are plain keys with PX expiry, plus one sorted set per
namespace (key -> expiry) so that `items` need not scan the keyspace.

    redis://[user:password@]host:6379/0     rediss://... for TLS      unix:///run/redis.sock

All keys start with the configured prefix, so one Redis can serve several fleets. A single Redis (with
replicas or Sentinel for failover) is assumed, not Redis Cluster: scripts touch several keys of one gate.
Any failure to reach Redis becomes StateUnavailable, which callers turn into a clear, retryable answer.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from zbmcp.state import redis_gates, redis_logs
from zbmcp.state.base import (
    Backend,
    StateUnavailable,
    Value,
    check_budgets,
    check_key,
    check_log,
    check_most,
    check_namespace,
    check_ttl,
    decode,
    encode,
    epoch_name,
    key_fits,
    new_id,
    record_lock,
)
from zbmcp.state.gates import Admission, GateLimits, GateUpdate

log = logging.getLogger(__name__)

# KEYS: record, index. ARGV: value, ttl in ms (0: none), key, "nx" to create only, most records in the
# namespace (0: no bound), the prefix of the namespace's record keys.
_PUT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[4] == 'nx' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
  -- to the microsecond, so that of records put within one millisecond the older expires (and goes) first
  redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000 + ttl, ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[2], '+inf', ARGV[3])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if tonumber(ARGV[5]) > 0 and over > 0 then
  for _, dropped in ipairs(redis.call('ZRANGE', KEYS[2], 0, over - 1)) do
    redis.call('DEL', ARGV[6] .. dropped)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
return 1
"""

# KEYS: a sorted set per budget (event id -> time). ARGV: window in ms, this event's id, each budget's limit.
# Returns 0 when counted, else the milliseconds until it could be (and then writes nothing).
_SPEND = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local wait = 0
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local limit = tonumber(ARGV[2 + i])
  local n = redis.call('ZCARD', KEYS[i])
  if n >= limit then
    local first = redis.call('ZRANGE', KEYS[i], n - limit, n - limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(first[2]) + window - now, 1)
  end
end
if wait > 0 then return wait end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[i], window)
end
return 0
"""

# KEYS: record, index. ARGV: key, "1" to compare, the value to compare with, "take" to return the value.
_REMOVE = """
local value = redis.call('GET', KEYS[1])
if not value then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return false
end
if ARGV[2] == '1' and value ~= ARGV[3] then return false end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[4] == 'take' then return value end
return 1
"""

# KEYS: record, index. ARGV: key, the value it must hold, ttl in ms.
_EXTEND = """
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
return 1
"""

# KEYS: index. Drops what has expired and returns the keys left.
_KEYS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


class RedisState:
    backend: Backend = "redis"

    def __init__(self, url: str, *, prefix: str = "zbmcp:", timeout: float = 2.0) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # One quick reconnection (a restarted Redis, a dropped idle connection); past that, the caller hears
        # at once that the state is unavailable rather than waiting through a backoff.
        self._redis: Any = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                          retry=Retry(NoBackoff(), 1), decode_responses=False)
        self.url = url  # may hold a password: never logged or shown
        self.prefix = prefix
        self.where = _describe(self._redis)
        self._put = self._redis.register_script(_PUT)
        self._remove = self._redis.register_script(_REMOVE)
        self._keys = self._redis.register_script(_KEYS)
        self._extend = self._redis.register_script(_EXTEND)
        self._spend = self._redis.register_script(_SPEND)
        self._run_unknown_told = False
        self._checked_run = ""  # the Redis run whose eviction policy was looked at
        self._admit = self._redis.register_script(redis_gates.ADMIT)
        self._finish = self._redis.register_script(redis_gates.FINISH)
        self._day_used = self._redis.register_script(redis_gates.DAY_USED)
        self._append = self._redis.register_script(redis_logs.APPEND)
        self._read_log = self._redis.register_script(redis_logs.READ)

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # -- gates (zbmcp.state.gates) ---------------------------------------------------------------------

    async def admit(self, gates: Sequence[GateLimits], ticket: str, *, lease: float) -> Admission:
        with self.unavailable_as_error():
            answer = await self._admit(keys=redis_gates.gate_keys(self.prefix, gates),
                                       args=redis_gates.admit_args(gates, ticket, lease))
        return redis_gates.admission(answer)

    async def finish(self, gates: Sequence[GateLimits], ticket: str, updates: Sequence[GateUpdate]) -> None:
        with self.unavailable_as_error():
            await self._finish(keys=redis_gates.gate_keys(self.prefix, gates),
                               args=redis_gates.finish_args(gates, ticket, updates))

    async def day_used(self, gate_key: str) -> int:
        with self.unavailable_as_error():
            return int(await self._day_used(keys=redis_gates.gate_keys(self.prefix,
                                                                       [GateLimits(gate_key)])[2:]))

    # -- records ---------------------------------------------------------------------------------------

    async def put(self, ns: str, key: str, value: Value, *, ttl: float | None,
                  most: int | None = None) -> None:
        check_most(most)
        await self._write(ns, key, value, ttl, "set", most or 0)

    async def put_if_absent(self, ns: str, key: str, value: Value, *, ttl: float | None) -> bool:
        return await self._write(ns, key, value, ttl, "nx", 0)

    async def get(self, ns: str, key: str) -> Value | None:
        check_namespace(ns)
        if not key_fits(key):
            return None
        with self.unavailable_as_error():
            data = await self._redis.get(self.key("r", ns, key))
        return _decoded(data)

    async def take(self, ns: str, key: str) -> Value | None:
        check_namespace(ns)
        if not key_fits(key):
            return None
        with self.unavailable_as_error():
            data = await self._remove(keys=[self.key("r", ns, key), self.key("i", ns)],
                                      args=[key, "0", "", "take"])
        return _decoded(data)

    async def delete(self, ns: str, key: str, *, only_if: Value | None = None) -> bool:
        check_namespace(ns)
        if not key_fits(key):
            return False
        compare: list[str | bytes] = ["1", encode(only_if)] if only_if is not None else ["0", b""]
        with self.unavailable_as_error():
            done = await self._remove(keys=[self.key("r", ns, key), self.key("i", ns)],
                                      args=[key, *compare, ""])
        return bool(done)

    async def extend(self, ns: str, key: str, *, only_if: Value, ttl: float) -> bool:
        check_namespace(ns)
        check_ttl(ttl)
        if not key_fits(key):
            return False
        with self.unavailable_as_error():
            done = await self._extend(keys=[self.key("r", ns, key), self.key("i", ns)],
                                      args=[key, encode(only_if), max(1, math.ceil(ttl * 1000))])
        return bool(done)

    async def items(self, ns: str) -> dict[str, Value]:
        check_namespace(ns)
        with self.unavailable_as_error():
            keys = [k.decode() for k in await self._keys(keys=[self.key("i", ns)])]
            values = await self._redis.mget([self.key("r", ns, k) for k in keys]) if keys else []
        found: dict[str, Value] = {}
        for key, data in zip(keys, values):
            value = _decoded(data)
            if value is not None:  # expired or taken between the two reads
                found[key] = value
        return found

    async def spend(self, ns: str, budgets: Sequence[tuple[str, int]], *, window: float) -> float:
        check_namespace(ns)
        check_budgets(budgets, window)
        with self.unavailable_as_error():
            wait_ms = await self._spend(keys=[self.key("w", ns, key) for key, _ in budgets],
                                        args=[max(1, math.ceil(window * 1000)), new_id(),
                                              *(limit for _, limit in budgets)])
        return int(wait_ms) / 1000

    async def append(self, log: str, value: Value, *, ttl: float, most: int,
                     unique: str | None = None) -> int | None:
        check_log(log, ttl, most)
        digest = redis_logs.unique_digest(unique)
        with self.unavailable_as_error():
            number = await self._append(
                keys=[self.key("l", log), self.key("lseq"), self.key("lu", log, digest)],
                args=[self.key("le", log, ""), digest.encode() + encode(value), max(1, math.ceil(ttl * 1000)),
                      most, "1" if unique is not None else "0", self.key("lu", log, "")])
        return None if number is None else int(number)

    async def read_log(self, log: str, *, after: int = 0, limit: int = 100,
                       newest: bool = False) -> list[tuple[int, Value]]:
        check_log(log)
        if limit < 1:
            return []
        with self.unavailable_as_error():
            flat = await self._read_log(keys=[self.key("l", log)],
                                        args=[self.key("le", log, ""), int(after), int(limit),
                                              "1" if newest else "0"])
        found = []
        for number, entry in zip(flat[::2], flat[1::2]):
            value = _decoded(bytes(entry)[64:])
            if value is not None:
                found.append((int(number), value))
        return sorted(found, key=lambda pair: pair[0])

    async def epoch(self) -> str:
        """The Redis server's run (its run_id changes at every start and differs on a failed-over replica,
        which may lag behind) and a marker key (gone when the data is flushed or lost)."""
        from redis.exceptions import ResponseError

        marker = self.key("epoch")
        with self.unavailable_as_error():
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(marker, new_id(), nx=True)
                pipe.get(marker)
                pipe.info("server")
                _, stored, info = await pipe.execute(raise_on_error=False)
            if isinstance(stored, Exception) or (isinstance(info, Exception)
                                                 and not isinstance(info, ResponseError)):
                raise stored if isinstance(stored, Exception) else info
        run = info.get("run_id") if isinstance(info, dict) else None
        if not isinstance(run, str):
            if not self._run_unknown_told:
                self._run_unknown_told = True
                log.warning("state: Redis at %s does not tell zbmcp its run_id (INFO is refused), so a Redis "
                            "restarted from an older snapshot cannot be told from the one before", self.where)
            run = ""
        if run and run != self._checked_run:  # once a run: a restarted Redis may have another config
            self._checked_run = run
            await self._warn_if_evicting()
        return epoch_name(run, bytes(stored or b"").decode())

    async def _warn_if_evicting(self) -> None:
        """A Redis that evicts keys when full forgets used tickets without restarting: no epoch shows that."""
        from redis.exceptions import ResponseError

        with self.unavailable_as_error():
            try:
                memory = await self._redis.info("memory")
            except ResponseError:
                return
        policy = str(memory.get("maxmemory_policy", "noeviction"))
        if policy != "noeviction" and int(memory.get("maxmemory", 0) or 0) > 0:
            log.warning("state: Redis at %s evicts keys when it is full (maxmemory-policy %s): a used "
                        "approval ticket or enrollment link evicted before it expires would work again, and "
                        "limits would forget what they counted. Set maxmemory-policy noeviction.",
                        self.where, policy)

    def lock(self, name: str, *, ttl: float, wait: float) -> AbstractAsyncContextManager[None]:
        return record_lock(self, name, ttl=ttl, wait=wait)

    async def ping(self) -> None:
        with self.unavailable_as_error():
            await self._redis.ping()

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._redis.aclose()

    # -- plumbing --------------------------------------------------------------------------------------

    async def _write(self, ns: str, key: str, value: Value, ttl: float | None, mode: str, most: int) -> bool:
        check_namespace(ns)
        check_key(key)
        check_ttl(ttl)
        ttl_ms = 0 if ttl is None else max(1, math.ceil(ttl * 1000))
        with self.unavailable_as_error():
            done = await self._put(keys=[self.key("r", ns, key), self.key("i", ns)],
                                   args=[encode(value), ttl_ms, key, mode, most, self.key("r", ns, "")])
        return bool(done)

    @property
    def client(self) -> Any:
        """The redis.asyncio client, for the pacing scripts of this package."""
        return self._redis

    @contextlib.contextmanager
    def unavailable_as_error(self) -> Iterator[None]:
        from redis.exceptions import RedisError

        try:
            yield
        except (RedisError, OSError, TimeoutError) as exc:
            # The exception's own text may quote the URL; only the host and the kind of failure are told.
            log.warning("state: Redis at %s failed (%s)", self.where, type(exc).__name__)
            raise StateUnavailable(
                f"zbmcp's shared state (Redis at {self.where}) cannot be reached ({type(exc).__name__}). "
                "Nothing was sent to Zoho; retry in a few seconds."
            ) from None


def _decoded(data: bytes | None) -> Value | None:
    if data is None:
        return None
    try:
        return decode(data)
    except ValueError:
        log.warning("state: ignoring a Redis value zbmcp did not write")
        return None


def _describe(client: Any) -> str:
    """host:port (or the socket path) of a client, never its password."""
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return str(kwargs["path"])
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
