"""Server time of every console page with an audit log of 100,000 records (issue #14: at most 100 ms each).

    .venv/bin/python bench/console_pages.py [--records 100000] [--runs 30] [--write]

The console runs in this process behind httpx2's ASGI transport, signed in as an operator; the time measured
is the app's own, from the request entering it to the last byte of the answer leaving it (no socket, no
client parsing). The audit log is a real file of `--records` JSON lines in the format zbmcp writes (tool
calls of five agents over 30 days, ~1 % denied, plus console events); the inbox holds 20 pending calls in
the local state every process on the machine shares. The records are hash-chained and a write tool's
call is two records (intent, outcome), as zbmcp writes them; the chain is verified once in the background
before the timing starts. Pages are measured in rounds, interleaved, after one untimed
round. The worst case for the audit viewer without its index is a filter that matches nothing (the whole file
would be read); the index (built in the background when the log is first shown) lets it skip what cannot
match.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import load_average, machine, now_iso, summarize, write_results  # noqa: E402
from zbmcp.audit import chain as audit_chain  # noqa: E402
from zbmcp.audit.log import AuditEvent, AuditRecord, intent_sentence, new_call_id, sentence  # noqa: E402
from zbmcp.core.config_parse import parse_config  # noqa: E402
from zbmcp.console import ConsoleApp  # noqa: E402
from zbmcp.core.credentials import hash_secret  # noqa: E402
from zbmcp.core.question import build_question  # noqa: E402
from zbmcp.core.requests import build_request  # noqa: E402
from zbmcp.calls.runtime import open_runtime  # noqa: E402

TARGET_MS = 100.0
SECRET = "benchmark operator secret"
ORGS = ["10234695", "10234696"]
AGENTS = {
    "reporting": ["list_invoices", "get_invoice", "list_contacts", "list_bills", "list_expenses"],
    "bookkeeper": ["list_invoices", "create_invoice", "email_invoice", "get_contact", "list_items"],
    "payables": ["create_bill", "list_bills", "list_purchase_orders", "create_purchase_order"],
    "collections": ["list_invoices", "create_customer_payment", "list_customer_payments"],
    "night-batch": ["list_chart_of_accounts", "list_bank_accounts", "create_expense"],
}
START = dt.datetime(2026, 10, 25, tzinfo=dt.UTC)


def config_text(audit_path: Path) -> str:
    agents = {name: {"connection": "main", "organizations": ORGS, "tools": tools,
                     **({"require_approval": ["email_invoice"]} if "email_invoice" in tools else {})}
              for name, tools in AGENTS.items()}
    return json.dumps({
        "connections": {"main": {"region": "eu", "client_id": "1000.BENCH", "client_secret": "s",
                                 "refresh_token": "r", "token_store": "memory"}},
        "agents": agents,
        "audit": {"path": str(audit_path)},
        "operators": {"olivia": {"secret": hash_secret(SECRET)}},
    })


def write_audit(path: Path, count: int) -> None:
    """`count` records as zbmcp writes them: hash-chained; a write tool's call is an intent and an outcome."""
    rng = random.Random(14)
    step = dt.timedelta(days=30) / count
    prev, seq = audit_chain.GENESIS, 0
    with path.open("wb") as handle:

        def append(fields: dict[str, Any]) -> None:
            nonlocal prev, seq
            seq += 1
            line, prev = audit_chain.seal(fields, seq, prev)
            handle.write(line + b"\n")

        while seq < count:
            at = (START + step * seq).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            if seq % 500 == 250:
                append(AuditEvent(time=at, event="console.sign_in", decision="allowed", operator="olivia",
                                  sentence='operator "olivia" signed in to the console '
                                           'from 10.0.0.7').fields())
                continue
            agent = rng.choice(list(AGENTS))
            tool = rng.choice(AGENTS[agent])
            writes = not tool.startswith(("list_", "get_"))
            denied = rng.random() < 0.01
            organization = rng.choice(ORGS)
            status = None if denied else (201 if writes else 200)
            ms = rng.randint(80, 900)
            record = AuditRecord(
                time=at, agent=agent, tool=tool, scope=f"ZohoBooks.{tool.split('_')[-1]}.READ",
                access="write" if writes else "read", organization=organization, region="eu",
                decision="denied" if denied else "allowed", rule="organizations" if denied else "allowed",
                http_status=status, zoho_code=0 if status else None, duration_ms=ms,
                arguments=["organization_id", "page"], argument_values={}, call_id=new_call_id(),
            )
            if writes and not denied:
                intent = AuditRecord(**{**vars(record), "phase": "intent", "http_status": None,
                                        "zoho_code": None})
                intent.sentence = intent_sentence(agent, f"tried to {tool.replace('_', ' ')}", organization,
                                                  "eu")
                append(intent.fields())
            phrase = f"tried to {tool.replace('_', ' ')}" if denied \
                else f"{tool.replace('_', ' ')}d {rng.randint(1, 200)}"
            record.sentence = sentence(agent, phrase, organization, "eu", record.decision, record.rule,
                                       status, ms)
            append(record.fields())


