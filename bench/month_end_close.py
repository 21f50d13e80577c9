"""Issue #24.9: an agent-style close of a seeded month on the sandbox, counted in tool calls and bytes read.

    python bench/month_end_close.py [--write]

`zbmcp serve` over stdio (an agent with `tools: ["*:*"]` and `catalog: whole`, the generated bank tools among
them) against a loopback sandbox in its own process, seeded as usual: a
month of statement lines in Business Checking and the Company Credit Card. The script does what a bookkeeper's
agent would, with nothing but the tools:

  1. list the bank accounts, and each one's uncategorized lines
  2. for each line, ask for matching suggestions; match the best one when there is one (deposits to their
     invoices, the rent to its expense, the card's payment to the transfer...), else categorize it: card
     charges and fees as expenses (by the payee's kind), interest as interest income, the payment to the card
     as a card payment
  3. post an accrual journal
  4. apply the open credit notes to their customers' open invoices, and vendor credits to bills
  5. read the trial balance, and check that it balances and that no line is left uncategorized

"Bytes an agent reads" per call, as bench/agent_context.py counts them: the larger of the text blocks and
JSON.stringify(structuredContent). Reported: calls, bytes per step and in total, and whether the close tied
out. A real agent also reads tools/list, which bench/tool_list.py measures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    SandboxProcess,
    StdioServer,
    load_average,
    machine,
    now_iso,
    write_config,
    write_results,
)

# What a card charge or a fee is, by its payee: the account an agent would pick from the chart.
EXPENSE_BY_PAYEE = {"TRAINLINE": "Travel Expense", "AMAZON MKTPLACE": "Office Supplies",
                    "SANDBOX BANK": "Bank Fees and Charges"}


class Agent:
    def __init__(self, server: StdioServer, organization: str) -> None:
        self.server = server
        self.organization = organization
        self.step = "start"
        self.calls: dict[str, list[tuple[str, int]]] = defaultdict(list)

    def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = self.server.request("tools/call", {"name": tool, "arguments": {
            "organization_id": self.organization, **arguments}})
        text = sum(len(block["text"].encode()) for block in result["content"] if block.get("type") == "text")
        structured = result.get("structuredContent")
        as_js = len(json.dumps(structured, ensure_ascii=False, separators=(",", ":")).encode()) \
            if structured else 0
        self.calls[self.step].append((tool, max(text, as_js)))
        if result.get("isError"):
            raise RuntimeError(f"{tool} failed: {result['content'][0]['text']}")
        payload: dict[str, Any] = structured or {}
        return payload


def close(agent: Agent, today: str) -> dict[str, Any]:
    agent.step = "read the feeds"
    chart = {row["account_name"]: row["account_id"]
             for row in agent.call("list_chart_of_accounts", per_page=200)["chartofaccounts"]}
    banks = agent.call("list_bank_accounts")["bankaccounts"]
    lines = []
    for bank in banks:
        lines += agent.call("list_bank_transactions", account_id=bank["account_id"], status="uncategorized",
                            fields="payee,description,reference_number,debit_or_credit")["banktransactions"]

    agent.step = "match or categorize each line"
    outcome: dict[str, int] = defaultdict(int)
    for line in sorted(lines, key=lambda row: row["date"]):
        suggested = agent.call("get_matching_bank_transactions",
                               transaction_id=line["transaction_id"])["matching_transactions"]
        best = next((row for row in suggested if row["is_best_match"]), None)
        if best is not None:
            agent.call("match_bank_transaction", transaction_id=line["transaction_id"],
                       transactions_to_be_matched=[{"transaction_id": best["transaction_id"],
                                                    "transaction_type": best["transaction_type"]}])
            outcome[f"matched to {best['transaction_type']}"] += 1
            continue
        money_in = line["debit_or_credit"] == "debit"
        if money_in and "INTEREST" in line["description"]:
            agent.call("categorize_bank_transaction", transaction_id=line["transaction_id"],
                       transaction_type="interest_income", from_account_id=chart["Interest Income"])
            outcome["categorized as interest"] += 1
        elif not money_in and "CREDIT CARD" in line["description"]:
            card = next(bank for bank in banks if bank["account_type"] == "credit_card")
            agent.call("categorize_bank_transaction", transaction_id=line["transaction_id"],
                       transaction_type="card_payment", to_account_id=card["account_id"])
            outcome["categorized as a card payment"] += 1
        elif not money_in:
            account = EXPENSE_BY_PAYEE.get(line["payee"], "Office Supplies")
            agent.call("categorize_bank_transaction_as_expense", transaction_id=line["transaction_id"],
                       account_id=chart[account], description=line["description"].title())
            outcome["categorized as an expense"] += 1
        else:
            outcome["left for a person"] += 1

    agent.step = "post an accrual journal"
    agent.call("create_journal", journal_date=today, notes="Accrued electricity", line_items=[
        {"account_id": chart["Rent Expense"], "debit_or_credit": "debit", "amount": 180},
        {"account_id": chart["Accrued Liabilities"], "debit_or_credit": "credit", "amount": 180}])

    agent.step = "apply credits"
    for note in agent.call("list_credit_notes", status="open", fields="customer_id,balance")["creditnotes"]:
        invoices = agent.call("list_invoices", customer_id=note["customer_id"], status="unpaid")["invoices"]
        if invoices:
            amount = min(note["balance"], invoices[0]["balance"])
            agent.call("apply_credit_note_to_invoice", creditnote_id=note["creditnote_id"], invoices=[
                {"invoice_id": invoices[0]["invoice_id"], "amount_applied": amount}])
            outcome["credit notes applied"] += 1
    credits = agent.call("list_vendor_credits", status="open", fields="vendor_id,balance")["vendorcredits"]
    for credit in credits:
        bills = [row for row in agent.call("list_bills", vendor_id=credit["vendor_id"])["bills"]
                 if row["balance"] > 0]
        if bills:
            amount = min(credit["balance"], bills[0]["balance"])
            agent.call("apply_credits_to_a_bill", vendor_credit_id=credit["vendor_credit_id"], bills=[
                {"bill_id": bills[0]["bill_id"], "amount_applied": amount}])
            outcome["vendor credits applied"] += 1

    agent.step = "read the trial balance"
    [total] = agent.call("get_trial_balance")["trial_balance"]
    left = sum(len(agent.call("list_bank_transactions", account_id=bank["account_id"],
                              status="uncategorized")["banktransactions"]) for bank in banks)
    return {"statement_lines": len(lines), "outcome": dict(outcome), "uncategorized_left": left,
            "trial_balance": {"debits": total["net_debit_total"], "credits": total["net_credit_total"]},
            "ties_out": total["net_debit_total"] == total["net_credit_total"] and left == 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="store the result in bench/results.json")
    options = parser.parse_args()
    started = now_iso()
    load = load_average()
    with tempfile.TemporaryDirectory() as folder, SandboxProcess() as sandbox:
        info = sandbox.info
        config, env = write_config(Path(folder), info, {"closer": {
            "organizations": info.organization_ids[:1], "tools": ["*:*"], "catalog": "whole"}})
        argv = [sys.executable, "-m", "zbmcp", "serve", "--config", str(config), "--agent", "closer"]
        with StdioServer(argv, env) as server:
            server.initialize()
            agent = Agent(server, info.organization_ids[0])
            clock = time.perf_counter()
            result = close(agent, time.strftime("%Y-%m-%d", time.gmtime()))
            seconds = time.perf_counter() - clock
    steps = {step: {"calls": len(calls), "bytes_read": sum(size for _, size in calls),
                    "tools": sorted({tool for tool, _ in calls})} for step, calls in agent.calls.items()}
    results = {
        "benchmark": "month_end_close", "when": started, "machine": machine(), "load_average_at_start": load,
        "settings": {"zbmcp_command": "zbmcp serve (the whole catalog)", "agent_tools": "*:*",
                     "sandbox": "SandboxServer on 127.0.0.1 in its own process, default seed"},
        "close": result,
        "tool_calls": sum(step["calls"] for step in steps.values()),
        "bytes_read": sum(step["bytes_read"] for step in steps.values()),
        "seconds": round(seconds, 2),
        "steps": steps,
    }
    print(json.dumps(results, indent=2))
    if options.write:
        write_results("month_end_close", results)


if __name__ == "__main__":
    main()
