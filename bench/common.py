"""Shared pieces of the benchmarks: a loopback sandbox in its own process, config files pointing at it, a raw
JSON-RPC driver for stdio servers, statistics, machine facts and bench/results.json.

The sandbox runs in a child process (a SandboxServer on 127.0.0.1) so that its request handling never competes
for the GIL with the process that measures. The child is driven over its stdin, one command a line:

    python bench/common.py sandbox '{"requests_per_window": 100, "window_seconds": 2}'
        -> prints one JSON line: urls, credentials, a fresh full-access access token
    stats -> one JSON line: status counts of the /books/v3 requests seen since the last reset, the times of
             the admitted ones, access tokens minted since the last reset (and when each refresh happened)
    reset -> forget the recorded requests
    latency SECONDS -> every /books/v3 request takes this long from now on (Zoho's take hundreds of ms);
                       replaces any fault set before
    duplicates -> one JSON line: contact names recorded more than once, per organization, and the
                  contact count
    EOF   -> stop

    python bench/common.py table   -> the "Latest results" table of bench/README.md, from bench/results.json
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_FILE = BENCH_DIR / "results.json"
PROTOCOL_VERSION = "2025-11-25"  # the initialize handshake every stdio client performs today


# -- the sandbox, in a child process ---------------------------------------------------------------------


@dataclass
class SandboxInfo:
    base_url: str
    api_base_url: str
    accounts_url: str
    client_id: str
    client_secret: str
    refresh_token: str
    organization_ids: list[str]
    access_token: str


class SandboxProcess:
    """A loopback sandbox (zbmcp.sandbox.server.SandboxServer) in its own Python process."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self.proc: subprocess.Popen[str] | None = None
        self.info: SandboxInfo | None = None

    def __enter__(self) -> Self:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "sandbox", json.dumps(self.settings)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, cwd=REPO,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process did not start")
        self.info = SandboxInfo(**json.loads(line))
        return self

    def _command(self, command: str) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stats(self) -> dict[str, Any]:
        return self._command("stats")

    def reset(self) -> None:
        self._command("reset")

    def command(self, command: str) -> dict[str, Any]:
        return self._command(command)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


def _sandbox_main(settings_json: str) -> None:
    from zbmcp.sandbox import Sandbox, SandboxSettings
    from zbmcp.sandbox.server import SandboxServer

    settings = json.loads(settings_json)
    bulk_invoices = settings.pop("bulk_invoices", 0)  # a seed option, not a setting
    sandbox = Sandbox(SandboxSettings(**settings), bulk_invoices=bulk_invoices)
    creds = sandbox.credentials
    with SandboxServer(sandbox) as server:
        info = {
            "base_url": server.base_url,
            "api_base_url": server.api_base_url,
            "accounts_url": server.accounts_url,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "refresh_token": creds.refresh_token,
            "organization_ids": list(creds.organization_ids),
            "access_token": sandbox.mint_access_token([creds.scope]),
        }
        print(json.dumps(info), flush=True)
        tokens_before = 0
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                seen = list(sandbox.api_requests)
                statuses = Counter(str(r.status) for r in seen)
                codes = Counter(str(r.code) for r in seen if r.status == 429)
                answer = {"requests": len(seen), "statuses": dict(statuses), "limit_codes": dict(codes),
                          "admitted_at": [r.at for r in seen if r.status is not None and r.status < 400],
                          "tokens_minted": sum(1 for t in sandbox.token_requests[tokens_before:]
                                               if t.outcome == "ok"),
                          "refreshed_at": [t.at for t in sandbox.token_requests[tokens_before:]
                                           if t.outcome == "ok" and t.grant_type == "refresh_token"]}
            elif command.startswith("latency "):
                from zbmcp.sandbox import Fault

                sandbox.faults.clear()
                sandbox.faults.add(Fault(kind="latency", delay_seconds=float(command.split()[1])))
                answer = {"ok": True}
            elif command == "duplicates":
                answer = {}
                for org in creds.organization_ids:
                    names = Counter(c["contact_name"] for c in sandbox.store(org).contacts.values())
                    answer[org] = {"contacts": sum(names.values()),
                                   "duplicates": {n: k for n, k in names.items() if k > 1}}
            elif command == "reset":
                sandbox.api_requests.clear()
                tokens_before = len(sandbox.token_requests)
                answer = {"ok": True}
            else:
                answer = {"error": f"unknown command {command!r}"}
            print(json.dumps(answer), flush=True)


