"""Issue #15: the bytes of text an agent reads for five everyday bookkeeping tasks, before and after.

    python bench/agent_context.py [--invoices 600] [--before main] [--write]

Each side runs `zbmcp serve` over stdio against its own loopback sandbox (a SandboxServer in its own process,
seeded alike with --invoices more invoices, about 600 in the default organization). "Before" is the zbmcp of
git ref --before (default main: results as main shapes them, its tools), exported with `git archive` into a
temporary folder; "after" is this checkout. Each task is scripted the way an agent would do it with the tools
its side has:

  who owes us money      before: list_invoices status=unpaid, 200 a page, every page; sum balance by customer
                         (and, reported beside it, the cheaper path: list_contacts with outstanding amounts)
                         after:  get_aged_receivables
  invoice a customer     list_contacts search_text=<name> -> list_items search_text=Consulting
                         -> create_invoice
  record a payment       list_invoices customer_id, status=unpaid -> create_customer_payment for the oldest
  P&L for last quarter   before: list_invoices, list_bills and list_expenses over the quarter, every page;
                         income less bills and expenses.
                         after: get_profit_and_loss filter_by=TransactionDate.PreviousQuarter
  the vendor we owe most before: list_bills, every page; sum balance by vendor. after: get_aged_payables

"Bytes an agent reads" per call: Claude Desktop, the Agents SDK and LangChain read the text blocks; Claude
Code and VS Code read JSON.stringify(structuredContent) (docs/tools.md). Both are measured; a task's figure is
the larger of the two sums. The answers of both sides are compared: they must be the same. Target: who owes us
money in at most 20 KB after, with the same answer.
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    REPO,
    SandboxProcess,
    StdioServer,
    load_average,
    machine,
    now_iso,
    write_config,
    write_results,
)

WHO_OWES_TARGET_BYTES = 20_000
CUSTOMER = "Northwind Traders"


@dataclass
class Call:
    tool: str
    text_bytes: int  # what a client that reads the text blocks hands the model
    structured_bytes: int  # what a client that reads structuredContent hands the model (JSON.stringify)


@dataclass
class Run:
    calls: list[Call] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        text = sum(call.text_bytes for call in self.calls)
        structured = sum(call.structured_bytes for call in self.calls)
        return {"calls": len(self.calls), "tools": [call.tool for call in self.calls], "text_bytes": text,
                "structured_bytes": structured, "reads_bytes": max(text, structured)}


class Agent:
    """One side's zbmcp over stdio, remembering what every call made the agent read."""

    def __init__(self, server: StdioServer) -> None:
        self.server = server
        self.run = Run()

    @contextlib.contextmanager
    def task(self) -> Iterator[Run]:
        self.run = Run()
        yield self.run

    def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = self.server.request("tools/call", {"name": tool, "arguments": arguments})
        if result.get("isError"):
            raise RuntimeError(f"{tool} failed: {result['content'][0]['text']}")
        text = sum(len(block["text"].encode()) for block in result["content"] if block.get("type") == "text")
        structured = result.get("structuredContent")
        as_js = len(json.dumps(structured, ensure_ascii=False, separators=(",", ":")).encode()) \
            if structured else 0
        self.run.calls.append(Call(tool, text, as_js))
        payload: dict[str, Any] = structured or {}
        return payload

    def pages(self, tool: str, key: str, **arguments: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self.call(tool, page=page, per_page=200, **arguments)
            rows.extend(answer[key])
            if not answer.get("page_context", {}).get("has_more_page"):
                return rows
            page += 1


# -- the five tasks, as each side does them ------------------------------------------------------------------

def _by(rows: list[dict[str, Any]], name: str, amount: str) -> dict[str, float]:
    sums: dict[str, float] = defaultdict(float)
    for row in rows:
        if row.get(amount):
            sums[row[name]] += row[amount]
    return {key: round(value, 2) for key, value in sums.items() if round(value, 2)}


def who_owes_us(agent: Agent, after: bool) -> dict[str, float]:
    if after:
        return {row["name"]: row["total"] for row in agent.call("get_aged_receivables")["invoice"]["rows"]}
    return _by(agent.pages("list_invoices", "invoices", status="unpaid"), "customer_name", "balance")


def who_owes_us_by_contacts(agent: Agent) -> dict[str, float]:
    rows = agent.pages("list_contacts", "contacts", contact_type="customer")
    return _by(rows, "contact_name", "outstanding_receivable_amount")


def invoice_a_customer(agent: Agent, after: bool) -> dict[str, Any]:
    customer = agent.call("list_contacts", search_text=CUSTOMER, contact_type="customer")["contacts"][0]
    item = next(row for row in agent.call("list_items", search_text="Consulting")["items"]
                if row["name"] == "Consulting")
    invoice = agent.call("create_invoice", customer_id=customer["contact_id"],
                         line_items=[{"item_id": item["item_id"], "quantity": 3}])["invoice"]
    return {"customer": customer["contact_name"], "total": invoice["total"], "status": invoice["status"]}


def record_a_payment(agent: Agent, after: bool) -> dict[str, Any]:
    customer = agent.call("list_contacts", search_text=CUSTOMER, contact_type="customer")["contacts"][0]
    unpaid = agent.call("list_invoices", customer_id=customer["contact_id"], status="unpaid",
                        sort_column="date", sort_order="A")["invoices"]
    oldest = unpaid[0]
    payment = agent.call("create_customer_payment", customer_id=customer["contact_id"],
                         payment_mode="banktransfer", amount=oldest["balance"], date=date.today().isoformat(),
                         invoices=[{"invoice_id": oldest["invoice_id"], "amount_applied": oldest["balance"]}])
    return {"invoice": oldest["invoice_number"], "amount": payment["payment"]["amount"]}


def last_quarter(today: date) -> tuple[str, str]:
    quarter = (today.month - 1) // 3 - 1
    year = today.year + quarter // 4
    first = (quarter % 4) * 3 + 1
    return date(year, first, 1).isoformat(), date(year, first + 2,
                                                  calendar.monthrange(year, first + 2)[1]).isoformat()


def profit_last_quarter(agent: Agent, after: bool) -> float:
    if after:
        report = agent.call("get_profit_and_loss",
                            filter_by="TransactionDate.PreviousQuarter")["profit_and_loss"]
        return float(next(node["total"] for node in report if node["name"] == "Net Profit/Loss"))
    start, end = last_quarter(date.today())
    period = {"date_start": start, "date_end": end}
    invoices = agent.pages("list_invoices", "invoices", **period)
    income = sum(row["total"] for row in invoices if row["status"] not in ("draft", "void"))
    bills = sum(row["total"] for row in agent.pages("list_bills", "bills", **period)
                if row["status"] != "void")
    spent = sum(row["total"] for row in agent.pages("list_expenses", "expenses", **period))
    return round(income - bills - spent, 2)


def vendor_we_owe_most(agent: Agent, after: bool) -> dict[str, Any]:
    if after:
        rows = agent.call("get_aged_payables")["bills"]["rows"]
        owed = {row["name"]: row["total"] for row in rows}
    else:
        owed = _by(agent.pages("list_bills", "bills"), "vendor_name", "balance")
    vendor = max(owed, key=lambda name: owed[name])
    return {"vendor": vendor, "owed": owed[vendor]}


TASKS: dict[str, Callable[[Agent, bool], Any]] = {
    "who_owes_us_money": who_owes_us,
    "invoice_a_customer": invoice_a_customer,
    "record_a_payment": record_a_payment,
    "profit_and_loss_last_quarter": profit_last_quarter,
    "vendor_we_owe_most": vendor_we_owe_most,
}


# -- running both sides --------------------------------------------------------------------------------------

def export(ref: str, into: Path) -> str:
    """The tree of `ref` (a commit of this repository) in a folder; its short commit id."""
    commit = subprocess.run(["git", "rev-parse", "--short", ref], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout.strip()
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=REPO, capture_output=True,
                             check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return commit


def side(source: Path, sandbox: SandboxProcess, workdir: Path) -> StdioServer:
    assert sandbox.info is not None
    config, env = write_config(workdir, sandbox.info, {
        "bookkeeper": {"organizations": sandbox.info.organization_ids[:1], "tools": ["*:*"]}})
    # The source folder first on the path, so "before" runs its own zbmcp rather than this checkout's.
    env["PYTHONPATH"] = str(source)
    return StdioServer([sys.executable, "-m", "zbmcp", "serve", "--config", str(config), "--agent",
                        "bookkeeper"], env, cwd=source)


def run_side(name: str, source: Path, invoices: int, workdir: Path) -> tuple[dict[str, Any], int]:
    with SandboxProcess(bulk_invoices=invoices) as sandbox, side(source, sandbox, workdir / name) as server:
        server.initialize()
        tools = len(server.request("tools/list")["tools"])
        agent = Agent(server)
        results: dict[str, Any] = {}
        for task, script in TASKS.items():
            with agent.task() as run:
                answer = script(agent, name == "after")
            results[task] = {"answer": answer, **run.totals()}
        if name == "before":
            with agent.task() as run:
                answer = who_owes_us_by_contacts(agent)
            results["who_owes_us_money_by_contacts"] = {"answer": answer, **run.totals()}
        return results, tools


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=600,
                        help="invoices seeded on top of the default books")
    parser.add_argument("--before", default="main", help="git ref whose zbmcp is 'before' (default main)")
    parser.add_argument("--write", action="store_true", help="store the results in bench/results.json")
    args = parser.parse_args()
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="zbmcp-bench-context-") as tmp:
        workdir = Path(tmp)
        before_source = workdir / "before-source"
        before_source.mkdir()
        before_commit = export(args.before, before_source)
        before, before_tools = run_side("before", before_source, args.invoices, workdir)
        after, after_tools = run_side("after", REPO, args.invoices, workdir)
    tasks = {}
    for task in TASKS:
        b, a = before[task], after[task]
        tasks[task] = {"before": b, "after": a, "same_answer": b["answer"] == a["answer"],
                       "reduction": round(b["reads_bytes"] / a["reads_bytes"], 1) if a["reads_bytes"]
                       else None}
    who = tasks["who_owes_us_money"]
    results = {
        "benchmark": "agent_context",
        "when": now_iso(),
        "machine": machine(),
        "load_average_at_start": load,
        "settings": {"bulk_invoices": args.invoices, "before": f"{args.before} ({before_commit})",
                     "tools_listed": {"before": before_tools, "after": after_tools}},
        "tasks": tasks,
        "who_owes_us_money_by_contacts_before": before["who_owes_us_money_by_contacts"],
        "target": {"who_owes_us_money_after_max_bytes": WHO_OWES_TARGET_BYTES,
                   "met": who["after"]["reads_bytes"] <= WHO_OWES_TARGET_BYTES and who["same_answer"]},
    }
    print(json.dumps(results, indent=2))
    if args.write:
        write_results("agent_context", results)


if __name__ == "__main__":
    main()
