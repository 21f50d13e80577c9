"""The `zbmcp` command: serving over stdio (as Claude Desktop runs it), and the commands a person types."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import ORG, agent, assert_demo_listing, config_text, environ, said_port
from zbmcp import cli
from zbmcp.audit.log import read_calls
from zbmcp.calls.catalog import load_manifests
from zbmcp.sandbox.server import SandboxServer

ZBMCP = [sys.executable, "-m", "zbmcp"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ZBMCP, *args], capture_output=True, text=True, timeout=60, env=env)


async def test_serve_sandbox_over_stdio_lists_and_calls_every_kind_of_tool():
    with anyio.fail_after(60):
        async with Client(StdioServerParameters(command=sys.executable,
                                                args=["-m", "zbmcp", "serve", "--sandbox"])) as c:
            tools = {tool.name for tool in (await c.list_tools()).tools}
            listed = await c.call_tool("list_contacts", {"organization_id": ORG, "contact_type": "customer"})
            acme = next(row for row in listed.structured_content["contacts"]
                        if row["contact_name"].startswith("Acme"))
            items = (await c.call_tool("list_items", {"organization_id": ORG})).structured_content["items"]
            consulting = next(item for item in items if item["name"] == "Consulting")
            created = await c.call_tool("create_invoice", {
                "organization_id": ORG, "customer_id": acme["contact_id"],
                "line_items": [{"item_id": consulting["item_id"], "quantity": 3}]})
    assert_demo_listing(tools)
    assert not created.is_error, created.content[0].text
    assert created.structured_content["summary"].startswith("Created invoice INV-")
    assert created.structured_content["invoice"]["total"] == 3 * consulting["rate"]


async def test_serve_with_a_config_over_stdio_against_a_loopback_sandbox(sandbox, home, tmp_path):
    with SandboxServer(sandbox) as server:
        path = tmp_path / "zbmcp.yaml"
        path.write_text(config_text(sandbox, {"reporting": agent(["*:read"])}, base_url=server.base_url,
                                    audit={"path": str(tmp_path / "audit.jsonl")}))
        env = {**environ(sandbox, home), "PATH": "/usr/bin:/bin"}
        params = StdioServerParameters(command=sys.executable, env=env,
                                       args=["-m", "zbmcp", "serve", "--config", str(path), "--agent",
                                             "reporting"])
        with anyio.fail_after(60):
            async with Client(params) as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
                invoices = await client.call_tool("list_invoices", {})
                refused = await client.call_tool("create_invoice", {"customer_id": "1", "line_items": []})
    # reads only; a grant too large to list whole adds the meta tools (docs/context.md)
    meta = {"find_tools", "describe_tools", "call_tool", "enable_tools"}
    assert tools - meta and all(name.startswith(("list_", "get_")) for name in tools - meta)
    assert not invoices.is_error and refused.is_error
    records = read_calls(tmp_path / "audit.jsonl")
    assert [r["decision"] for r in records] == ["allowed", "denied"]


def test_serve_without_a_config_says_how_to_write_one(tmp_path):
    result = run("serve", "--config", str(tmp_path / "missing.yaml"), "--agent", "x")
    assert result.returncode == 1
    assert "no config file" in result.stderr and "zbmcp serve --sandbox" in result.stderr
    assert "connections:" in result.stderr and result.stdout == ""


def test_a_bad_config_stops_start_up_with_file_line_and_fix(sandbox, home, tmp_path):
    path = tmp_path / "zbmcp.yaml"
    path.write_text(config_text(sandbox, {"a": agent(["list_invoice"])}))
    result = run("serve", "--config", str(path), "--agent", "a",
                 env={**environ(sandbox, home), "PATH": "/usr/bin"})
    assert result.returncode == 1
    assert f"{path}:" in result.stderr and "did you mean 'list_invoices'?" in result.stderr


def test_tools_scopes_and_claude_config(sandbox, home, tmp_path):
    path = tmp_path / "zbmcp.yaml"
    path.write_text(config_text(sandbox, {"bookkeeper": agent(["invoices:*", "list_items"],
                                                              exclude=["delete_invoice"])}))
    env = {**environ(sandbox, home), "PATH": "/usr/bin"}
    table = run("tools", "--json")
    mine = run("tools", "--config", str(path), "--agent", "bookkeeper", env=env)
    scopes = run("scopes", "--config", str(path), "--agent", "bookkeeper", env=env)
    desktop = run("claude-config", "--config", str(path), "--agent", "bookkeeper", env=env)
    rows = json.loads(table.stdout)
    assert len(rows) == len(load_manifests()) and {"name", "scope", "access"} <= set(rows[0])
    assert f"Agent 'bookkeeper' sees 9 of {len(load_manifests())} tools." in mine.stdout
    assert "delete_invoice" in mine.stdout.split("Hidden:")[1] \
        and "excluded by `exclude: delete_invoice`" in mine.stdout
    assert scopes.stdout.strip() \
        == ("ZohoBooks.contacts.READ,ZohoBooks.invoices.CREATE,ZohoBooks.invoices.READ,"
            "ZohoBooks.invoices.UPDATE,ZohoBooks.settings.READ")  # contacts: whom send=true emails
    entry = json.loads(desktop.stdout)["mcpServers"]["zoho-books-bookkeeper"]
    assert entry["args"][-4:] == ["--config", str(Path(path).resolve()), "--agent", "bookkeeper"]


def test_zbmcp_sandbox_serves_on_the_port_it_prints_with_the_credentials_it_prints():
    process = subprocess.Popen([*ZBMCP, "sandbox", "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        banner, said = {}, ""
        assert process.stdout is not None
        for line in process.stdout:
            said += line
            if ":" in line and line.startswith("  "):
                key, _, value = line.strip().partition(":")
                banner[key] = value.strip()
            if line.startswith("Press Ctrl-C"):
                break
        token = httpx2.post(f"{banner['Accounts URL']}/oauth/v2/token", data={
            "grant_type": "refresh_token", "client_id": banner["Client ID"],
            "client_secret": banner["Client secret"], "refresh_token": banner["Refresh token"]}).json()
        answer = httpx2.get(f"{banner['API base URL']}/organizations",
                            headers={"Authorization": f"Zoho-oauthtoken {token['access_token']}"})
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert stderr == ""  # uvicorn's "Started server process [pid]" and its like are not zbmcp's to print
    assert banner["API base URL"] == f"http://127.0.0.1:{said_port(said)}/books/v3"
    assert answer.status_code == 200 and answer.json()["code"] == 0
    assert [o["organization_id"] for o in answer.json()["organizations"]] == ["10234695", "10234696"]


def test_a_busy_sandbox_needs_a_plain_number_of_invoices():
    refused = subprocess.run([*ZBMCP, "sandbox", "--invoices", "-5"], capture_output=True, text=True,
                             timeout=30)
    assert refused.returncode == 2 and "'-5' is not a number of invoices: use 0 to 100000" in refused.stderr


def test_the_audit_command_shows_the_log_as_a_table(sandbox, home, tmp_path):
    path = tmp_path / "zbmcp.yaml"
    log = tmp_path / "audit.jsonl"
    path.write_text(config_text(sandbox, {"a": agent(["list_items"])}, audit={"path": str(log)}))
    log.write_text(
        '{"time": "2026-11-25T09:00:00.000Z", "agent": "a", "tool": "list_items", '
        '"organization": "10234695", "decision": "allowed", "http_status": 200, "duration_ms": 5, '
        '"sentence": "agent \\"a\\" listed 4 items"}\n'
        '{"time": "2026-11-25T10:00:00.000Z", "agent": "b", "tool": "create_invoice", '
        '"organization": "10234695", "decision": "denied", "http_status": null, "duration_ms": 0, '
        '"sentence": "agent \\"b\\" tried to create"}\n')
    env = {**environ(sandbox, home), "PATH": "/usr/bin"}
    shown = run("audit", "--config", str(path), "--agent", "a", env=env)
    assert shown.returncode == 0
    assert 'agent "a" listed 4 items' in shown.stdout and "tried to create" not in shown.stdout


def test_audit_help_shows_that_plain_zbmcp_audit_needs_no_action(capsys):
    with pytest.raises(SystemExit):
        cli.main(["audit", "--help"])
    usage = capsys.readouterr().out.split("\n\n")[0]
    plain, verify = usage.removeprefix("usage: ").split("zbmcp audit verify")
    assert plain.startswith("zbmcp audit [-h]") and "ACTION" not in plain and "..." not in plain
    assert "[FILE ...]" in verify


def test_every_command_and_option_says_what_it_is_in_help():
    """`zbmcp X --help` is where a person looks first: no bare option, no command without a sentence."""
    import argparse

    from zbmcp.cli.parser import build_parser

    bare: list[str] = []

    def walk(parser: argparse.ArgumentParser, name: str) -> None:
        if not parser.description:
            bare.append(f"{name}: no description")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    walk(sub, f"{name} {sub_name}")
            elif not action.help and action.dest != "help":
                bare.append(f"{name} {'/'.join(action.option_strings) or action.dest}")

    for command, sub in next(a for a in build_parser()._actions
                             if isinstance(a, argparse._SubParsersAction)).choices.items():
        walk(sub, command)
    assert bare == []


def test_the_audit_command_shows_one_kind_of_record(sandbox, home, tmp_path, capsys, monkeypatch):
    """`--event console` for the console's sign-ins, `--event oauth.token` for the connector's token steps."""
    path = tmp_path / "zbmcp.yaml"
    log = tmp_path / "audit.jsonl"
    path.write_text(config_text(sandbox, {"a": agent(["list_items"])}, audit={"path": str(log)}))
    records = [
        {"agent": "a", "tool": "list_items", "decision": "allowed", "sentence": 'agent "a" listed 4 items'},
        {"event": "console.sign_in", "decision": "denied", "sentence": 'sign-in as "oscar" failed'},
        {"event": "oauth.token", "decision": "denied", "sentence": "alice: token: denied (invalid_grant)"},
        {"event": "oauth.consent", "decision": "allowed", "sentence": "alice: consent: allowed books:read"},
        {"event": "approval.requested", "decision": "pending", "tool": "email_invoice",
         "sentence": "wants to email"},
    ]
    log.write_text("".join(json.dumps({"time": f"2026-11-25T09:0{i}:00Z", **r}) + "\n"
                           for i, r in enumerate(records)))
    for name, value in environ(sandbox, home).items():
        monkeypatch.setenv(name, value)

    def shown(*args: str) -> tuple[int, list[str]]:
        code = cli.main(["audit", "--config", str(path), "--json", *args])
        out, err = capsys.readouterr()
        return code, [json.loads(line)["sentence"] for line in out.splitlines()] if code == 0 else [err]

    sentences = [r["sentence"] for r in records]
    assert shown("--event", "call") == (0, sentences[:1])
    assert shown("--event", "oauth") == (0, sentences[2:4])
    assert shown("--event", "oauth.token") == (0, sentences[2:3])
    assert shown("--event", "console") == (0, sentences[1:2])
    assert shown("--event", "approval") == (0, sentences[4:])
    code, (error,) = shown("--event", "calls")
    assert code == 1 and "--event: 'calls' is not a kind of audit record; choose call (tool calls)" in error
