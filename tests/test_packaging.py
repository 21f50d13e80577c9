"""How zbmcp reaches users: the Claude Desktop config entry, the MCP Bundle, and the Docker image.

The bundle's manifest is validated by the pinned MCPB CLI (tests/node). The Dockerfile's promises are checked
here as written, and its health check against a real server; tests/test_docker.py builds the image and runs
it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import agent, environ, running, serving
from zbmcp import __version__
from zbmcp.cli import main
from zbmcp.cli.parser import build_parser

REPO = Path(__file__).resolve().parent.parent
BUNDLE = REPO / "packaging" / "mcpb"
MCPB = REPO / "tests" / "node" / "node_modules" / ".bin" / "mcpb"
needs_mcpb = pytest.mark.skipif(not MCPB.exists() or shutil.which("node") is None,
                                reason="the MCPB CLI is not installed: run "
                                       "`npm ci --prefix tests/node --no-audit --no-fund`")


@pytest.fixture
def secrets_in_env(sandbox, home, monkeypatch):
    """The config refers to its secrets as ${VARIABLES}; set them as a user's shell would."""
    for name, value in environ(sandbox, home).items():
        monkeypatch.setenv(name, value)


# -- Claude Desktop: claude_desktop_config.json ---------------------------------------------------------


async def test_claude_config_prints_an_entry_that_starts_the_agents_stdio_server(
        make_config, secrets_in_env, sandbox, home, capsys):
    loaded = make_config({"reader": agent(["invoices:read"]), "writer": agent(["invoices:*"])})
    assert main(["claude-config", "--agent", "reader", "--config", loaded.source.file]) == 0
    out, err = capsys.readouterr()
    entry = json.loads(out)
    (name, server), = entry["mcpServers"].items()
    assert name == "zoho-books-reader"
    assert Path(server["command"]).is_absolute() and "--agent" in server["args"]
    # The config's ${VARIABLES} are listed for the user to fill in, their values never printed.
    secrets = environ(sandbox, home)
    assert set(server["env"]) == {"SANDBOX_CLIENT_SECRET", "SANDBOX_REFRESH_TOKEN", "ZBMCP_HOME"}
    assert server["env"]["ZBMCP_HOME"] == str(home.resolve())
    assert "SANDBOX_CLIENT_SECRET" in err
    for secret in (secrets["SANDBOX_CLIENT_SECRET"], secrets["SANDBOX_REFRESH_TOKEN"]):
        assert secret not in out + err

    # What Claude Desktop does with it, once filled in: start it without the user's shell environment.
    filled = {name: secrets.get(name, value) for name, value in server["env"].items()}
    params = StdioServerParameters(command=server["command"], args=server["args"],
                                   env={"PATH": os.environ.get("PATH", ""), **filled})
    with anyio.fail_after(30):
        async with Client(params) as claude:
            tools = {tool.name for tool in (await claude.list_tools()).tools}
    assert tools == {"list_invoices", "get_invoice"}


