"""LocalState's gate files (windows, leases, day counts) that are unreadable, of the wrong type or hold
impossible values: kept aside with a warning and rebuilt, never trusted, never a crash."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from zbmcp.state import new_id
from zbmcp.state.gates import GateLimits, GateUpdate
from zbmcp.state.local import LocalState

GATES = [GateLimits(key="org:main:10234695", per_window=2, window=60.0, concurrency=2, daily_budget=1000)]
NOW = 1_800_000_000.0


def head(**fields: object) -> bytes:
    good: dict[str, object] = {"f": {}, "h": 0.0, "d": int(NOW // 86400), "u": 5}
    good.update(fields)
    return json.dumps(good).encode() + b"\n"


@pytest.mark.parametrize(("content", "why"), [
    (b"\x00\xff not json at all", "does not parse"),
    (b"[1, 2, 3]\n", "is not a gate zbmcp wrote"),
    (head()[:-1], "is not a gate zbmcp wrote"),  # no newline: torn
    (head() + b"\x00\x01\x02", "is not a gate zbmcp wrote"),  # a torn answer time
    (head(f=["ticket"]), "impossible leases"),
    (head(f={"t": 1e300}), "impossible leases"),  # would hold a slot for ever
    (head(f={"t": "soon"}), "impossible leases"),
    (head(h=1e300), "impossible hold"),  # would shut the organization for ever
    (head(h=None), "impossible hold"),
    (head(u=-40), "impossible day count"),
    (head(u=2.5), "impossible day count"),
    (head(u=True), "impossible day count"),
    (head(d=10**12), "impossible day count"),
    (head() + struct.pack("d", 1e300), "impossible answer times"),  # from the far future: never leaves
    (head() + struct.pack("d", float("nan")), "impossible answer times"),
    (head() + struct.pack("dd", NOW - 1, NOW - 2), "impossible answer times"),  # out of order
])
async def test_a_bad_gate_file_is_kept_aside_and_rebuilt(tmp_path: Path, caplog, content: bytes, why: str):
    state = LocalState(tmp_path / "state", clock=lambda: NOW)
    ticket = new_id()
    assert (await state.admit(GATES, ticket, lease=30)).admitted
    await state.finish(GATES, ticket, [GateUpdate()])
    (path,) = (tmp_path / "state" / "gates").iterdir()
    path.write_bytes(content)
    assert (await state.admit(GATES, new_id(), lease=30)).admitted  # no crash, no gate shut for ever
    assert await state.day_used(GATES[0].key) == 1  # the rebuilt gate counts from the call it just admitted
    (kept,) = (tmp_path / "state" / "corrupt").iterdir()
    assert kept.read_bytes() == content
    assert why in caplog.text and str(kept) in caplog.text
    await state.aclose()


async def test_a_deleted_gate_file_is_shared_again_not_kept_as_an_orphan(tmp_path: Path):
    first, second = LocalState(tmp_path / "state"), LocalState(tmp_path / "state")
    gates = [GateLimits(key="org:main:1", concurrency=1)]
    assert (await first.admit(gates, new_id(), lease=30)).admitted
    for path in (tmp_path / "state" / "gates").iterdir():
        path.unlink()  # a person cleaning up
    assert (await second.admit(gates, new_id(), lease=30)).admitted
    assert (await first.admit(gates, new_id(), lease=30)).reason == "busy"  # both use the new file
    await first.aclose()
    await second.aclose()
