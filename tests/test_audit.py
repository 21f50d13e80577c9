"""Issue #11: every call on the record before anything is sent, completed with its outcome; writes
whose answer is unclear reported as "outcome unknown" and never repeated; a log that cannot be
written refuses the call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import anyio
import httpx2
import pytest

from tests.conftest import ORG, AuditCapture, agent, config_text, environ, mcp_client, running, serving
from zbmcp.audit.log import AuditLog, read_calls, read_records
from zbmcp.core.credentials import key_hash, new_api_key
from zbmcp.sandbox import Fault, Sandbox
from zbmcp.sandbox.server import AsyncSandboxServer

ZBMCP = [sys.executable, "-m", "zbmcp"]


def invoice_arguments(sandbox: Sandbox) -> dict[str, Any]:
    view = sandbox.store(ORG)
    return {"customer_id": view.contact_id("Acme Corporation"),
            "line_items": [{"item_id": view.item_id("Consulting"), "quantity": 2}]}


def invoice_count(sandbox: Sandbox) -> int:
    return len(sandbox.store(ORG).invoices)


def posts(sandbox: Sandbox) -> int:
    return sum(1 for r in sandbox.api_requests if r.method == "POST")


@pytest.fixture
def bookkeeper(make_config, tmp_path):
    return make_config({"bookkeeper": agent(["invoices:*"])}, audit={"path": str(tmp_path / "audit.jsonl")})


# -- written ahead, completed with the outcome -------------------------------------------------------------


async def test_a_write_is_on_disk_before_the_request_reaches_zoho_and_completed_after(bookkeeper, sandbox,
                                                                                      tmp_path):
    release, entered = anyio.Event(), anyio.Event()
    sandbox.faults.add(Fault(kind="hold", route="POST /invoices", times=1, release=release, entered=entered))
    seen_while_held: list[dict[str, Any]] = []
    async with running(bookkeeper, sandbox, audit=None) as runtime, \
            mcp_client(runtime, "bookkeeper") as client:
        async with anyio.create_task_group() as group:
            results: list[Any] = []

            async def create() -> None:
                results.append(await client.call_tool("create_invoice", invoice_arguments(sandbox)))

            group.start_soon(create)
            with anyio.fail_after(10):
                await entered.wait()  # the request is at Zoho's door
            seen_while_held.extend(read_records(tmp_path / "audit.jsonl"))
            release.set()
    [intent] = seen_while_held
    assert intent["phase"] == "intent" and intent["tool"] == "create_invoice" \
        and intent["decision"] == "allowed"
    assert intent["sentence"] \
        == f'agent "bookkeeper" is sending: create an invoice for organization {ORG} (eu)'
    assert "list_invoices" in intent["check"]  # how to find out, should the outcome never come
    intent_line, outcome = read_records(tmp_path / "audit.jsonl")
    assert outcome["call_id"] == intent["call_id"] and outcome["phase"] == "outcome"
    assert outcome["decision"] == "allowed" and outcome["http_status"] == 201 and not results[0].is_error
    [call] = read_calls(tmp_path / "audit.jsonl")
    assert call == outcome  # `zbmcp audit` shows one row per call, with its final state


async def test_calls_that_send_nothing_have_one_record(bookkeeper, sandbox, tmp_path):
    async with running(bookkeeper, sandbox, audit=None) as runtime, \
            mcp_client(runtime, "bookkeeper") as client:
        await client.call_tool("create_contact", {"contact_name": "X"})  # not granted
        await client.call_tool("get_invoice", {"invoice_id": "12\n"})  # malformed
    records = read_records(tmp_path / "audit.jsonl")
    assert [(r["phase"], r["decision"]) for r in records] == [("outcome", "denied"), ("outcome", "denied")]
    assert records[0]["call_id"] != records[1]["call_id"] and sandbox.api_requests == []


@pytest.mark.parametrize(("kind", "status"), [("gateway_after", 504), ("gateway_after", 502),
                                              ("malformed", 500), ("drop_after", 500)])
async def test_an_unclear_answer_after_zoho_acted_is_outcome_unknown_and_never_repeated(make_config, sandbox,
                                                                                       kind, status):
    audit = AuditCapture()
    loaded = make_config({"bookkeeper": agent(["invoices:*"])})
    sandbox.faults.add(Fault(kind=kind, status=status, route="POST /invoices", times=1))
    before = invoice_count(sandbox)
    async with running(loaded, sandbox, audit=audit) as runtime, mcp_client(runtime, "bookkeeper") as client:
        result = await client.call_tool("create_invoice", invoice_arguments(sandbox))
    error = result.structured_content["error"]
    assert result.is_error and error["type"] == "OutcomeUnknown" and error["rule"] == "outcome unknown"
    assert "not retried" in error["message"] and "list_invoices" in error["message"]
    assert error["call_id"] in error["message"] and "list_invoices" in error["check"]
    # exactly one invoice: no silent retry
    assert invoice_count(sandbox) == before + 1 and posts(sandbox) == 1
    [record] = audit.records
    assert (record["decision"], record["call_id"]) == ("unknown", error["call_id"])
    assert "outcome unknown" in record["sentence"] and "list_invoices" in record["check"]


@pytest.mark.parametrize("fault", [Fault(kind="error", status=500), Fault(kind="error", status=503)])
async def test_a_5xx_to_a_write_is_outcome_unknown_whatever_its_body(make_config, sandbox, fault):
    fault.route, fault.times = "POST /invoices", 1
    sandbox.faults.add(fault)
    loaded = make_config({"bookkeeper": agent(["invoices:*"])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        result = await client.call_tool("create_invoice", invoice_arguments(sandbox))
    assert result.structured_content["error"]["type"] == "OutcomeUnknown" and posts(sandbox) == 1


async def test_a_refusal_in_zohos_own_json_is_a_plain_error(make_config, sandbox):
    loaded = make_config({"bookkeeper": agent(["invoices:*"])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        result = await client.call_tool("create_invoice", {**invoice_arguments(sandbox), "customer_id": "1"})
    assert result.structured_content["error"]["type"] == "ZohoApiError"  # Zoho said no: nothing to check


async def test_a_call_cancelled_after_sending_leaves_a_record_naming_it_with_outcome_unknown(
        bookkeeper, sandbox, tmp_path):
    release, committed = anyio.Event(), anyio.Event()
    sandbox.faults.add(Fault(kind="hold_after", route="POST /invoices", times=1, release=release,
                             entered=committed))
    before = invoice_count(sandbox)
    async with running(bookkeeper, sandbox, audit=None) as runtime, \
            mcp_client(runtime, "bookkeeper") as client:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(client.call_tool, "create_invoice", invoice_arguments(sandbox))
                await committed.wait()  # Zoho created the invoice; its answer is on the way
                group.cancel_scope.cancel()  # the client gives up: the SDK sends notifications/cancelled
            # The server finished the call's record when it was cancelled, before anything else ran.
            with anyio.fail_after(5):
                while len(read_records(tmp_path / "audit.jsonl")) < 2:
                    await anyio.sleep(0.01)
        release.set()
    intent, outcome = read_records(tmp_path / "audit.jsonl")
    assert outcome["call_id"] == intent["call_id"] and outcome["tool"] == "create_invoice"
    assert outcome["decision"] == "unknown" and outcome["rule"] == "cancelled after the request was sent"
    assert "list_invoices" in outcome["check"]
    assert invoice_count(sandbox) == before + 1


async def test_a_call_cancelled_while_waiting_for_its_turn_says_nothing_was_sent(make_config, sandbox):
    audit = AuditCapture()
    release, entered = anyio.Event(), anyio.Event()
    sandbox.faults.add(Fault(kind="hold", route="GET /invoices", times=1, release=release, entered=entered))
    loaded = make_config({"a": agent(["invoices:*"])}, connection={"limits": {"concurrency": 1}})
    async with running(loaded, sandbox, audit=audit) as runtime, mcp_client(runtime, "a") as client:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(client.call_tool, "list_invoices", {})
                await entered.wait()  # the organization's one place is taken
                with anyio.move_on_after(0.3):
                    await client.call_tool("create_invoice", invoice_arguments(sandbox))  # waits for its turn
                release.set()
    create = next(r for r in audit.records if r["tool"] == "create_invoice")
    assert (create["decision"], create["rule"]) == ("failed", "cancelled before anything was sent")
    assert [r["phase"] for r in audit.lines if r["tool"] == "create_invoice"] == ["outcome"]
    assert posts(sandbox) == 0


# -- fail closed ---------------------------------------------------------------------------------------------


async def test_an_audit_log_that_cannot_be_written_refuses_the_call_and_fails_the_health_check(
        make_config, sandbox, tmp_path):
    key = new_api_key()[0]
    log = tmp_path / "logs" / "audit.jsonl"
    loaded = make_config({"bookkeeper": agent(["invoices:*"], api_keys=[key_hash(key)])},
                         audit={"path": str(log)})
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async with running(loaded, sandbox, audit=None) as runtime, serving(runtime) as server:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx2.AsyncClient(headers=headers) as http, \
                Client(streamable_http_client(f"{server.url}/mcp", http_client=http)) as client:
            healthy = await http.get(f"{server.url}/healthz")
            assert not (await client.call_tool("list_invoices", {})).is_error
            requests_before = len(sandbox.api_requests)
            log.unlink()
            log.mkdir()  # the log is gone from under zbmcp: as unusable as a full disk or a read-only mount
            refused = await client.call_tool("create_invoice", invoice_arguments(sandbox))
            read_refused = await client.call_tool("list_invoices", {})
            sick = await http.get(f"{server.url}/healthz")
            requests_while_broken = len(sandbox.api_requests)
            log.rmdir()
            recovered = await http.get(f"{server.url}/healthz")
            works_again = await client.call_tool("list_invoices", {})
    assert healthy.status_code == 200
    error = refused.structured_content["error"]
    assert refused.is_error and error["type"] == "AuditUnavailable" and "nothing was sent" in error["message"]
    assert read_refused.structured_content["error"]["type"] == "AuditUnavailable"
    assert requests_while_broken == requests_before  # nothing reached Zoho
    assert (sick.status_code, sick.json()["status"]) == (503, "audit log unavailable")
    assert recovered.status_code == 200 and not works_again.is_error


def test_start_up_refuses_an_audit_path_it_cannot_write(sandbox, home, tmp_path):
    (tmp_path / "audit.jsonl").mkdir()
    path = tmp_path / "zbmcp.yaml"
    path.write_text(config_text(sandbox, {"a": agent(["list_items"])},
                                audit={"path": str(tmp_path / "audit.jsonl")}))
    env = {**environ(sandbox, home), "PATH": "/usr/bin:/bin"}
    started = subprocess.run([*ZBMCP, "serve", "--config", str(path), "--agent", "a"], capture_output=True,
                             text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert started.returncode == 1
    assert "audit.path: the audit log cannot be written" in started.stderr \
        and "Traceback" not in started.stderr


def test_records_without_a_path_still_go_to_stderr_unchained(capsys):
    from zbmcp.audit.log import AuditRecord

    log = AuditLog(None)
    record = AuditRecord(time="t", agent="a", tool="list_items", scope=None, access="read", organization=None,
                         region=None, decision="allowed", rule="allowed", http_status=200, zoho_code=None,
                         duration_ms=1, arguments=[], call_id="c1")
    log.write(record)
    line = json.loads(capsys.readouterr().err)
    assert line["call_id"] == "c1" and "hash" not in line


# -- killed mid-write: a real stdio server -------------------------------------------------------------------


async def test_a_server_killed_during_a_write_leaves_the_record_written_before_sending(
        sandbox, home, tmp_path):
    log = tmp_path / "audit.jsonl"
    release, entered = anyio.Event(), anyio.Event()
    sandbox.faults.add(Fault(kind="hold_after", route="POST /invoices", times=1, release=release,
                             entered=entered))
    before = invoice_count(sandbox)
    async with AsyncSandboxServer(sandbox) as server:
        config = tmp_path / "zbmcp.yaml"
        config.write_text(config_text(sandbox, {"bookkeeper": agent(["invoices:*"])},
                                      base_url=server.base_url, audit={"path": str(log)}))
        env = {**environ(sandbox, home), "PATH": "/usr/bin:/bin"}
        command = [*ZBMCP, "serve", "--config", str(config), "--agent", "bookkeeper"]
        process = await anyio.open_process(command, env=env)
        try:
            assert process.stdin is not None and process.stdout is not None
            with anyio.fail_after(30):
                for message in _handshake_and_call("create_invoice", invoice_arguments(sandbox)):
                    await process.stdin.send((json.dumps(message) + "\n").encode())
                await entered.wait()  # Zoho has created the invoice; its answer is held...
                process.kill()  # ...and the server dies (SIGKILL: no clean-up of any kind)
                await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            await process.aclose()
        release.set()
        # After a restart, `zbmcp audit` says what may have happened, and how to check.
        shown = await anyio.run_process([*ZBMCP, "audit", "--config", str(config), "--json"], env=env,
                                        check=False)
        later = await anyio.run_process([*ZBMCP, "audit", "--config", str(config)], env=env, check=False)
        verified = await anyio.run_process([*ZBMCP, "audit", "verify", "--config", str(config)], env=env,
                                           check=False)
    [call] = [json.loads(line) for line in shown.stdout.decode().splitlines()]
    assert call["tool"] == "create_invoice" and call["phase"] == "intent" and call["decision"] == "unknown"
    assert "no outcome was recorded" in call["sentence"] and "list_invoices" in call["sentence"]
    assert call["call_id"][:8] in later.stdout.decode() and "unknown" in later.stdout.decode()
    assert verified.returncode == 0, verified.stdout.decode()
    assert invoice_count(sandbox) == before + 1  # the invoice does exist: the record was right to warn


def _handshake_and_call(tool: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": arguments}},
    ]


# -- the table a person reads --------------------------------------------------------------------------------


async def test_the_audit_table_shows_hostile_text_escaped_not_interpreted(make_config, sandbox, tmp_path):
    log = tmp_path / "audit.jsonl"
    loaded = make_config({"a": agent(["list_items"])}, audit={"path": str(log)})
    async with running(loaded, sandbox, audit=None) as runtime, \
            mcp_client(runtime, "a", raise_exceptions=False) as c:
        await c.call_tool("\x1b[2J\x1b[1;1Hlist_items\u202e", {"x" * 100_000: 1})
    shown = subprocess.run([*ZBMCP, "audit", "--config", str(tmp_path / "zbmcp.yaml")], capture_output=True,
                           text=True, timeout=60, env={**os.environ, **environ(sandbox, tmp_path / "home")})
    assert shown.returncode == 0
    assert "\x1b" not in shown.stdout and "\u202e" not in shown.stdout
    assert "\\x1b[2J" in shown.stdout and "\\u202e" in shown.stdout
    assert len(log.read_text()) < 5000  # a 100,000-character argument name is not copied into the log


async def test_doctor_names_an_audit_log_it_cannot_write(make_config, sandbox, tmp_path):
    from zbmcp.cli.doctor import doctor

    (tmp_path / "audit.jsonl").mkdir()
    loaded = make_config({"a": agent(["list_items"])}, audit={"path": str(tmp_path / "audit.jsonl")})
    async with running(loaded, sandbox, audit=None) as runtime:
        healthy, lines = await doctor(loaded, runtime)
    assert not healthy
    assert any(line.startswith("FAIL audit log") and "Is a directory" in line for line in lines), lines