def test_claude_config_refuses_an_unknown_agent(make_config, secrets_in_env, capsys):
    loaded = make_config({"reader": agent(["invoices:read"])})
    assert main(["claude-config", "--agent", "nobody", "--config", loaded.source.file]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "nobody" in err and "reader" in err


# -- the MCP Bundle (packaging/mcpb) ----------------------------------------------------------------------


def manifest() -> dict:
    return json.loads((BUNDLE / "manifest.json").read_text())


@needs_mcpb
def test_the_bundle_manifest_validates_with_the_mcpb_cli():
    done = subprocess.run([str(MCPB), "validate", str(BUNDLE / "manifest.json")], capture_output=True,
                          text=True, timeout=60, cwd=REPO / "tests" / "node")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Manifest schema validation passes" in done.stdout


def test_the_bundle_asks_for_the_config_file_and_agent_and_passes_them_to_zbmcp():
    data = manifest()
    assert data["version"] == __version__
    assert data["server"]["type"] == "uv" and (BUNDLE / data["server"]["entry_point"]).is_file()
    settings = data["user_config"]
    assert settings["config_file"]["type"] == "file" and settings["config_file"]["required"] is True
    assert settings["agent"]["type"] == "string" and settings["agent"]["required"] is True
    launch = data["server"]["mcp_config"]
    used = set(re.findall(r"\$\{user_config\.(\w+)\}", json.dumps(launch)))
    assert used == set(settings)  # every setting reaches the server, and nothing undefined is referenced
    pyproject = (BUNDLE / "pyproject.toml").read_text()
    assert f'"zbmcp=={__version__}"' in pyproject and f"zbmcp-{__version__}-py3-none-any.whl" in pyproject


async def test_the_bundle_entry_point_serves_the_chosen_agent_over_stdio(
        make_config, secrets_in_env):
    loaded = make_config({"reader": agent(["invoices:read"]), "writer": agent(["invoices:*"])})
    launch = manifest()["server"]["mcp_config"]
    env = {**os.environ, **{name: value.replace("${user_config.config_file}", loaded.source.file)
                                        .replace("${user_config.agent}", "reader")
                            for name, value in launch["env"].items()}}
    # As the host runs it, minus uv: this venv already has zbmcp and its dependencies.
    entry_point = BUNDLE / manifest()["server"]["entry_point"]
    params = StdioServerParameters(command=sys.executable, args=[str(entry_point)], env=env)
    with anyio.fail_after(30):
        async with Client(params) as claude:
            tools = {tool.name for tool in (await claude.list_tools()).tools}
    assert tools == {"list_invoices", "get_invoice"}


def test_the_bundle_entry_point_says_what_to_set_when_the_settings_are_missing():
    env = {**os.environ, "ZBMCP_CONFIG": "${user_config.config_file}"}
    env.pop("ZBMCP_AGENT", None)
    done = subprocess.run([sys.executable, str(BUNDLE / "src" / "server.py")], capture_output=True, text=True,
                          env=env, timeout=30, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and done.stdout == ""
    assert "choose the config file and the agent" in done.stderr


# -- the Docker image, as written (tests/test_docker.py builds and runs it) ---------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    instructions = [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]
    last_from = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last_from:]


def test_the_image_is_small_runs_as_a_user_and_serves_http_by_default():
    final = dockerfile()
    ops = dict(final)  # the last of each instruction wins, as in Docker
    base = re.search(r"^ARG BASE_IMAGE=(\S+)$", (REPO / "Dockerfile").read_text(), re.M)
    assert final[0][1] == "${BASE_IMAGE}" and base and base.group(1) == "python:3.11-slim"
    user = ops["USER"].split(":")[0]
    assert user not in ("root", "0")
    assert json.loads(ops["ENTRYPOINT"]) == ["zbmcp"]
    command = json.loads(ops["CMD"])
    served = build_parser().parse_args(command)  # the default command is one zbmcp accepts
    assert (served.transport, served.host, served.port) == ("http", "0.0.0.0", 8000)
    assert set(json.loads(ops["VOLUME"])) == {"/config", "/data"}
    env = " ".join(arguments for op, arguments in final if op == "ENV")
    assert "ZBMCP_CONFIG=/config/zbmcp.yaml" in env and "ZBMCP_HOME=/data" in env
    assert ops["EXPOSE"] == "8000"
    assert "/healthz" in ops["HEALTHCHECK"]
    copied = [arguments.split()[-2] for op, arguments in final if op == "COPY"]
    assert copied == ["/opt/zbmcp"]  # only the built venv reaches the final image: no compiler, no sources


def test_the_build_context_holds_what_the_image_copies():
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    sources = [part for line in text.splitlines() if line.startswith("COPY ") and "--from" not in line
               for part in line.split()[1:-1]]
    allowed = [line[1:].rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.startswith("!")]
    assert sources and all((REPO / source).exists() for source in sources)
    assert sorted(s.rstrip("/") for s in sources) == sorted(allowed)


async def test_the_image_health_check_passes_on_a_serving_zbmcp_and_fails_when_it_is_gone(
        make_config, sandbox):
    health = json.loads(dict(dockerfile())["HEALTHCHECK"].split("CMD", 1)[1])
    assert health[:2] == ["python", "-c"]
    probe = health[2]
    loaded = make_config({"reader": agent(["invoices:read"])})
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        check = probe.replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")
        healthy = await anyio.run_process([sys.executable, "-c", check], check=False)
    gone = await anyio.run_process([sys.executable, "-c", check], check=False)
    assert healthy.returncode == 0, healthy.stderr.decode()
    assert gone.returncode != 0
