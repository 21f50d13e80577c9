"""Issue #3: zbmcp's start-up and per-call cost over stdio, against a minimal server on the same SDK.

    python bench/startup_latency.py [--runs 15] [--calls 200] [--write]
    python bench/startup_latency.py --listing-only [--write]   # just tools/list (a few seconds); --write
                                                                # replaces only that part of the results
    python bench/startup_latency.py --catalog-only [--runs 15] [--write]   # the generated catalog's cost

Everything runs against a loopback sandbox (a SandboxServer on 127.0.0.1 in its own process) and is measured
with raw newline-delimited JSON-RPC over the servers' pipes (one write, one blocking readline; no client
library in the timed path), the same way for both servers, runs interleaved (ABBA) to cancel drift:

  cold start    spawn -> initialize answered -> tools/list answered (wall time, median over --runs), vs
                bench/minimal_server.py doing the same, for `zbmcp serve --config ... --agent five_tools` (an
                agent of 5 tools) and for `zbmcp serve --sandbox`, both serving the whole catalog (issue #27)
  tool call     tools/call list_invoices, median over --calls after a warm-up, both servers alive, calls
                alternating between them; both do one GET /invoices to the sandbox per call (zbmcp for one
                organization, the minimal server for the other, which holds the same 4 invoices: so neither
                server's calls show up in the other's rate-limit headers). zbmcp keeps its default
                requests_per_minute (98) but over a window of 0.3 s instead of 60: no call waits for a slot,
                and its shared window file holds about as many entries as a busy minute leaves. Also zbmcp's
                get_invoice, and create_contact (a write: its audit records synced to disk first), on their
                own; and each server's peak RSS
  tools/list    bytes of the tools/list result as sent (the JSON-RPC line, and the result object in it) for
                every tool, for an agent with one organization and one with two, and for an agent with two
                organizations and only the 33 tools zbmcp had before issue #15;
                zbmcp.calls.tool_list.listing_size
  breakdown     where zbmcp's start-up goes beyond the SDK: imports only zbmcp needs (-X importtime, modules
                the minimal server does not import) and each start-up step timed in a fresh process; and the
                per-call cost of the request window shared between processes (zbmcp.state.local)

  catalog       (--catalog-only; issue #23) zbmcp's cold start loading only the hand-written tools
                (zbmcp.calls.catalog.load_manifests replaced in the process) against loading the whole
                catalog (hand-written and generated, as zbmcp does), interleaved, for an agent listing the
                original 33 tools (what loading the catalog costs) and for one granted everything with
                `catalog: whole` (what listing ~500 tools costs, which the meta tools of issue #23 bound);
                and loading each in a fresh process

Targets (issue #27): cold start <= 1.05x the minimal server, both ways; peak RSS <= 1.1x; a read tool call
<= 1.1x. Issue #15: tools/list with every tool at most 560 bytes a tool on average, and under 20,000 bytes for
the original 33 tools, both with two organizations.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    REPO,
    RESULTS_FILE,
    SandboxInfo,
    SandboxProcess,
    StdioServer,
    load_average,
    machine,
    now_iso,
    summarize,
    write_config,
    write_results,
)

COLD_START_TARGET = 1.05
RSS_TARGET = 1.1
CALL_TARGET = 1.1  # a read tool's call
FIVE_TOOLS = ["list_invoices", "get_invoice", "create_invoice", "list_contacts", "create_contact"]
LISTING_TARGET_BYTES = 20_000  # the original 33 tools, two organizations
LISTING_TARGET_BYTES_PER_TOOL = 560  # every tool, on average
# The tools zbmcp offered before issue #15 added reports, vendor payments, a get_* per module and void/draft.
ORIGINAL_TOOLS = (
    "list_invoices", "get_invoice", "create_invoice", "update_invoice", "delete_invoice", "mark_invoice_sent",
    "email_invoice", "list_contacts", "get_contact", "create_contact", "update_contact", "delete_contact",
    "list_estimates", "create_estimate", "email_estimate", "create_sales_order", "list_sales_orders",
    "create_bill", "list_bills", "create_purchase_order", "list_purchase_orders", "create_expense",
    "list_expenses", "create_customer_payment", "list_customer_payments", "delete_customer_payment",
    "create_item", "list_items", "list_bank_accounts", "create_bank_account", "list_chart_of_accounts",
    "create_chart_of_account", "list_organizations",
)
# A latency benchmark must not measure waits for Zoho's per-minute limit (bench/throughput_limits.py does):
# the default number of requests, over a window short enough never to make a call wait.
LATENCY_WINDOW_SECONDS = 0.3
MINIMAL = Path(__file__).resolve().parent / "minimal_server.py"


def zbmcp_command() -> list[str]:
    """`zbmcp serve` as installed in the venv (the console script), else `python -m zbmcp`."""
    script = Path(sys.executable).parent / "zbmcp"
    if script.exists():
        return [str(script)]
    found = shutil.which("zbmcp")
    return [found] if found else [sys.executable, "-m", "zbmcp"]


class Servers:
    """The two commands under test, with their environments."""

    def __init__(self, info: SandboxInfo, workdir: Path) -> None:
        orgs = info.organization_ids
        self.info = info
        self.config, self.env = write_config(workdir, info, {
            "one_org": {"organizations": orgs[:1], "tools": ["*:*"], "catalog": "whole"},
            "two_orgs": {"organizations": orgs[:2], "tools": ["*:*"], "catalog": "whole"},
            "original_two_orgs": {"organizations": orgs[:2], "tools": list(ORIGINAL_TOOLS)},
            "five_tools": {"organizations": orgs[:1], "tools": FIVE_TOOLS},
        }, limits={"window_seconds": LATENCY_WINDOW_SECONDS})
        self.minimal_env = {"MINIMAL_ACCESS_TOKEN": info.access_token}

    def zbmcp(self, agent: str = "one_org") -> tuple[list[str], dict[str, str]]:
        return [*zbmcp_command(), "serve", "--config", str(self.config), "--agent", agent], self.env

    def whole_catalog(self, *args: str) -> tuple[list[str], dict[str, str]]:
        """`zbmcp ARGS`, which loads the whole catalog (issue #23)."""
        return [*zbmcp_command(), *args], self.env

    def minimal(self) -> tuple[list[str], dict[str, str]]:
        argv = [sys.executable, str(MINIMAL), "--api-base", self.info.api_base_url,
                "--organization", self.info.organization_ids[1]]
        return argv, self.minimal_env


def cold_start(argv: list[str], env: dict[str, str]) -> tuple[float, float, dict[str, Any], int]:
    """Seconds from spawn to initialize answered and to tools/list answered; the listing
    and its line's bytes."""
    server = StdioServer(argv, env)
    started = time.perf_counter()
    server.start()
    try:
        server.initialize()
        initialized = time.perf_counter() - started
        listing = server.request("tools/list")
        listed = time.perf_counter() - started
        return initialized, listed, listing, server.last_response_bytes
    finally:
        server.stop()


def measure_cold_start(servers: Servers, runs: int) -> dict[str, Any]:
    """zbmcp with a config (an agent of 5 tools) and on the embedded sandbox, each serving the whole
    catalog, against the minimal server; the three in turn, each run starting with the next (drift spreads
    over all three)."""
    commands = {
        "zbmcp": servers.whole_catalog("serve", "--config", str(servers.config), "--agent", "five_tools"),
        "zbmcp_sandbox": servers.whole_catalog("serve", "--sandbox"),
        "minimal": servers.minimal(),
    }
    for command in commands.values():
        cold_start(*command)  # untimed: compile .pyc files, warm the page cache
    samples: dict[str, dict[str, list[float]]] = {k: {"initialize": [], "tools_list": []} for k in commands}
    names = list(commands)
    for run in range(runs):
        for name in names[run % 3:] + names[:run % 3]:
            initialized, listed, _, _ = cold_start(*commands[name])
            samples[name]["initialize"].append(initialized)
            samples[name]["tools_list"].append(listed)
    result: dict[str, Any] = {name: {phase: summarize(values) for phase, values in phases.items()}
                              for name, phases in samples.items()}
    minimal = result["minimal"]["tools_list"]["median_ms"]
    for name, key in (("zbmcp", ""), ("zbmcp_sandbox", "sandbox_")):
        result[f"{key}ratio"] = round(result[name]["tools_list"]["median_ms"] / minimal, 3)
        # The ratio of paired runs (each zbmcp run over the minimal run of its turn) drifts less.
        paired = sorted(z / m for z, m in zip(samples[name]["tools_list"], samples["minimal"]["tools_list"]))
        result[f"{key}paired_ratio_median"] = round(
            paired[len(paired) // 2] if len(paired) % 2 else
            (paired[len(paired) // 2 - 1] + paired[len(paired) // 2]) / 2, 3)
    result["agent_tools"] = FIVE_TOOLS
    result["target"] = COLD_START_TARGET
    result["met"] = max(result["ratio"], result["sandbox_ratio"]) <= COLD_START_TARGET
    return result


def measure_calls(servers: Servers, calls: int, warmup: int) -> dict[str, Any]:
    zb_argv, zb_env = servers.zbmcp()
    mn_argv, mn_env = servers.minimal()
    list_call = {"name": "list_invoices", "arguments": {}}
    samples: dict[str, list[float]] = {"zbmcp": [], "minimal": [], "zbmcp_get_invoice": [],
                                       "zbmcp_create_contact": []}
    sizes: dict[str, int] = {}
    errors = {"zbmcp": 0, "minimal": 0}
    with contextlib.ExitStack() as stack:
        zb = stack.enter_context(StdioServer(zb_argv, zb_env))
        mn = stack.enter_context(StdioServer(mn_argv, mn_env))
        zb.initialize()
        mn.initialize()
        first = zb.request("tools/call", list_call)  # zbmcp's first call also refreshes its access token
        invoice_id = first["structuredContent"]["invoices"][0]["invoice_id"]
        get_call = {"name": "get_invoice", "arguments": {"invoice_id": invoice_id}}
        for _ in range(warmup):
            zb.request("tools/call", list_call)
            mn.request("tools/call", list_call)
        for i in range(calls):  # both alive, alternating which goes first
            pair = [("zbmcp", zb), ("minimal", mn)] if i % 2 == 0 else [("minimal", mn), ("zbmcp", zb)]
            for name, server in pair:
                started = time.perf_counter()
                answer = server.request("tools/call", list_call)
                samples[name].append(time.perf_counter() - started)
                sizes[name] = server.last_response_bytes
                errors[name] = errors.get(name, 0) + bool(answer.get("isError"))
        for _ in range(warmup):
            zb.request("tools/call", get_call)
        for _ in range(calls):
            started = time.perf_counter()
            answer = zb.request("tools/call", get_call)
            samples["zbmcp_get_invoice"].append(time.perf_counter() - started)
            errors["zbmcp"] += bool(answer.get("isError"))
        for i in range(warmup + calls):  # each its own contact: the same arguments again would be a repeat
            create_call = {"name": "create_contact", "arguments": {"contact_name": f"Bench Contact {i}"}}
            started = time.perf_counter()
            answer = zb.request("tools/call", create_call)
            if i >= warmup:
                samples["zbmcp_create_contact"].append(time.perf_counter() - started)
                errors["zbmcp"] += bool(answer.get("isError"))
        rss = {"zbmcp": _peak_rss_mib(zb), "minimal": _peak_rss_mib(mn)}
    result: dict[str, Any] = {"tool": "list_invoices", "calls": calls, "warmup": warmup,
                              "zbmcp": summarize(samples["zbmcp"]), "minimal": summarize(samples["minimal"])}
    result["ratio"] = round(result["zbmcp"]["median_ms"] / result["minimal"]["median_ms"], 3)
    result["overhead_ms"] = round(result["zbmcp"]["median_ms"] - result["minimal"]["median_ms"], 3)
    result["response_bytes"] = sizes
    result["target"] = CALL_TARGET
    result["met"] = result["ratio"] <= CALL_TARGET
    result["zbmcp_get_invoice"] = summarize(samples["zbmcp_get_invoice"])
    result["zbmcp_create_contact"] = {**summarize(samples["zbmcp_create_contact"]), "audit_sync": "writes"}
    result["errors"] = errors
    result["peak_rss_mib"] = rss
    if rss["zbmcp"] and rss["minimal"]:
        result["rss_ratio"] = round(rss["zbmcp"] / rss["minimal"], 3)
        result["rss_target"] = RSS_TARGET
        result["rss_met"] = result["rss_ratio"] <= RSS_TARGET
    return result


def _peak_rss_mib(server: StdioServer) -> float | None:
    assert server.proc is not None
    try:
        for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


_HAND_ONLY = ("import sys; import zbmcp.calls.catalog as catalog; "
              "catalog.load_manifests = catalog.load_hand_manifests; "
              "from zbmcp.cli import main; sys.exit(main())")
_LOADING = r"""
import json, sys, time
started = time.perf_counter()
from zbmcp.calls import catalog
imported = time.perf_counter()
specs = getattr(catalog, sys.argv[1])()
loaded = time.perf_counter()
print(json.dumps({"tools": len(specs), "ms": (loaded - imported) * 1000}))
"""


def measure_catalog(servers: Servers, runs: int) -> dict[str, Any]:
    """Cold starts serving the hand-written tools against the whole catalog, and the catalog's loading."""
    result: dict[str, Any] = {}
    for agent in ("original_two_orgs", "two_orgs"):
        argv, env = servers.zbmcp(agent)
        hand = [sys.executable, "-c", _HAND_ONLY, *argv[1:]]
        commands = {"hand_written": hand, "whole_catalog": argv}
        for command in commands.values():
            cold_start(command, env)  # untimed: compile .pyc files, warm the page cache
        samples: dict[str, list[float]] = {name: [] for name in commands}
        listed: dict[str, int] = {}
        for run in range(runs):
            order = list(commands) if run % 4 in (0, 3) else list(reversed(commands))  # ABBA
            for name in order:
                _, took, listing, _ = cold_start(commands[name], env)
                samples[name].append(took)
                listed[name] = len(listing["tools"])
        result[agent] = {name: {**summarize(values), "tools_listed": listed[name]}
                         for name, values in samples.items()}
        result[agent]["ratio"] = round(result[agent]["whole_catalog"]["median_ms"]
                                       / result[agent]["hand_written"]["median_ms"], 3)
    loading: dict[str, Any] = {}
    for function in ("load_hand_manifests", "load_catalog"):
        times, tools = [], 0
        for _ in range(max(5, runs // 3)):
            done = subprocess.run([sys.executable, "-c", _LOADING, function], capture_output=True, text=True,
                                  cwd=REPO, check=True)
            measured = json.loads(done.stdout)
            times.append(measured["ms"])
            tools = measured["tools"]
        loading[function] = {"tools": tools, "median_ms": round(sorted(times)[len(times) // 2], 1)}
    result["loading_in_a_fresh_process"] = loading
    return result


def measure_listing(servers: Servers) -> dict[str, Any]:
    from zbmcp.calls.catalog import load_manifests
    from zbmcp.calls.tool_list import listing_size

    every = load_manifests()
    result: dict[str, Any] = {"tools": len(every), "target_bytes": LISTING_TARGET_BYTES,
                              "target_bytes_per_tool": LISTING_TARGET_BYTES_PER_TOOL}
    orgs_of = {"one_org": 1, "two_orgs": 2, "original_two_orgs": 2}
    for agent, count in orgs_of.items():
        orgs = servers.info.organization_ids[:count]
        specs = [every[name] for name in ORIGINAL_TOOLS] if agent.startswith("original") \
            else list(every.values())
        _, _, listing, line_bytes = cold_start(*servers.zbmcp(agent))
        tools = listing["tools"]
        result_bytes = len(json.dumps(listing, separators=(",", ":"), ensure_ascii=False).encode())
        result[agent] = {
            "organizations": len(orgs),
            "tools_listed": len(tools),
            "wire_line_bytes": line_bytes,  # the whole JSON-RPC response line, as read from the pipe
            "result_bytes": result_bytes,  # the result object in it
            # zbmcp.calls.tool_list.listing_size (the in-process figure)
            "listing_size_bytes": listing_size(specs, orgs),
            "bytes_per_tool": round(result_bytes / max(1, len(tools))),
            "largest_tools": sorted(
                ((t["name"], len(json.dumps(t, separators=(",", ":"), ensure_ascii=False).encode()))
                 for t in tools),
                key=lambda pair: -pair[1])[:3],
            "met": (line_bytes < LISTING_TARGET_BYTES if agent.startswith("original")
                    else line_bytes / max(1, len(tools)) <= LISTING_TARGET_BYTES_PER_TOOL),
        }
    result["met"] = all(result[agent]["met"] for agent in orgs_of)
    return result


# -- where the start-up time goes ------------------------------------------------------------------------

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def _importtime(argv: list[str], env: dict[str, str]) -> dict[str, tuple[int, int]]:
    """module -> (self us, cumulative us) for one cold start under -X importtime."""
    command = [sys.executable, "-X", "importtime", *(argv[1:] if argv[0] == sys.executable else argv)]
    with tempfile.TemporaryFile() as err, StdioServer(command, env, stderr=err) as server:
        server.initialize()
        server.request("tools/list")
        server.stop()
        err.seek(0)
        text = err.read().decode()
    modules = {}
    for line in text.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            modules[match.group(4)] = (int(match.group(1)), int(match.group(2)))
    return modules


# Each start-up step of `zbmcp serve`, timed in a fresh process, through zbmcp's public pieces. The time spent
# creating httpx2.AsyncClient (SSL context, CA bundle: the minimal server creates one too) inside open_runtime
# is clocked by wrapping its __init__, and shown on its own line.
_STEPS = r"""
import json, os, sys, time
t = [time.perf_counter()]
import anyio, httpx2, mcp                                        # the SDK: the minimal server needs it too
from mcp.server.stdio import stdio_server
t.append(time.perf_counter())
from zbmcp.cli import main                                       # what `zbmcp serve` imports before work
from zbmcp.cli.serving import serve_config
from zbmcp.calls.runtime import open_runtime
from zbmcp.calls.server import ZbmcpServer
t.append(time.perf_counter())
from pathlib import Path
from zbmcp.cli.config_file import load_config
loaded = load_config(Path(sys.argv[1]), dict(os.environ))
t.append(time.perf_counter())
from zbmcp.calls.catalog import load_manifests
specs = load_manifests()
t.append(time.perf_counter())
client_init = [0.0]
original_init = httpx2.AsyncClient.__init__
def timed_init(self, *args, **kwargs):
    started = time.perf_counter()
    original_init(self, *args, **kwargs)
    client_init[0] += time.perf_counter() - started
httpx2.AsyncClient.__init__ = timed_init
async def nothing():
    pass
anyio.run(nothing)                                               # the first event loop costs ~7 ms, once
t.append(time.perf_counter())
async def run():
    async with open_runtime(loaded, specs=specs) as runtime:
        t.append(time.perf_counter())
        server = ZbmcpServer(runtime, agent=sys.argv[2])
        t.append(time.perf_counter())
        listing = server.listing(runtime.policies[sys.argv[2]])
        mcp.types.ListToolsResult(tools=list(listing.tools)).model_dump_json(by_alias=True, exclude_none=True)
        t.append(time.perf_counter())
anyio.run(run)
names = ["import SDK: mcp, httpx2, anyio (shared)", "import zbmcp modules", "load_config",
         "load_manifests (every tool manifest)", "first event loop (shared)",
         "open_runtime without httpx2.AsyncClient()",
         "ZbmcpServer()", "first tools/list (build + serialize)"]
steps = {n: (b - a) * 1000 for n, a, b in zip(names, t, t[1:])}
steps["open_runtime without httpx2.AsyncClient()"] -= client_init[0] * 1000
steps["httpx2.AsyncClient() (shared)"] = client_init[0] * 1000
print(json.dumps(steps))
"""


def shared_window_cost(entries: int, cycles: int = 300) -> float | None:
    """Milliseconds one call spends pacing in the local State (zbmcp.state.local: the organization's gate, a
    flock'd read-modify-write of a small file when the call is admitted and again when it is answered), with
    `entries` requests already in the window. None where there is no local State (no fcntl)."""
    try:
        import anyio

        from zbmcp.state import new_id
        from zbmcp.state.gates import GateLimits, GateUpdate
        from zbmcp.state.local import LocalState
    except ImportError:
        return None
    window = 60.0
    now = [1_000_000.0]
    gates = [GateLimits("org:main:1", per_window=entries + 1, window=window, concurrency=5)]

    async def cycle(state: LocalState) -> None:
        ticket = new_id()
        assert (await state.admit(gates, ticket, lease=65)).admitted
        await state.finish(gates, ticket, [GateUpdate()])
        now[0] += window * 1.02 / entries  # the window stays at `entries` answered requests

    async def measure() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            state = LocalState(Path(tmp), clock=lambda: now[0])
            for _ in range(entries):
                await cycle(state)
            started = time.perf_counter()
            for _ in range(cycles):
                await cycle(state)
            elapsed = time.perf_counter() - started
            await state.aclose()
        return round(elapsed / cycles * 1000, 3)

    return anyio.run(measure)


def measure_breakdown(servers: Servers, repeats: int = 5) -> dict[str, Any]:
    zb_argv, zb_env = servers.zbmcp()
    mn_argv, mn_env = servers.minimal()
    zb_modules = _importtime(zb_argv, zb_env)
    mn_modules = _importtime(mn_argv, mn_env)
    extra = {name: times for name, times in zb_modules.items() if name not in mn_modules}
    top = sorted(extra.items(), key=lambda kv: -kv[1][0])[:12]
    steps: dict[str, list[Any]] = {}
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", _STEPS, str(servers.config), "one_org"],
                              capture_output=True, text=True, env={**os.environ, **zb_env}, cwd=REPO,
                              check=False)
        if done.returncode != 0:  # zbmcp's internals moved: say so rather than lose the other results
            steps = {"error": [done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"]}
            break
        for name, ms in json.loads(done.stdout.strip().splitlines()[-1]).items():
            steps.setdefault(name, []).append(ms)
    step_medians: dict[str, Any] = {name: v[0] if name == "error" else round(sorted(v)[len(v) // 2], 1)
                                    for name, v in steps.items()}
    return {
        "imports_only_zbmcp_needs": {
            "modules": len(extra),
            "self_ms_total": round(sum(s for s, _ in extra.values()) / 1000, 1),
            "top_self_ms": [[name, round(s / 1000, 1)] for name, (s, _) in top],
            "note": "-X importtime inflates import times; compare the totals, not with the wall clock",
        },
        "steps_median_ms": step_medians,
        "zbmcp_own_work_ms": None if "error" in step_medians else
        round(sum(v for k, v in step_medians.items() if "(shared)" not in k), 1),
        "per_call_shared_window_ms": {"10 requests in the window": shared_window_cost(10),
                                      "98 requests in the window (a busy minute)": shared_window_cost(98)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="zbmcp cold start, tool-call latency and "
                                                 "tools/list size vs a minimal server on the same "
                                                 "SDK (issue #3).")
    parser.add_argument("--runs", type=int, default=15,
                        help="cold starts per server (default 15, at least 10)")
    parser.add_argument("--calls", type=int, default=200, help="measured tool calls per server (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured calls first (default 20)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the start-up breakdown")
    parser.add_argument("--write", action="store_true", help="store the results in bench/results.json")
    parser.add_argument("--listing-only", action="store_true",
                        help="measure only tools/list (sizes do not depend on the machine's load)")
    parser.add_argument("--catalog-only", action="store_true",
                        help="measure only the cold start with the whole generated catalog against today's")
    args = parser.parse_args()
    if args.listing_only:
        return listing_only(args.write)
    if args.catalog_only:
        return catalog_only(args.runs, args.write)

    started = time.perf_counter()
    with SandboxProcess() as sandbox, tempfile.TemporaryDirectory(prefix="zbmcp-bench-") as tmp:
        assert sandbox.info is not None
        servers = Servers(sandbox.info, Path(tmp))
        results: dict[str, Any] = {
            "benchmark": "startup_latency",
            "when": now_iso(),
            "machine": machine(),
            "load_average_at_start": load_average(),
            "settings": {"runs": args.runs, "calls": args.calls, "warmup": args.warmup,
                         "zbmcp_command": " ".join(Path(a).name if i == 0 else a
                                                   for i, a in enumerate(zbmcp_command())) + " serve",
                         "sandbox": "SandboxServer on 127.0.0.1 in its own process",
                         "zbmcp_limits": {"window_seconds": LATENCY_WINDOW_SECONDS}},
            "cold_start": measure_cold_start(servers, args.runs),
            "tool_call": measure_calls(servers, args.calls, args.warmup),
            "tools_list": measure_listing(servers),
        }
        if not args.no_breakdown:
            results["startup_breakdown"] = measure_breakdown(servers)
        results["sandbox_requests"] = sandbox.stats()["statuses"]
    results["load_average_at_end"] = load_average()
    results["duration_s"] = round(time.perf_counter() - started, 1)
    results["targets_met"] = targets_met(results)
    print(json.dumps(results, indent=2))
    if args.write:
        write_results("startup_latency", results)
    return 0


def targets_met(results: dict[str, Any]) -> bool:
    call = results["tool_call"]
    return bool(results["cold_start"]["met"] and call.get("met") and call.get("rss_met")
                and results["tools_list"]["met"])


def catalog_only(runs: int, write: bool) -> int:
    """Measure the generated catalog's start-up cost alone; with write, store it under the startup_latency
    results' `catalog`, noting when, at which commit and under what load."""
    with SandboxProcess() as sandbox, tempfile.TemporaryDirectory(prefix="zbmcp-bench-") as tmp:
        assert sandbox.info is not None
        before = load_average()
        catalog = measure_catalog(Servers(sandbox.info, Path(tmp)), runs)
    catalog["measured"] = {"when": now_iso(), "commit": machine()["commit"], "runs": runs,
                           "uncommitted": machine()["uncommitted"], "load_average": [before, load_average()]}
    print(json.dumps(catalog, indent=2))
    if write:
        stored = json.loads(RESULTS_FILE.read_text()).get("startup_latency") if RESULTS_FILE.exists() \
            else None
        if stored is None:
            sys.exit("no stored startup_latency results to update; run the whole benchmark with --write")
        stored["catalog"] = catalog
        write_results("startup_latency", stored)
    return 0


def listing_only(write: bool) -> int:
    """Measure tools/list alone; with write, replace only it in the stored startup_latency results, noting
    when and at which commit, so the timings measured on an idle machine stay as they were."""
    with SandboxProcess() as sandbox, tempfile.TemporaryDirectory(prefix="zbmcp-bench-") as tmp:
        assert sandbox.info is not None
        listing = measure_listing(Servers(sandbox.info, Path(tmp)))
    listing["measured"] = {"when": now_iso(), "commit": machine()["commit"],
                           "uncommitted": machine()["uncommitted"]}
    print(json.dumps(listing, indent=2))
    if write:
        stored = json.loads(RESULTS_FILE.read_text()).get("startup_latency") if RESULTS_FILE.exists() \
            else None
        if stored is None:
            sys.exit("no stored startup_latency results to update; run the whole benchmark with --write")
        stored["tools_list"] = listing
        stored["targets_met"] = targets_met(stored)
        write_results("startup_latency", stored)
    return 0 if listing["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
