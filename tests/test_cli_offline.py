"""The commands that contact nothing work without the secrets a config reads from the environment; the sandbox
needs no config at all; `doctor` says when an agent would approve its own calls."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from tests.conftest import ORG, agent, running
from zbmcp.calls.catalog import load_manifests
from zbmcp.cli.doctor import doctor

# The README's example, on a fleet: every secret and the Redis URL come from the environment.
FLEET_CONFIG = """\
connections:
  main:
    region: eu
    client_id: ${ZOHO_CLIENT_ID}
    client_secret: ${ZOHO_CLIENT_SECRET}
    refresh_token: ${ZOHO_REFRESH_TOKEN}
state:
  backend: redis
  url: ${ZBMCP_REDIS_URL}
  encryption_key: ${ZBMCP_STATE_KEY}
console:
  webhook_url: ${SLACK_WEBHOOK_URL}
agents:
  bookkeeper:
    connection: main
    organizations: ["10234695"]
    tools: ["invoices:*", list_items]
    exclude: [delete_invoice]
"""
SECRETS = ("ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN", "ZBMCP_REDIS_URL", "ZBMCP_STATE_KEY",
           "SLACK_WEBHOOK_URL")


def zbmcp(*args: str, cwd: Path, home: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The command in a fresh shell's environment: none of the config's variables set, an empty home."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    return subprocess.run([sys.executable, "-m", "zbmcp", *args], capture_output=True, text=True, timeout=60,
                          env=env, cwd=cwd, input=stdin)


def test_tools_scopes_claude_config_and_keys_need_none_of_the_configs_secrets(tmp_path):
    path = tmp_path / "zbmcp.yaml"
    path.write_text(FLEET_CONFIG)
    home = tmp_path / "home"
    mine = zbmcp("tools", "--config", str(path), "--agent", "bookkeeper", cwd=tmp_path, home=home)
    scopes = zbmcp("scopes", "--config", str(path), "--agent", "bookkeeper", cwd=tmp_path, home=home)
    desktop = zbmcp("claude-config", "--config", str(path), "--agent", "bookkeeper", cwd=tmp_path, home=home)
    compare = zbmcp("access", "compare", str(path), str(path), cwd=tmp_path, home=home)
    key = zbmcp("agent", "key", "bookkeeper", "--config", str(path), cwd=tmp_path, home=home)
    operator = zbmcp("operator", "add", "olivia", "--config", str(path), cwd=tmp_path, home=home)
    for done in (mine, scopes, desktop, compare, key, operator):
        assert done.returncode == 0, done.stderr
    assert f"Agent 'bookkeeper' sees 9 of {len(load_manifests())} tools." in mine.stdout
    assert "ZBMCP_REDIS_URL and ZBMCP_STATE_KEY are not set, so the scopes granted" in mine.stderr
    # contacts.READ: zbmcp reads whom create_invoice's send=true would email
    assert scopes.stdout.strip() == ("ZohoBooks.contacts.READ,ZohoBooks.invoices.CREATE,"
                                     "ZohoBooks.invoices.READ,ZohoBooks.invoices.UPDATE,ZohoBooks.settings.READ")
    entry = json.loads(desktop.stdout)["mcpServers"]["zoho-books-bookkeeper"]
    assert entry["env"] == {name: f"<the value of {name}>" for name in SECRETS}
    assert compare.stdout == "No agent would gain or lose anything.\n"
    # the file keeps its references: nothing read in place of a variable is ever written
    written = path.read_text()
    assert key.stdout.startswith("zbmcp_") and "${" + "ZOHO_CLIENT_SECRET}" in written
    added = [line for line in written.splitlines() if line not in FLEET_CONFIG.splitlines()]
    assert [line.split(":")[0].strip() for line in added] == ["api_keys", "operators", "olivia"]
    assert "${" not in "".join(added) and "<" not in "".join(added)


def test_the_commands_that_reach_zoho_still_need_its_secrets(tmp_path):
    path = tmp_path / "zbmcp.yaml"
    path.write_text(FLEET_CONFIG)
    for command in (["doctor"], ["auth", "status"], ["serve", "--agent", "bookkeeper"]):
        done = zbmcp(*command, "--config", str(path), cwd=tmp_path, home=tmp_path / "home")
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith(f"zbmcp: {path}:4: environment variable ZOHO_CLIENT_ID is not set")


def test_a_value_that_is_set_is_still_checked(tmp_path):
    path = tmp_path / "zbmcp.yaml"
    path.write_text(FLEET_CONFIG)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ZBMCP_REDIS_URL": "http://redis.example:6379"}
    done = subprocess.run([sys.executable, "-m", "zbmcp", "scopes", "--config", str(path), "--agent",
                           "bookkeeper"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1 and "state.url: not a Redis URL" in done.stderr


def test_a_server_checks_a_value_even_when_it_looks_like_a_variable(tmp_path):
    path = tmp_path / "zbmcp.yaml"
    path.write_text(FLEET_CONFIG)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **{name: "x" for name in SECRETS},
           "ZBMCP_REDIS_URL": "redis://127.0.0.1:1/0", "ZBMCP_STATE_KEY": "${K}",  # 4 characters of key
           "SLACK_WEBHOOK_URL": "https://hooks.example/1"}
    done = subprocess.run([sys.executable, "-m", "zbmcp", "doctor", "--config", str(path)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1 and "state.encryption_key: needs at least 32 characters" in done.stderr


def test_doctor_checks_the_sandbox_without_a_config(tmp_path):
    done = zbmcp("doctor", "--sandbox", cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("ok   config: the embedded sandbox's, as `zbmcp serve --sandbox` runs it")
    assert all(line.startswith("ok ") for line in lines)
    assert "ok   agent 'demo': organizations 10234695, 10234696 reachable" in lines
    assert list(tmp_path.iterdir()) == []  # no config, no token, nothing written


def test_doctor_sandbox_is_not_a_config_file(tmp_path):
    done = zbmcp("doctor", "--sandbox", "--config", "zbmcp.yaml", cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 1 and "leave out --config" in done.stderr


async def test_claude_config_for_the_sandbox_starts_the_sandbox_without_a_config(tmp_path):
    done = zbmcp("claude-config", "--sandbox", cwd=tmp_path, home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)["mcpServers"]["zoho-books-sandbox"]
    assert Path(entry["command"]).is_absolute() and "env" not in entry
    params = StdioServerParameters(command=entry["command"], args=entry["args"], cwd=str(tmp_path),
                                   env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home")})
    with anyio.fail_after(60):
        async with Client(params) as client:
            listed = await client.call_tool("list_invoices", {"organization_id": ORG, "per_page": 1})
    assert not listed.is_error and listed.structured_content["summary"].startswith("Listed 1 invoice")


async def test_doctor_warns_when_an_agent_with_api_keys_would_approve_its_own_calls(make_config, sandbox):
    key = "sha256:" + "ab" * 32
    loaded = make_config({
        "self-approver": agent(["invoices:*"], api_keys=[key], approval="client",
                               require_approval=["email_invoice"]),
        "big-spender": agent(["bills:*"], api_keys=["sha256:" + "cd" * 32], approval="client",
                             rules=[{"approve": "amount > 5000.0", "name": "big-amounts"}]),
        "desktop": agent(["invoices:*"], approval="client", require_approval=["email_invoice"]),
        "hosted": agent(["invoices:*"], api_keys=["sha256:" + "ef" * 32], require_approval=["email_invoice"]),
        "asks-nothing": agent(["invoices:read"], api_keys=["sha256:" + "01" * 32], approval="client"),
    })
    async with running(loaded, sandbox) as runtime:
        healthy, lines = await doctor(loaded, runtime)
    warnings = [line for line in lines if line.startswith("WARN")]
    assert healthy  # a warning: the config may be meant so (a person's client in between)
    advice = ("so the agent approves its own calls. Remove `approval: client` to have an operator decide in "
              "the console, unless a person's own client sits between the agent and zbmcp.")
    assert warnings == [
        "WARN agent 'self-approver' has API keys and `approval: client`: over HTTP the agent's own MCP "
        f"client answers the approval questions (require_approval: email_invoice), {advice}",
        "WARN agent 'big-spender' has API keys and `approval: client`: over HTTP the agent's own MCP "
        f"client answers the approval questions (rule big-amounts), {advice}",
    ]
