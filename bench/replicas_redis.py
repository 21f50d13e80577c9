"""Issue #13: three zbmcp replicas on one Redis, ten agents on one organization, one replica killed mid-run.

    python bench/replicas_redis.py [--limit 100] [--window 10] [--duration 50] [--kill-at 0.5] [--write]

Processes, all on loopback: a redis-server (Debian's, a temporary folder); the Zoho Books sandbox (its own
process) enforcing --limit requests per --window seconds per organization (Zoho's 100 a minute, 6 times
faster) with access tokens that last --token-lifetime seconds and --latency seconds per API request; three
`zbmcp serve --transport http` replicas with `state: {backend: redis}`, each with its own ZBMCP_HOME (nothing
shared but Redis) and the connection's timeout at --timeout s (a place's lease is 2 x timeout + 5 s); and this
process, a load balancer and ten agents: each agent creates contacts (unique names) back to back, each call to
the next live replica in turn, over Streamable HTTP (2026-07-28 clients, sessionless).

At --kill-at of the run, Zoho (the sandbox) slows to 1.5 s a request for a moment, and once five requests are
in flight (of all replicas) the replica with the most calls pending gets SIGKILL. Its calls in flight are lost
to their agents (as a crash loses them; an agent must not blindly repeat a write whose outcome it does not
know), the balancer drops it, and the others carry on. Measured:
  * fraction_of_limit: agents' successful calls as a fraction of the organization's limit (the same steady
    measure as throughput_limits.py), over the whole run and before and after the kill (target >= 0.95 for
    the fleet's steady state, before the kill);
  * 429s: those the sandbox sent and those that reached an agent (target 0);
  * refreshes: every access token minted, and the gaps between them (target: one per token lifetime, however
    many replicas: the gaps are never shorter than a lifetime less zbmcp's leeway);
  * the dead replica's places: the tickets it held in the organization's Redis gate at the kill, and how long
    after the kill they were given back (target: within their lease);
  * sent twice: contact names the sandbox recorded more than once (target 0);
  * pacing_cost: one call's admission and finish against this Redis, measured in this process (target: median
    <= 1 ms on loopback), with Redis's own time per script, and the local State for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

import anyio
import httpx2

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO), str(BENCH)]

from common import SandboxProcess, load_average, machine, now_iso, summarize, write_results  # noqa: E402
from http_throughput import Child  # noqa: E402
from throughput_limits import steady_fraction, window_slack  # noqa: E402

from tests.redis_server import RedisServer  # noqa: E402

AGENTS = 10
REPLICAS = 3
THROUGHPUT_TARGET = 0.95
PACING_TARGET_MS = 1.0
PREFIX = "bench:"
SLOW_SECONDS = 1.5  # how slow Zoho is for the moment around the kill
IN_FLIGHT_AT_KILL = 5  # requests in flight (of all replicas) when the kill comes


def config(sandbox: Any, hashes: list[str], redis_url: str, key: str, args: argparse.Namespace,
           audit: Path) -> str:
    import yaml

    org = sandbox.organization_ids[0]
    return yaml.safe_dump({
        "connections": {"main": {
            "region": "eu", "client_id": sandbox.client_id, "client_secret": "${SANDBOX_CLIENT_SECRET}",
            "refresh_token": "${SANDBOX_REFRESH_TOKEN}", "api_base_url": sandbox.api_base_url,
            "accounts_url": sandbox.accounts_url, "timeout_seconds": args.timeout,
            # zbmcp's default 98 of Zoho's 100, over the short window; 10 in flight,
            # as Zoho's paid plans allow
            "limits": {"window_seconds": args.window, "concurrency": args.concurrency},
        }},
        "agents": {f"agent{i}": {"connection": "main", "organizations": [org], "tools": ["create_contact"],
                                 "api_keys": [digest]} for i, digest in enumerate(hashes)},
        "audit": {"path": str(audit)},
        "state": {"backend": "redis", "url": redis_url, "key_prefix": PREFIX, "encryption_key": key},
    }, sort_keys=False)


def drain(child: Child) -> deque[str]:
    """Keep reading a replica's stderr (its log) on a thread; the last lines are kept for the report."""
    kept: deque[str] = deque(maxlen=20)
    stream = child.proc.stderr
    assert stream is not None
    threading.Thread(target=lambda: kept.extend(stream), daemon=True, name="replica-log").start()
    return kept


