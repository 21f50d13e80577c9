"""The README stays true: its first section's commands work as written, and its worked example says what each
agent sees."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client, StdioServerParameters

from tests.conftest import assert_demo_listing, said_port
from zbmcp.core.config_parse import parse_config
from zbmcp.calls.catalog import load_manifests
from zbmcp.core.policy import policies

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def configuration_example() -> str:
    section = README.split("## Configuration", 1)[1]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)


def test_the_worked_example_gives_each_agent_what_the_readme_says():
    env = {"ZOHO_CLIENT_ID": "1000.X", "ZOHO_CLIENT_SECRET": "s", "ZOHO_REFRESH_TOKEN": "r"}
    loaded = parse_config(configuration_example(), "README.md", env)
    specs = load_manifests()
    agents = policies(loaded, specs)
    reporting, bookkeeper = agents["reporting"], agents["bookkeeper"]
    reads = {name for name, spec in specs.items() if spec.access == "read" and not spec.generated}
    assert set(reporting.visible) == reads  # `*:read` without `catalog: whole`: hand-written reads only
    assert f"`reporting` sees the {len(reads)} hand-written read tools" in " ".join(README.split())
    hand = {name for name, spec in specs.items() if not spec.generated}
    assert f"picks only the {len(hand)} hand-written tools unless" in " ".join(README.split())
    assert set(bookkeeper.visible) == {"list_invoices", "get_invoice", "create_invoice", "update_invoice",
                                       "mark_invoice_sent", "mark_invoice_void", "mark_invoice_draft",
                                       "email_invoice", "list_contacts", "get_contact",
                                       "list_items"}
    assert f"`bookkeeper` sees {len(bookkeeper.visible)} tools" in README
    assert bookkeeper.needs_approval == {"email_invoice"}
    assert reporting.organizations == bookkeeper.organizations == ("10234695",)


# -- the first section: from a fresh clone to a tool call, one copy-paste per step ---------------------------

NODE_TOOLS = REPO / "tests" / "node"
NODE_22 = NODE_TOOLS / "node_modules" / "node" / "bin" / "node"
INSPECTOR = NODE_TOOLS / "node_modules" / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" \
    / "build"
PINNED = json.loads((NODE_TOOLS / "package.json").read_text())["devDependencies"]
NPX_INSPECTOR = ["npx", "-y", f"@modelcontextprotocol/inspector@{PINNED['@modelcontextprotocol/inspector']}"]
# the venv's console script: .venv/bin/zbmcp in CI and the brief
ZBMCP = Path(sys.executable).parent / "zbmcp"
needs_inspector = pytest.mark.skipif(
    not (NODE_22.is_file() and INSPECTOR.is_dir()),
    reason="the MCP Inspector and Node 22 are not installed: run `npm ci --prefix tests/node "
           "--no-audit --no-fund`")


def first_section_commands() -> list[str]:
    section = README.split("## Try it now", 1)[1].split("\n## ", 1)[0]
    return [line for block in re.findall(r"```bash\n(.*?)```", section, re.S) for line in block.splitlines()]


def as_run_here(command: str) -> list[str]:
    """The README's command, with the venv's zbmcp for `.venv/bin/zbmcp` and the
    pinned Inspector for `npx`."""
    words = shlex.split(command)
    if words[:3] == NPX_INSPECTOR:
        words = [str(NODE_22), str(INSPECTOR / "index.js"), *words[3:]]
    return [str(ZBMCP) if word == ".venv/bin/zbmcp" else word for word in words]


async def inspect(command: list[str], tmp_path: Path) -> Any:
    env = {**os.environ, "MCP_STORAGE_DIR": str(tmp_path / "inspector"),
           "MCP_INSPECTOR_SECRET_STORE": "memory", "NODE_NO_WARNINGS": "1",
           "ZBMCP_HOME": str(tmp_path / "home")}
    with anyio.fail_after(60):
        done = await anyio.run_process(command, cwd=REPO, env=env, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def test_the_first_step_is_the_install_and_every_npx_uses_the_inspector_the_tests_pin():
    commands = first_section_commands()
    assert commands[0] == "python3 -m venv .venv && .venv/bin/pip install -e ."
    npx = [c for c in commands if c.startswith("npx")]
    assert len(npx) == 2 and all(shlex.split(c)[:3] == NPX_INSPECTOR for c in npx)


@needs_inspector
async def test_the_readme_inspector_command_calls_a_tool_on_the_sandbox_over_stdio(tmp_path):
    command = next(c for c in first_section_commands() if c.startswith("npx")
                   and "--cli .venv/bin/zbmcp" in c)
    # a number to the Inspector: zbmcp takes its digits
    assert "--tool-arg organization_id=10234695" in command
    answer = await inspect(as_run_here(command), tmp_path)
    listed = json.loads(answer["content"][0]["text"])  # the text is the compact result, as JSON
    assert listed["summary"].startswith("Listed 2 invoices") and len(listed["invoices"]) == 2


async def test_the_command_the_readme_gives_a_client_is_absolute_and_serves_the_sandbox(tmp_path):
    echo = next(c for c in first_section_commands() if c.startswith("echo"))
    printed = subprocess.run(["bash", "-c", echo], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout
    program, *arguments = printed.split()
    assert Path(program).is_absolute() and program == str(REPO / ".venv" / "bin" / "zbmcp")
    params = StdioServerParameters(command=str(ZBMCP), args=arguments,
                                   env={**os.environ, "ZBMCP_HOME": str(tmp_path)}, cwd=str(tmp_path))
    with anyio.fail_after(60):
        async with Client(params) as client:
            tools = (await client.list_tools()).tools
    assert arguments == ["serve", "--sandbox"]
    assert_demo_listing(tool.name for tool in tools)
    assert f"which may use all {len(load_manifests())} tools" in " ".join(README.split())


@needs_inspector
async def test_the_readme_http_commands_work_without_a_key(tmp_path):
    commands = first_section_commands()
    serve = next(c for c in commands if c.startswith(".venv/bin/zbmcp serve"))
    look = next(c for c in commands if c.startswith("npx") and "http://127.0.0.1:8000/mcp" in c)
    env = {**os.environ, "ZBMCP_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    with anyio.fail_after(60):
        # the README's 8000 may be taken on a shared machine: port 0 binds a free one, which it names
        async with await anyio.open_process([*as_run_here(serve), "--port", "0"], stdin=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, env=env) as server:
            assert server.stderr is not None
            stderr = BufferedByteReceiveStream(server.stderr)
            said = ""
            while "serving MCP on" not in said:
                said += (await stderr.receive_until(b"\n", 1 << 16)).decode() + "\n"
            port = said_port(said, after="serving MCP on ")
            answer = await inspect(as_run_here(look.replace(":8000/", f":{port}/")), tmp_path)
            server.terminate()
            await server.wait()
    assert "no key needed" in said and f"http://127.0.0.1:{port}" in said
    assert_demo_listing(tool["name"] for tool in answer["tools"])