# -- configs ---------------------------------------------------------------------------------------------


def write_config(directory: Path, info: SandboxInfo, agents: dict[str, Any], *,
                 limits: dict[str, Any] | None = None,
                 audit_path: Path | None = None) -> tuple[Path, dict[str, str]]:
    """A zbmcp config pointing at the sandbox (as tests/conftest.py builds one), and the environment it needs.

    The audit log goes to a file (default: <directory>/audit.jsonl) so that stderr stays quiet."""
    import yaml

    connection: dict[str, Any] = {
        "region": "eu",
        "client_id": info.client_id,
        "client_secret": "${SANDBOX_CLIENT_SECRET}",
        "refresh_token": "${SANDBOX_REFRESH_TOKEN}",
        "api_base_url": info.api_base_url,
        "accounts_url": info.accounts_url,
        "token_store": "memory",
    }
    if limits:
        connection["limits"] = limits
    document = {
        "connections": {"main": connection},
        "agents": {name: {"connection": "main", **spec} for name, spec in agents.items()},
        "audit": {"path": str(audit_path or directory / "audit.jsonl")},
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "zbmcp.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    env = {
        "SANDBOX_CLIENT_SECRET": info.client_secret,
        "SANDBOX_REFRESH_TOKEN": info.refresh_token,
        "ZBMCP_HOME": str(directory / "home"),
    }
    return path, env


# -- raw JSON-RPC over a stdio server's pipes ------------------------------------------------------------


class StdioServer:
    """A stdio MCP server as a subprocess, driven with raw newline-delimited JSON-RPC (no client library in
    the timed path: one write, one blocking readline)."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None, stderr: Any = subprocess.DEVNULL,
                 cwd: Path = REPO) -> None:
        self.argv = argv
        self.env = env
        self.stderr = stderr
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self._next_id = 0
        self.last_response_bytes = 0

    def start(self) -> None:
        environment = {**os.environ, **(self.env or {})}
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=environment, cwd=self.cwd)

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one request, return its result (notifications and server requests in between are skipped)."""
        assert self.proc is not None and self.proc.stdout is not None
        self._next_id += 1
        ident = self._next_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": ident, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.argv!r} closed stdout while answering {method}")
            answer = json.loads(line)
            if answer.get("id") == ident and "method" not in answer:
                break
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        self.last_response_bytes = len(line.rstrip(b"\n"))
        return answer["result"]

    def initialize(self) -> dict[str, Any]:
        result = self.request("initialize", {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "zbmcp-bench", "version": "0"},
        })
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return result

    def close_stdin(self) -> None:
        """EOF: the SDK's stdio server returns. (stop() waits for it; close many first
        to stop them together.)"""
        if self.proc is not None and self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()

    def stop(self) -> None:
        if self.proc is None:
            return
        self.close_stdin()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- numbers, machine, results ---------------------------------------------------------------------------


def summarize(samples_s: list[float]) -> dict[str, float]:
    """Milliseconds: median, p10, p90, min, max, mean, n."""
    ms = sorted(s * 1000 for s in samples_s)

    def pct(p: float) -> float:
        if len(ms) == 1:
            return ms[0]
        k = (len(ms) - 1) * p
        lo, hi = int(k), min(int(k) + 1, len(ms) - 1)
        return ms[lo] + (ms[hi] - ms[lo]) * (k - lo)

    return {"median_ms": round(statistics.median(ms), 3), "p10_ms": round(pct(0.1), 3),
            "p90_ms": round(pct(0.9), 3), "min_ms": round(ms[0], 3), "max_ms": round(ms[-1], 3),
            "mean_ms": round(statistics.fmean(ms), 3), "n": len(ms)}


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    try:
        mcp_version = version("mcp")
    except PackageNotFoundError:  # pragma: no cover - facts only
        mcp_version = "?"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "mcp": mcp_version,
        "commit": _git("rev-parse", "--short", "HEAD"),
        # Other people work in this checkout: what differed from that commit when the benchmark ran.
        "uncommitted": _uncommitted("zbmcp", "tool_manifests", "bench"),
    }


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages: other work on the machine shows here (2 cores: 2.0 is full)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return []