class Timed:
    """Wraps an ASGI app and records how long each request spent inside it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        await self.app(scope, receive, send)
        self.last = time.perf_counter() - started


async def run(records: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="zbmcp-console-bench-") as folder:
        directory = Path(folder)
        audit_path = directory / "audit.jsonl"
        write_audit(audit_path, records)
        audit_bytes = audit_path.stat().st_size
        config_path = directory / "zbmcp.yaml"
        config_path.write_text(config_text(audit_path))
        loaded = parse_config(config_path.read_text(), str(config_path),
                              {"ZBMCP_HOME": str(directory / "home")})
        async with open_runtime(loaded) as runtime:
            runtime.inbox.hold_seconds = 0
            spec = runtime.specs["email_invoice"]
            for n in range(20):
                arguments = {"organization_id": ORGS[0], "invoice_id": str(460000000000000 + n),
                             "to_mail_ids": [f"ap{n}@customer.example"]}
                request = build_request(spec, arguments, tuple(ORGS))
                decision = runtime.policies["bookkeeper"].decide(spec, request, dt.date.today())
                assert decision.facts is not None
                question = build_question("bookkeeper", spec, request,
                                          f"https://www.zohoapis.eu{request.path}", decision.facts,
                                          decision.reasons)
                await runtime.inbox.hold(spec, request, arguments, question)
            pending = (await runtime.inbox.all())[0]
            console = ConsoleApp(runtime)
            timed = Timed(console)
            async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=timed),
                                          base_url="http://127.0.0.1:8000") as http:
                page = await http.get("/console/sign-in")
                csrf_field = r'name="csrf" value="([^"]+)"'
                csrf = re.search(csrf_field, page.text).group(1)  # type: ignore[union-attr]
                await http.post("/console/sign-in",
                                data={"operator": "olivia", "secret": SECRET, "csrf": csrf})
                inbox = await http.get("/console/approvals")
                session_csrf = re.search(csrf_field, inbox.text).group(1)  # type: ignore[union-attr]
                first = await http.get("/console/audit")
                end = int(re.search(r'data-cursor="(\d+)"', first.text).group(1))  # type: ignore[union-attr]
                middle = end // 2
                pages: dict[str, tuple[str, str, dict[str, str] | None]] = {
                    "approvals (20 pending)": ("GET", "/console/approvals", None),
                    "approvals, live refresh": ("GET", "/console/approvals/live", None),
                    "one approval": ("GET", f"/console/approvals/{pending.id}", None),
                    "access matrix": ("GET", "/console/access", None),
                    "compare configs": ("POST", "/console/access/compare",
                                        {"csrf": session_csrf, "candidate": config_path.read_text().replace(
                                            '"list_items"', '"list_items", "delete_invoice"')}),
                    "audit, newest 50": ("GET", "/console/audit", None),
                    "audit, one agent": ("GET", "/console/audit?agent=payables", None),
                    "audit, denied (1 %)": ("GET", "/console/audit?decision=denied", None),
                    "audit, agent + tool + organization": (
                        "GET", f"/console/audit?agent=bookkeeper&tool=email_invoice&organization={ORGS[1]}",
                        None),
                    "audit, one day, 2 weeks back": (
                        "GET", "/console/audit?since=2026-11-10&until=2026-11-11", None),
                    "audit, page in the middle": ("GET", f"/console/audit?before={middle}", None),
                    "audit, no match": ("GET", "/console/audit?agent=nobody", None),
                    "audit, live refresh": ("GET", f"/console/audit/live?after={end - 20_000}", None),
                }
                samples: dict[str, list[float]] = {name: [] for name in pages}
                await http.get("/console/audit?agent=payables")  # starts indexing the log
                chain = await _verified(console, http)
                sizes: dict[str, int] = {}
                for round_ in range(runs + 1):
                    for name, (method, url, form) in pages.items():
                        response = await http.request(method, url, data=form)
                        assert response.status_code == 200, (name, response.status_code, response.text[:300])
                        if round_:
                            samples[name].append(timed.last)
                        sizes[name] = len(response.content)
        results = {name: {**summarize(values), "bytes": sizes[name]} for name, values in samples.items()}
        worst = max(r["p90_ms"] for r in results.values())
        return {
            "benchmark": "console_pages", "when": now_iso(), "machine": machine(),
            "load_average_at_start": load_average(),
            "settings": {"audit_records": records, "audit_bytes": audit_bytes,
                         "runs": runs, "pending_approvals": 20, "agents": len(AGENTS)},
            "chain": chain, "pages": results, "worst_p90_ms": worst, "target_ms": TARGET_MS,
            "met": worst <= TARGET_MS,
        }


async def _verified(console: ConsoleApp, http: httpx2.AsyncClient) -> str:
    """Wait for the background work the first audit page starts (the chain check, the audit index) to finish,
    so that it does not compete with the pages being timed; returns what the page says of the chain."""
    for _ in range(600):
        status = console.chain_status()
        if status.state != "checking" and not console.background_busy():
            return status.text
        await asyncio.sleep(0.1)
    raise RuntimeError("the audit chain check did not finish within a minute")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--write", action="store_true", help="store the results in bench/results.json")
    args = parser.parse_args()
    results = asyncio.run(run(args.records, args.runs))
    print(json.dumps(results, indent=2))
    if args.write:
        write_results("console_pages", results)


if __name__ == "__main__":
    main()