class Balancer:
    """Sends each call to the next live replica, round robin; a killed replica leaves the pool at once."""

    def __init__(self, urls: list[str]) -> None:
        self.live = list(range(len(urls)))
        self.pending = [0] * len(urls)  # calls sent to each replica and not answered yet
        self._turn = 0

    def pick(self) -> int:
        self._turn += 1
        return self.live[self._turn % len(self.live)]


class Pending:
    def __init__(self, contact: str) -> None:
        self.contact = contact
        self.outcome = "lost:replica gone"
        self.done = anyio.Event()


class Line:
    """One agent's MCP client to one replica, kept open in a task of its own: a replica that dies takes down
    its lines, never the agent."""

    def __init__(self, url: str, http: httpx2.AsyncClient) -> None:
        self.url = url
        self.http = http
        self.send, self._receive = anyio.create_memory_object_stream[Pending](0)

    async def serve(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        current: Pending | None = None
        try:
            async with Client(streamable_http_client(self.url, http_client=self.http), mode="auto") as client:
                task_status.started()
                async with self._receive:
                    async for current in self._receive:
                        result = await client.call_tool("create_contact", {"contact_name": current.contact})
                        current.outcome = classify(result.is_error, result.structured_content)
                        current.done.set()
                        current = None
        except Exception as exc:  # noqa: BLE001 - the killed replica's lines end like this
            if current is not None:
                current.outcome = f"lost:{type(exc).__name__}"
        finally:
            self._receive.close()
            if current is not None:
                current.done.set()

    async def call(self, contact: str) -> str:
        pending = Pending(contact)
        try:
            await self.send.send(pending)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return pending.outcome
        with anyio.fail_after(120):
            await pending.done.wait()
        return pending.outcome


async def run_agents(urls: list[str], keys: list[str], balancer: Balancer, duration: float, kill: Any,
                     records: list[tuple[float, str, int, str, float]], started: list[float]) -> None:
    """records: (time the answer came, agent, replica, outcome, seconds the call took)."""
    ready = anyio.Event()
    connected = [0]

    async def agent(index: int, key: str) -> None:
        name = f"agent{index}"
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http, \
                anyio.create_task_group() as lines_group:
            lines = [Line(url, http) for url in urls]
            for line in lines:
                await lines_group.start(line.serve)
            for replica, line in enumerate(lines):  # warm: connections, and each replica's token
                await line.call(f"{name}-warm-{replica}")
            connected[0] += 1
            if connected[0] == len(keys):
                started.append(time.time())
                ready.set()
            await ready.wait()
            n = 0
            while time.time() < started[0] + duration:
                n += 1
                replica = balancer.pick()
                asked = time.perf_counter()
                balancer.pending[replica] += 1
                try:
                    outcome = await lines[replica].call(f"{name}-{n:05d}")
                finally:
                    balancer.pending[replica] -= 1
                records.append((time.time(), name, replica, outcome, time.perf_counter() - asked))
            for line in lines:
                line.send.close()

    async with anyio.create_task_group() as group:
        for index, key in enumerate(keys):
            group.start_soon(agent, index, key)
        group.start_soon(kill)


def classify(is_error: bool, structured: dict[str, Any] | None) -> str:
    """ok | zoho_429 | error:<type>: <the first words of its message>"""
    if not is_error:
        return "ok"
    detail = (structured or {}).get("error") or {}
    if detail.get("http_status") == 429:
        return "zoho_429"
    return f"error:{detail.get('type', '?')}: {str(detail.get('message', ''))[:120]}"


async def watch_dead_places(redis: Any, gate: str, lease: float, dead: dict[bytes, float], killed_at: float,
                            redis_clock_at_kill: float) -> dict[str, Any]:
    """When the places the dead replica held in flight came back: their leases' ends (Redis's clock), and when
    they left the gate (removed by the next admission after that)."""
    ends = max(dead.values(), default=redis_clock_at_kill) - redis_clock_at_kill
    with anyio.fail_after(lease + 15):
        while set(dead) & set(await redis.zrange(gate, 0, -1)):
            await anyio.sleep(0.05)
    left = time.time() - killed_at
    # From its lease's end a place is free: the next admission counts it out before deciding (and removes it,
    # which is when it leaves the gate: later if every waiter sleeps until the window's next free place).
    return {"tickets": len(dead), "leases_ended_after_s": round(ends, 2),
            "left_the_gate_after_s": round(left, 2), "lease_s": lease,
            "within_lease": bool(dead) and ends <= lease}


async def pacing_cost(redis_url: str, cycles: int) -> dict[str, Any]:
    """One call's pacing (admit, then finish) against Redis and against the local State, interleaved."""
    from redis.asyncio import Redis

    from zbmcp.state import new_id
    from zbmcp.state.gates import GateLimits, GateUpdate
    from zbmcp.state.local import LocalState
    from zbmcp.state.redis import RedisState

    async def cycle(state: Any, gate: GateLimits) -> tuple[float, float]:
        ticket = new_id()
        wall, cpu = time.perf_counter(), time.process_time()
        admitted = await state.admit([gate], ticket, lease=65.0)
        await state.finish([gate], ticket, [GateUpdate()])
        assert admitted.admitted
        return time.perf_counter() - wall, time.process_time() - cpu

    samples: dict[str, dict[str, list[float]]] = {"redis": {"wall": [], "cpu": []},
                                                  "local": {"wall": [], "cpu": []}}
    stats = Redis.from_url(redis_url)
    before = (await stats.info("commandstats")).get("cmdstat_evalsha", {})
    with tempfile.TemporaryDirectory() as tmp:
        states = {"redis": RedisState(redis_url, prefix="cost:"), "local": LocalState(Path(tmp))}
        for batch in range(cycles // 50):
            for name in (("redis", "local") if batch % 2 == 0 else ("local", "redis")):
                # A gate at a time of up to 98 answered requests, as an organization in a busy minute.
                gate = GateLimits(f"org:cost:{batch}", per_window=98, window=61.2, concurrency=5)
                for _ in range(50):
                    wall, cpu = await cycle(states[name], gate)
                    samples[name]["wall"].append(wall)
                    samples[name]["cpu"].append(cpu)
        for state in states.values():
            await state.aclose()
    after = (await stats.info("commandstats")).get("cmdstat_evalsha", {})
    await stats.aclose()
    redis_calls = after.get("calls", 0) - before.get("calls", 0)
    redis_usec = after.get("usec", 0) - before.get("usec", 0)
    result: dict[str, Any] = {}
    for name, measured in samples.items():
        result[name] = {"per_call_wall": summarize(measured["wall"]),
                        "per_call_cpu_ms_median": round(statistics.median(measured["cpu"]) * 1000, 3)}
    result["redis"]["redis_server_us_per_call"] = round(redis_usec / max(1, redis_calls) * 2, 1)
    result["target_median_ms"] = PACING_TARGET_MS
    result["met"] = result["redis"]["per_call_wall"]["median_ms"] <= PACING_TARGET_MS
    return result


def analyse(records: list[tuple[float, str, int, str, float]], t0: float, killed_at: float, duration: float,
            args: argparse.Namespace, stats: dict[str, Any]) -> dict[str, Any]:
    end = t0 + duration
    ok = [t for t, _, _, o, _ in records if o == "ok" and t0 <= t <= end]
    outcomes = Counter(o.split(": ", 1)[0] for _, _, _, o, _ in records)
    fraction = steady_fraction(ok, args.limit, args.window)
    before = steady_fraction([t for t in ok if t < killed_at], args.limit, args.window)
    after = steady_fraction([t for t in ok if t > killed_at], args.limit, args.window)
    refreshed = sorted(stats["refreshed_at"])
    gaps = [round(b - a, 2) for a, b in zip(refreshed, refreshed[1:])]
    leeway = min(300.0, args.token_lifetime * 0.1)
    per_agent = Counter(a for _, a, _, o, _ in records if o == "ok")
    return {
        "calls": len(records),
        "outcomes": dict(outcomes),
        "fraction_of_limit": fraction,
        "fraction_before_kill": before,
        "fraction_after_kill": after,
        "pacer_ceiling": round(0.98 / (1 + window_slack()), 3),
        "ok_per_agent_min_max": [min(per_agent.values(), default=0), max(per_agent.values(), default=0)],
        "ok_per_replica": dict(Counter(str(r) for _, _, r, o, _ in records if o == "ok")),
        "call_latency": summarize([d for _, _, _, o, d in records if o == "ok"]),
        "sandbox_429s": stats["statuses"].get("429", 0),
        "surfaced_429s": outcomes.get("zoho_429", 0),
        "refreshes": len(refreshed),
        "refresh_gaps_s": gaps,
        "min_gap_allowed_s": round(args.token_lifetime - leeway - 0.5, 2),
        "one_refresh_per_expiry": all(g >= args.token_lifetime - leeway - 0.5 for g in gaps),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--duration", type=float, default=50.0)
    parser.add_argument("--kill-at", type=float, default=0.5, help="fraction of the run (0: no kill)")
    parser.add_argument("--latency", type=float, default=0.01)
    parser.add_argument("--token-lifetime", type=float, default=15.0)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--cost-cycles", type=int, default=2000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    from redis.asyncio import Redis

    from zbmcp.core.credentials import new_api_key
    from zbmcp.state import new_id
    from zbmcp.zoho.limits import LEASE_MARGIN_SECONDS

    lease = 2 * args.timeout + LEASE_MARGIN_SECONDS
    load_at_start = load_average()
    records: list[tuple[float, str, int, str, float]] = []
    started: list[float] = []
    killed: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="zbmcp-bench-") as tmp_name:
        tmp = Path(tmp_name)
        redis = RedisServer(tmp / "redis")
        redis.start()
        replicas: list[Child] = []
        try:
            with SandboxProcess(requests_per_window=args.limit, window_seconds=args.window,
                                token_lifetime_seconds=args.token_lifetime,
                                daily_budget=100_000_000) as sandbox:
                assert sandbox.info is not None
                info = sandbox.info
                sandbox.command(f"latency {args.latency}")
                keys, hashes = zip(*(new_api_key() for _ in range(AGENTS)), strict=True)
                env = {"SANDBOX_CLIENT_SECRET": info.client_secret,
                       "SANDBOX_REFRESH_TOKEN": info.refresh_token}
                state_key = new_id() + new_id()
                urls = []
                for i in range(REPLICAS):
                    path = tmp / f"replica{i}.yaml"
                    path.write_text(config(info, list(hashes), redis.url, state_key, args,
                                           tmp / f"audit{i}.jsonl"))
                    child = Child([sys.executable, "-m", "zbmcp", "serve", "--config", str(path),
                                   "--transport", "http", "--port", "0"],
                                  {**env, "ZBMCP_HOME": str(tmp / f"home{i}")})
                    replicas.append(child)
                logs: list[deque[str]] = []
                for child in replicas:
                    urls.append(child.line("stderr", "serving MCP on").split("serving MCP on ")[1].split()[0]
                                + "/mcp")
                    logs.append(drain(child))  # an unread pipe that fills up stalls the replica writing to it
                balancer = Balancer(urls)
                gate = f"{PREFIX}g:org:main:{info.organization_ids[0]}:f"

                async def kill() -> None:
                    if not args.kill_at:
                        return
                    while not started:
                        await anyio.sleep(0.05)
                    await anyio.sleep(max(0.0, started[0] + args.duration * args.kill_at - time.time()))
                    client = Redis.from_url(redis.url)
                    # Zoho slows down for a moment, so that the replicas have requests in flight when one dies
                    # (the window may be full: they are sent as its places come free).
                    sandbox.command(f"latency {SLOW_SECONDS}")
                    with anyio.move_on_after(args.window + SLOW_SECONDS):
                        while await client.zcard(gate) < IN_FLIGHT_AT_KILL:
                            await anyio.sleep(0.01)
                    in_flight = dict(await client.zrange(gate, 0, -1, withscores=True))
                    seconds, micros = await client.time()
                    victim = max(balancer.live, key=lambda r: balancer.pending[r])  # the busiest dies
                    os.kill(replicas[victim].proc.pid, signal.SIGKILL)
                    killed["at"] = time.time()
                    killed["replica"] = victim
                    balancer.live.remove(victim)
                    sandbox.command(f"latency {args.latency}")
                    # the live replicas' slow requests are answered by now
                    await anyio.sleep(SLOW_SECONDS + 1)
                    still = set(await client.zrange(gate, 0, -1))
                    dead = {ticket: end for ticket, end in in_flight.items() if ticket in still}
                    killed["in_flight_at_kill"] = len(in_flight)
                    killed["places"] = await watch_dead_places(client, gate, lease, dead, killed["at"],
                                                               seconds + micros / 1e6)
                    await client.aclose()

                anyio.run(run_agents, urls, list(keys), balancer, args.duration, kill, records, started)
                memory = anyio.run(gate_memory, redis.url, gate.removesuffix(":f"))
                stats = sandbox.stats()
                duplicates = sandbox.command("duplicates")
        finally:
            for child in replicas:
                child.stop()
            redis.stop()
        cost = anyio.run(pacing_cost_in_fresh_redis, tmp / "redis-cost", args.cost_cycles)

    result = analyse(records, started[0], killed.get("at", float("inf")), args.duration, args, stats)
    lost = sum(n for o, n in result["outcomes"].items() if o.startswith("lost:"))
    twice = {org: d["duplicates"] for org, d in duplicates.items() if d["duplicates"]}
    result.update({
        "killed_replica": killed,
        "calls_lost_in_the_kill": lost,
        "contacts_recorded": sum(d["contacts"] for d in duplicates.values()),
        "sent_twice": twice,
        "redis_bytes_per_busy_organization": memory,
        "failures": [(round(t - started[0], 2), a, r, o) for t, a, r, o, _ in records if o != "ok"][:50],
        "replica_log_tails": [list(lines) for lines in logs],
        "pacing_cost": cost,
    })
    places = killed.get("places", {})
    result["met"] = {
        # The fleet's steady rate, three replicas up; after the kill the dead replica's places are (rightly)
        # counted until their leases end and a window after, which the kill's own row shows.
        "throughput": (result["fraction_before_kill"] or 0) >= THROUGHPUT_TARGET,
        "no_429_reached_an_agent": result["surfaced_429s"] == 0,
        "one_refresh_per_expiry": result["one_refresh_per_expiry"],
        "dead_places_back_within_lease": bool(places.get("within_lease")) if args.kill_at else None,
        "nothing_sent_twice": not twice,
        "pacing_cost": cost["met"],
    }
    output = {
        "benchmark": "replicas_redis",
        "when": now_iso(),
        "machine": machine(),
        "load_average_at_start": load_at_start,
        "load_average_at_end": load_average(),
        "settings": {"replicas": REPLICAS, "agents": AGENTS, "limit": args.limit,
                     "window_seconds": args.window, "zbmcp_requests_per_window": 98,
                     "duration_seconds": args.duration, "kill_at": args.kill_at,
                     "sandbox_latency_seconds": args.latency, "zbmcp_concurrency": args.concurrency,
                     "token_lifetime_seconds": args.token_lifetime, "timeout_seconds": args.timeout,
                     "lease_seconds": lease, "state": "redis (one redis-server, loopback)"},
        "result": result,
    }
    print(json.dumps(output, indent=2))
    if args.write:
        write_results("replicas_redis", output)
    return 0 if all(v is not False for v in result["met"].values()) else 1


async def gate_memory(url: str, gate: str) -> int:
    """What a busy organization costs Redis: its gate's keys, a full window in them (MEMORY USAGE)."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        return sum([await client.memory_usage(f"{gate}:{part}") or 0 for part in ("f", "a", "m")])
    finally:
        await client.aclose()


async def pacing_cost_in_fresh_redis(directory: Path, cycles: int) -> dict[str, Any]:
    """On a Redis of its own, after the run: nothing else competes with it."""
    redis = RedisServer(directory)
    redis.start()
    try:
        return await pacing_cost(redis.url, cycles)
    finally:
        redis.stop()


if __name__ == "__main__":
    sys.exit(main())