def _uncommitted(*paths: str) -> list[str]:
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=REPO, capture_output=True,
                             text=True, timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ["?"]
    return [line[3:] for line in out.splitlines() if len(line) > 3]


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=5,
                              check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def write_results(name: str, results: dict[str, Any]) -> None:
    """Replace this benchmark's entry in bench/results.json, keeping the others."""
    existing: dict[str, Any] = {}
    if RESULTS_FILE.exists():
        try:
            existing = json.loads(RESULTS_FILE.read_text())
        except json.JSONDecodeError:
            existing = {}
    existing[name] = results
    RESULTS_FILE.write_text(json.dumps(existing, indent=2, sort_keys=False) + "\n")


def results_table(results: dict[str, Any]) -> str:
    """The "Latest results" table of bench/README.md, from bench/results.json."""
    rows = ["| benchmark | measure | result | target | met |", "|---|---|---|---|---|"]

    def met(flag: bool | None) -> str:
        return "—" if flag is None else ("yes" if flag else "**no**")

    startup = results.get("startup_latency")
    if startup:
        cold, call, listing = startup["cold_start"], startup["tool_call"], startup["tools_list"]
        for name, key, what in (("zbmcp", "", "a config"), ("zbmcp_sandbox", "sandbox_", "--sandbox")):
            if name not in cold:
                continue  # (results from before issue #27: no --sandbox start)
            tools = cold.get("agent_tools")
            agent = f", an agent of {len(tools)} tools" if tools and not key else ""
            ratio = cold[f"{key}ratio"]
            rows.append(
                f"| startup_latency | cold start, spawn → tools/list, {what}{agent} (median of "
                f"{cold[name]['tools_list']['n']}) | zbmcp {cold[name]['tools_list']['median_ms']:.0f} ms vs "
                f"minimal {cold['minimal']['tools_list']['median_ms']:.0f} ms = **{ratio:.2f}x** (paired "
                f"runs: {cold[f'{key}paired_ratio_median']:.2f}x) | ≤ {cold['target']}x | "
                f"{met(ratio <= cold['target'])} |")
        create = call.get("zbmcp_create_contact")
        rows.append(
            f"| startup_latency | tool call list_invoices over stdio (median of {call['zbmcp']['n']}) | "
            f"zbmcp {call['zbmcp']['median_ms']:.2f} ms vs minimal {call['minimal']['median_ms']:.2f} ms = "
            f"**{call['ratio']:.2f}x** (+{call['overhead_ms']:.2f} ms); get_invoice "
            f"{call['zbmcp_get_invoice']['median_ms']:.2f} ms"
            + (f"; create_contact (audit synced) {create['median_ms']:.2f} ms" if create else "")
            + (f" | ≤ {call['target']}x | {met(call['met'])} |" if "target" in call else " | — | — |"))
        if "rss_ratio" in call:
            rss = call["peak_rss_mib"]
            rows.append(
                f"| startup_latency | peak RSS after the calls | zbmcp {rss['zbmcp']:.1f} MiB vs minimal "
                f"{rss['minimal']:.1f} MiB = **{call['rss_ratio']:.2f}x** | ≤ {call['rss_target']}x | "
                f"{met(call['rss_met'])} |")
        per_tool = listing.get("target_bytes_per_tool")  # (issue #15; before it, one target for 33 tools)
        for agent in ("one_org", "two_orgs", "original_two_orgs"):
            entry = listing.get(agent)
            if entry is None:
                continue
            original = agent.startswith("original") or not per_tool
            target = f"< {listing['target_bytes']:,} bytes" if original else f"≤ {per_tool} bytes a tool"
            rows.append(
                f"| startup_latency | tools/list, {entry['tools_listed']} tools"
                f"{' (the original ones)' if agent.startswith('original') else ''}, {entry['organizations']} "
                f"organization{'s' if entry['organizations'] > 1 else ''} | "
                f"**{entry['wire_line_bytes']:,} bytes** on the wire ({entry['bytes_per_tool']} per tool; "
                f"listing_size {entry['listing_size_bytes']:,}) | {target} | {met(entry['met'])} |")
    throughput = results.get("throughput_limits")
    if throughput:
        settings = throughput["settings"]
        labels = {"shared": "one zbmcp, 10 agents (in memory)",
                  "full": "the same, zbmcp at 100 % of the limit",
                  "stdio": "10 zbmcp stdio processes, one agent each"}
        for name, entry in throughput["scenarios"].items():
            rows.append(
                f"| throughput_limits | {labels.get(name, name)}: limit {settings['limit']} per "
                f"{settings['window_seconds']:g} s, zbmcp {entry['zbmcp_requests_per_window']} | "
                f"**{entry['fraction_of_limit']:.3f}** of the limit; "
                f"**{entry['surfaced_429s']}** 429s surfaced ({entry['sandbox_429s']} sent by the sandbox), "
                f"{entry['zbmcp_rate_limit_refusals']} refusals | ≥ 0.95, 0 | "
                f"{met(entry['met'])} |")
    context = results.get("agent_context")
    if context:
        target = context["target"]
        for task, entry in context["tasks"].items():
            before, after = entry["before"], entry["after"]
            is_who = task == "who_owes_us_money"
            limit = f"≤ {target['who_owes_us_money_after_max_bytes']:,} bytes, same answer" if is_who \
                else "same answer"
            same = "yes" if entry["same_answer"] else "**no**"
            rows.append(
                f"| agent_context | {task.replace('_', ' ')} ({context['settings']['bulk_invoices']} "
                f"more invoices): bytes an agent reads | {before['reads_bytes']:,} "
                f"({before['calls']} calls) → **{after['reads_bytes']:,}** ({after['calls']}), "
                f"{entry['reduction']}x less; same answer: {same} | {limit} | "
                f"{met(target['met'] if is_who else entry['same_answer'])} |")
    fleet = results.get("replicas_redis")
    if fleet:
        settings, result = fleet["settings"], fleet["result"]
        places = result["killed_replica"].get("places", {})
        reached = result["met"]
        shared_met = reached["one_refresh_per_expiry"] and reached["dead_places_back_within_lease"] \
            and reached["nothing_sent_twice"]
        rows.append(
            f"| replicas_redis | {settings['replicas']} HTTP replicas on one Redis, {settings['agents']} "
            f"agents, one organization: limit {settings['limit']} per "
            f"{settings['window_seconds']:g} s, zbmcp {settings['zbmcp_requests_per_window']}; one replica "
            f"killed at {settings['kill_at']:.0%} of {settings['duration_seconds']:g} s | "
            f"**{result['fraction_before_kill']:.3f}** of the limit with the three replicas up "
            f"({result['fraction_after_kill']:.3f} after the kill, {result['fraction_of_limit']:.3f} over "
            f"the run); **{result['surfaced_429s']}** 429s surfaced ({result['sandbox_429s']} sent) | ≥ 0.95 "
            f"(replicas up), 0 | {met(reached['throughput'] and reached['no_429_reached_an_agent'])} |")
        rows.append(
            f"| replicas_redis | the same: token refreshes, the killed replica's places, writes sent twice | "
            f"**{result['refreshes']}** refreshes, {settings['token_lifetime_seconds']:g} s tokens (gaps "
            f"{', '.join(f'{g:g}' for g in result['refresh_gaps_s'])} s); the killed replica's "
            f"places in flight (**{places.get('tickets', 0)}**) back "
            f"{places.get('leases_ended_after_s', '?')} s after the kill (lease "
            f"{settings['lease_seconds']:g} s); **{sum(len(d) for d in result['sent_twice'].values())}** "
            "contacts sent twice | 1 per expiry, within the lease, 0 | "
            f"{met(shared_met)} |")
        cost = result["pacing_cost"]
        rows.append(
            f"| replicas_redis | pacing cost per call (admission + finish), median of "
            f"{cost['redis']['per_call_wall']['n']} | Redis "
            f"**{cost['redis']['per_call_wall']['median_ms']:.2f} ms** (p90 "
            f"{cost['redis']['per_call_wall']['p90_ms']:.2f}; Redis's own time "
            f"{cost['redis']['redis_server_us_per_call']:g} µs); local State "
            f"{cost['local']['per_call_wall']['median_ms']:.2f} ms | ≤ {cost['target_median_ms']:g} ms "
            f"(Redis) | {met(cost['met'])} |")
    audit = results.get("audit_write_ahead")
    if audit:
        rows.extend(_audit_rows(audit))
    console = results.get("console_pages")
    if console:
        pages = console["pages"]
        slowest = max(pages, key=lambda name: pages[name]["p90_ms"])
        rows.append(
            f"| console_pages | every console page, {console['settings']['audit_records']:,} audit records "
            f"({len(pages)} pages, {console['settings']['runs']} runs each; p90) | slowest: {slowest} "
            f"**{pages[slowest]['p90_ms']:.1f} ms** (median {pages[slowest]['median_ms']:.1f} ms) | "
            f"≤ {console['target_ms']:.0f} ms | {met(console['met'])} |")
    listing = results.get("tool_list")
    if listing:
        settings, build, listed = listing["settings"], listing["build"], listing["listing"]
        rows.append(
            f"| tool_list | tools/list built for the largest agent ({settings['tools_granted']} tools, "
            f"{settings['organizations']} organizations; median of {build['n']}) | "
            f"**{build['median_ms']:.2f} ms** (p90 {build['p90_ms']:.2f}); {listed['tools_listed']} tools "
            f"listed, **{listed['bytes']:,} bytes** | ≤ {listing['target_ms']:g} ms, ≤ "
            f"{settings['tool_list_bytes']:,} bytes | {met(listing['met'])} |")
    cost = results.get("idempotency_cost")
    if cost:
        each = cost["per_write"]
        rows.append(
            "| idempotency_cost | exactly-once's cost per write in the State (claim, answer kept, lease "
            f"ended; median of {each['redis_keyless']['n']}) | Redis "
            f"**{each['redis_keyless']['median_ms']:.2f} ms** "
            f"without a key, **{each['redis_keyed']['median_ms']:.2f} ms** with one (p90 "
            f"{each['redis_keyed']['p90_ms']:.2f}); local State {each['local_keyless']['median_ms']:.1f} ms, "
            f"{each['local_keyed']['median_ms']:.1f} ms | ≤ {cost['target_ms']:g} ms (Redis) | "
            f"{met(cost['met'])} |")
    webhook = results.get("webhook_latency")
    if webhook:
        told, taken = webhook["notified"], webhook["intake"]
        rows.append(
            f"| webhook_latency | a signed delivery to /hooks/payments → a listening client's notification "
            f"({webhook['settings']['state']} State; median of {told['n']}) | **{told['median_ms']:.0f} ms** "
            f"(p90 {told['p90_ms']:.0f}); the intake answers in {taken['median_ms']:.0f} ms | p90 ≤ "
            f"{webhook['target_ms']:.0f} ms | {met(webhook['met'])} |")
    close = results.get("month_end_close")
    if close:
        done = close["close"]
        rows.append(
            f"| month_end_close | an agent closes the seeded month: {done['statement_lines']} statement "
            f"lines matched or categorized, an accrual journal, credits applied, the trial balance read | "
            f"**{close['tool_calls']} tool calls**, **{close['bytes_read']:,} bytes** read; "
            f"{done['uncategorized_left']} lines left, trial balance "
            f"{done['trial_balance']['debits']:,.2f} = {done['trial_balance']['credits']:,.2f} | ties out | "
            f"{met(done['ties_out'])} |")
    return "\n".join(rows)


