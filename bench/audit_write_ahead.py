"""The cost of the write-ahead audit record (issue #11), per call, on this machine's disk.

    python bench/audit_write_ahead.py [--records 1000] [--calls 200] [--rounds 3] [--processes 1,4,8]
                                      [--dir PATH] [--write]

A call that sends a request to Zoho writes two hash-chained records: the intent, before the request leaves,
and the outcome. With audit.sync "writes" (the default) both are flushed to disk (fsync) for write tools;
"all" flushes them for reads too; "none" leaves it to the operating system. Three measurements:

  records     AuditLog.write alone, two records per call (the audit's whole cost per call), for a read tool
              and a write tool under each sync setting, appending to a chained log on the disk under test.
  calls       end to end, through the MCP server: the SDK's client in memory, the sandbox in process over
              httpx2's ASGI transport; list_items (a read) and create_contact (a write), with the audit log in
              a file under each sync setting, and with the records thrown away (the floor: no file, no chain,
              no fsync). Settings are interleaved round by round, so drift hits them alike.
  processes   N processes appending to one log at once, as N stdio servers of one user do: the lock around
              "read the chain's head, hash, append" serialises them; records per second in total, and the
              chain verified intact afterwards.

The log goes to a temporary folder on the disk of --dir (default: the system's temporary folder); its
filesystem is reported, because fsync costs what the disk makes it cost (on tmpfs, nothing). Prints one
JSON object; --write stores it in bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO), str(BENCH)]

SYNCS = ("writes", "all", "none")


def a_record(tool: str, access: str) -> Any:
    from zbmcp.audit.log import AuditRecord, new_call_id

    return AuditRecord(
        time="2026-11-25T10:00:00.000Z", agent="bookkeeper", tool=tool, scope=f"ZohoBooks.contacts.{access}",
        access=access, organization="10234695", region="eu", decision="allowed", rule="allowed",
        http_status=200, zoho_code=0, duration_ms=212, arguments=["contact_name", "contact_type"],
        call_id=new_call_id(),
        sentence='agent "bookkeeper" created contact Bench Ltd for organization 10234695 (eu): allowed, '
                 '201 in 212 ms',
    )


# -- records -------------------------------------------------------------------------------------------------


def bench_records(folder: Path, count: int) -> dict[str, Any]:
    from common import summarize

    from zbmcp.audit.log import AuditLog

    results: dict[str, Any] = {}
    for sync in SYNCS:
        for access in ("read", "write"):
            log = AuditLog(folder / f"records-{sync}-{access}.jsonl", sync=sync)  # type: ignore[arg-type]
            for _ in range(20):  # the file and the chain file exist, the page cache is warm
                log.write(a_record("create_contact", access))
            samples = []
            for _ in range(count):
                intent, outcome = a_record("create_contact", access), a_record("create_contact", access)
                started = time.perf_counter()
                log.write(intent)
                log.write(outcome)
                samples.append(time.perf_counter() - started)
            results[f"{access}_sync_{sync}"] = summarize(samples)
    return results


# -- calls ---------------------------------------------------------------------------------------------------


async def bench_calls(folder: Path, calls: int, rounds: int) -> dict[str, Any]:
    import httpx2
    from common import summarize
    from mcp import Client

    from zbmcp.audit.log import AuditLog
    from zbmcp.core.config_parse import parse_config
    from zbmcp.calls.catalog import load_manifests
    from zbmcp.calls.runtime import open_runtime
    from zbmcp.sandbox import Sandbox, SandboxSettings
    from zbmcp.calls.server import ZbmcpServer

    sandbox = Sandbox(SandboxSettings(daily_budget=100_000_000))
    credentials = sandbox.credentials
    config = json.dumps({
        "connections": {"main": {
            "region": "eu", "client_id": credentials.client_id, "client_secret": credentials.client_secret,
            "refresh_token": credentials.refresh_token, "api_base_url": "http://sandbox.test/books/v3",
            "accounts_url": "http://sandbox.test", "token_store": "memory",
            "limits": {"requests_per_minute": 1_000_000, "window_seconds": 0.5}}},
        "agents": {"bookkeeper": {"connection": "main", "organizations": [credentials.organization_ids[0]],
                                  "tools": ["list_items", "create_contact"]}},
    })
    specs = load_manifests()
    modes = ("discarded", *SYNCS)
    samples: dict[str, dict[str, list[float]]] = {mode: {"list_items": [], "create_contact": []}
                                                  for mode in modes}
    serial = 0
    with open(os.devnull, "w") as devnull:
        for round_number in range(rounds):
            for mode in modes:
                home = folder / f"home-{mode}"
                loaded = parse_config(config, str(folder / "zbmcp.yaml"), {"ZBMCP_HOME": str(home)})
                audit = AuditLog(None, devnull) if mode == "discarded" else AuditLog(
                    folder / f"calls-{mode}.jsonl", sync=mode)  # type: ignore[arg-type]
                async with open_runtime(loaded, specs=specs, transport=httpx2.ASGITransport(app=sandbox.app),
                                        audit=audit) as runtime:
                    async with Client(ZbmcpServer(runtime, agent="bookkeeper").server) as client:
                        for _ in range(5):  # token, validators, connections: out of the timed part
                            await client.call_tool("list_items", {})
                        for tool in ("list_items", "create_contact"):
                            for _ in range(calls):
                                serial += 1
                                arguments = {} if tool == "list_items" \
                                    else {"contact_name": f"Bench {serial:06d}"}
                                started = time.perf_counter()
                                result = await client.call_tool(tool, arguments)
                                samples[mode][tool].append(time.perf_counter() - started)
                                if result.is_error:
                                    raise RuntimeError(result.content[0].text)
            print(f"calls: round {round_number + 1} of {rounds} done", file=sys.stderr)
    summary: dict[str, Any] = {mode: {tool: summarize(values) for tool, values in by_tool.items()}
                               for mode, by_tool in samples.items()}
    floor = summary["discarded"]
    summary["added_ms"] = {
        mode: {tool: round(summary[mode][tool]["median_ms"] - floor[tool]["median_ms"], 3)
               for tool in ("list_items", "create_contact")} for mode in SYNCS}
    return summary


# -- processes -----------------------------------------------------------------------------------------------


def child_append(path: str, count: int, sync: str) -> None:
    from zbmcp.audit.log import AuditLog

    log = AuditLog(Path(path), sync=sync)  # type: ignore[arg-type]
    records = [a_record("create_contact", "write") for _ in range(count)]
    sys.stdin.readline()  # every process is started before any appends
    for record in records:
        log.write(record)
    print(time.monotonic(), flush=True)  # when this one was done (the clock is the machine's, shared)


def bench_processes(folder: Path, counts: list[int], per_process: int) -> dict[str, Any]:
    from zbmcp.audit.chain import head_path
    from zbmcp.audit.verify import verify

    results: dict[str, Any] = {}
    for sync in ("none", "writes"):
        for processes in counts:
            path = folder / f"processes-{sync}-{processes}.jsonl"
            children = [subprocess.Popen([sys.executable, __file__, "child", str(path), str(per_process),
                                          sync],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
                        for _ in range(processes)]
            time.sleep(2.0)  # imports done, records built
            started = time.monotonic()
            for child in children:
                assert child.stdin is not None
                child.stdin.write("go\n")
                child.stdin.flush()
            finished = [float(child.communicate(timeout=600)[0]) for child in children]
            codes = [child.returncode for child in children]
            elapsed = max(finished) - started
            checked = verify([path], head=head_path(path))
            total = processes * per_process
            results[f"sync_{sync}_{processes}_processes"] = {
                "records": total, "seconds": round(elapsed, 3), "records_per_second": round(total / elapsed),
                "ms_per_record": round(elapsed * 1000 / total, 3), "chain_intact": checked.intact,
                "chained_records": checked.records, "exit_codes": sorted(set(codes)),
            }
            print(f"processes: {processes} with sync {sync}: {total / elapsed:.0f} records/s, "
                  f"chain {'intact' if checked.intact else 'BROKEN: ' + str(checked.problem)}",
                  file=sys.stderr)
    return results


# -- main ----------------------------------------------------------------------------------------------------


def filesystem(folder: Path) -> str:
    try:
        out = subprocess.run(["df", "-T", str(folder)], capture_output=True, text=True, timeout=5).stdout
        return out.splitlines()[1].split()[1]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1000, help="calls' worth of records per setting")
    parser.add_argument("--calls", type=int, default=200, help="tool calls per tool, setting and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", default="1,4,8")
    parser.add_argument("--per-process", type=int, default=500)
    parser.add_argument("--dir", type=Path, default=None, help="a folder on the disk to measure")
    parser.add_argument("--write", action="store_true", help="store the results in bench/results.json")
    args = parser.parse_args()

    import anyio
    from common import load_average, machine, now_iso, write_results

    load_at_start = load_average()
    with tempfile.TemporaryDirectory(prefix="zbmcp-audit-bench-", dir=args.dir) as name:
        folder = Path(name)
        results: dict[str, Any] = {
            "benchmark": "audit_write_ahead",
            "when": now_iso(),
            "machine": machine(),
            "load_average_at_start": load_at_start,
            "settings": {"records": args.records, "calls": args.calls, "rounds": args.rounds,
                         "per_process": args.per_process, "filesystem": filesystem(folder)},
        }
        results["records"] = bench_records(folder, args.records)
        results["calls"] = anyio.run(bench_calls, folder, args.calls, args.rounds)
        results["processes"] = bench_processes(folder, [int(n) for n in args.processes.split(",")],
                                               args.per_process)
    results["load_average_at_end"] = load_average()
    print(json.dumps(results, indent=2))
    if args.write:
        write_results("audit_write_ahead", results)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "child":
        child_append(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
