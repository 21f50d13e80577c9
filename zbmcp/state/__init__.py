"""One state for every zbmcp process and replica: `State`, with a local-files and a Redis backend.

What must be one across processes goes through it, with the same semantics on both backends: request windows
and concurrency slots (leases that expire), per-agent quotas, day counts, Zoho tokens and their refresh lock,
single-use approval tickets, console sessions, OAuth state,
idempotency keys (zbmcp.state.idempotency). The config picks the backend:

    state:
      backend: local            # the default: files under ZBMCP_HOME, every process on this machine
    state:
      backend: redis            # a fleet of replicas
      url: ${ZBMCP_REDIS_URL}   # redis://[user:password@]host:6379/0, rediss:// for TLS
      key_prefix: "zbmcp:"
      encryption_key: ${ZBMCP_STATE_KEY}

The runtime opens one State (`runtime.state`); code that needs to remember something across processes asks it
for records, in a namespace of its own:

    state = runtime.state
    await state.put("console-sessions", session_id, {"person": "ana"}, ttl=8 * 3600)
    await state.get("console-sessions", session_id)            # the dict, or None once expired or deleted
    if await state.put_if_absent("oauth-codes", code, {"client": cid}, ttl=60):
        ...                                                    # created: no other replica holds this code
    grant = await state.take("oauth-codes", code)              # get + delete at once: single use
    pending = await state.items("approvals")                   # every live record: {key: value}
    await state.delete("console-sessions", session_id)
    async with state.lock("token-refresh:main", ttl=40, wait=45):
        ...                                                    # one holder across every process and replica
    await state.put("oauth_clients_unused", cid, record, ttl=7 * 86400, most=1000)  # the oldest past 1000 go
    wait = await state.spend("oauth-register-counts", [("address:203.0.113.5", 20), ("all", 200)],
                             window=600)                       # 0.0: counted in every budget; else seconds
    epoch = await state.epoch()                                # changes when records may have been lost

What strangers can cause to be stored goes through `most` and `spend`, which bound it; what must stay used
after Redis loses its data is marked through zbmcp.state.single_use, which binds it to the epoch.

A value is bytes, str or a JSON-able dict, and comes back as the same type. Every operation raises
StateUnavailable when the backend cannot be reached (Redis down): answer the caller with its message, which
says to retry, and do not carry on as if the operation had happened. Use `new_id()` for ids that must not
collide across hosts and containers (never a PID).

Tests: `tests/conftest.py` gives a `state` fixture parametrized over both backends (a real
`redis-server` on a free loopback port) and a `redis_url` fixture.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from zbmcp.state.base import LockTimeout, State, StateUnavailable, Value, new_id

# the config's pydantic models cost 0.3 s to import; a process that only needs State skips them
if TYPE_CHECKING:
    from zbmcp.core.config_hosting import StateSettings

__all__ = ["LockTimeout", "State", "StateUnavailable", "Value", "new_id", "open_state"]


def open_state(settings: StateSettings, home: Path) -> State:
    """The configured backend. Opening does no IO: a Redis that is down shows on first
    use (and in /healthz)."""
    if settings.backend == "redis":
        from zbmcp.state.redis import RedisState

        assert settings.url is not None  # the config requires it
        return RedisState(settings.url.get_secret_value(), prefix=settings.key_prefix,
                          timeout=settings.timeout_seconds)
    from zbmcp.state.local import LocalState

    return LocalState(home / "state")