def _audit_rows(audit: dict[str, Any]) -> list[str]:
    rows = []
    records, calls, disk = audit["records"], audit["calls"], audit["settings"]["filesystem"]
    for access in ("write", "read"):
        cells = ", ".join(f"sync {sync}: **{records[f'{access}_sync_{sync}']['median_ms']:.2f} ms** "
                          f"(p90 {records[f'{access}_sync_{sync}']['p90_ms']:.2f})"
                          for sync in ("writes", "all", "none"))
        rows.append(f"| audit_write_ahead | the two records of a call to a {access} tool, on "
                    f"{disk} (median of {records[f'{access}_sync_writes']['n']}) | {cells} | — | — |")
    for tool in ("create_contact", "list_items"):
        added = ", ".join(f"sync {sync} {calls['added_ms'][sync][tool]:+.2f} ms"
                          for sync in ("writes", "all", "none"))
        rows.append(f"| audit_write_ahead | {tool} end to end in process (median of "
                    f"{calls['writes'][tool]['n']}), against records thrown away "
                    f"({calls['discarded'][tool]['median_ms']:.2f} ms) | {added} | — | — |")
    most = max(int(key.split("_")[2]) for key in audit["processes"])
    for sync in ("none", "writes"):
        entry = audit["processes"][f"sync_{sync}_{most}_processes"]
        rows.append(f"| audit_write_ahead | {most} processes appending to one log at once, sync {sync} | "
                    f"**{entry['records_per_second']:,} records/s** in all "
                    f"({entry['ms_per_record']:.2f} ms each); chain "
                    f"{'intact' if entry['chain_intact'] else 'BROKEN'} | chain intact | "
                    f"{'yes' if entry['chain_intact'] else '**no**'} |")
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "sandbox":
        _sandbox_main(sys.argv[2])
    elif sys.argv[1:] == ["table"]:
        print(results_table(json.loads(RESULTS_FILE.read_text())))
    else:
        sys.exit("usage: python bench/common.py sandbox '<SandboxSettings as JSON>' | table")
