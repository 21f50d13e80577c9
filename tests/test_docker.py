"""The Docker image, built from the Dockerfile and run as docs/hosting.md says a hosting user runs it: the
config mounted read-only, a named volume for /data, the Zoho secrets as environment variables, a key
per agent. Zoho is the sandbox, in a container of its own from the same image on a network of their own.

It needs a Docker daemon (`.ci/run` starts Debian's). The Dockerfile's base comes from the public registry;
where that cannot be reached, ZBMCP_DOCKER_BASE_IMAGE names an equivalent (`.ci/run` makes one from Debian's
packages with `.ci/debian-base`)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import ORG
from zbmcp.core.credentials import new_api_key
from zbmcp.sandbox.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN

REPO = Path(__file__).resolve().parent.parent
IMAGE = "zbmcp-test:latest"
BASE_IMAGE = os.environ.get("ZBMCP_DOCKER_BASE_IMAGE")


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:2])} failed ({done.returncode}):\n"
                             f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done


def docker_daemon() -> str | None:
    """Why there is no daemon to use, or None."""
    if shutil.which("docker") is None:
        return "the docker command is not installed (Debian: docker.io; .ci/run installs it)"
    try:
        info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                              text=True, timeout=20, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "the Docker daemon did not answer within 20 s"
    if info.returncode != 0:
        return "no Docker daemon is running (.ci/run starts one)"
    return None


pytestmark = pytest.mark.skipif(docker_daemon() is not None, reason=f"Docker: {docker_daemon()}")


@pytest.fixture(scope="module")
def image() -> str:
    if BASE_IMAGE:
        base = ["--build-arg", f"BASE_IMAGE={BASE_IMAGE}"]
    else:
        base = []
        default = "python:3.11-slim"
        if docker("image", "inspect", default, check=False).returncode != 0 \
                and docker("pull", default, timeout=300, check=False).returncode != 0:
            pytest.skip(f"Docker: the Dockerfile's base {default} cannot be pulled here: set "
                        "ZBMCP_DOCKER_BASE_IMAGE to an equivalent, such as the one `.ci/debian-base` makes")
    docker("build", "-q", *base, "-t", IMAGE, str(REPO), timeout=900)
    return IMAGE


def config(key_hash: str) -> str:
    """The zbmcp.yaml a hosting user mounts: Zoho's secrets from the environment, audit on /data."""
    return f"""\
connections:
  main:
    region: com
    client_id: {DEFAULT_CLIENT_ID}
    client_secret: ${{ZOHO_CLIENT_SECRET}}
    refresh_token: ${{ZOHO_REFRESH_TOKEN}}
    api_base_url: http://zoho:8765/books/v3
    accounts_url: http://zoho:8765
agents:
  bookkeeper:
    api_keys: ["{key_hash}"]
    connection: main
    organizations: ["{ORG}"]
    tools: ["invoices:read", "contacts:read"]
audit:
  path: /data/zbmcp-audit.jsonl
"""


@pytest.fixture
def names() -> Iterator[dict[str, str]]:
    """Names of this test's own network, containers and volume, removed afterwards whatever happened."""
    tag = "zbmcp-test-" + secrets.token_hex(4)
    made = {"network": tag, "zoho": f"{tag}-zoho", "zbmcp": f"{tag}-zbmcp", "data": f"{tag}-data"}
    yield made
    docker("rm", "-f", "-v", made["zbmcp"], made["zoho"], check=False)
    docker("volume", "rm", "-f", made["data"], check=False)
    docker("network", "rm", made["network"], check=False)


def wait_for(what: str, condition: Callable[[], bool], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.5)


def health(name: str) -> str:
    return docker("inspect", "--format", "{{.State.Health.Status}}", name).stdout.strip()


async def test_the_image_serves_a_tool_call_as_a_non_root_user_and_stops_cleanly_on_sigterm(
        image, names, tmp_path):
    key, key_hash = new_api_key()
    path = tmp_path / "zbmcp.yaml"
    path.write_text(config(key_hash))
    path.chmod(0o644)  # read by the image's user, uid 10001
    docker("network", "create", names["network"])
    docker("run", "-d", "--name", names["zoho"], "--network", names["network"], "--network-alias", "zoho",
           image, "sandbox", "--host", "0.0.0.0", "--port", "8765")
    env = {**os.environ, "ZOHO_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
           "ZOHO_REFRESH_TOKEN": DEFAULT_REFRESH_TOKEN}
    # docs/hosting.md's `docker run`, on a port of loopback that is free; the health check polled faster
    run = subprocess.run(
        ["docker", "run", "-d", "--name", names["zbmcp"], "--network", names["network"],
         "-p", "127.0.0.1::8000", "-v", f"{path}:/config/zbmcp.yaml:ro", "-v", f"{names['data']}:/data",
         "-e", "ZOHO_CLIENT_SECRET", "-e", "ZOHO_REFRESH_TOKEN", "--stop-timeout", "35",
         "--health-interval", "1s", image],
        capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    wait_for("the image's HEALTHCHECK to pass", lambda: health(names["zbmcp"]) == "healthy")
    host_port = docker("port", names["zbmcp"], "8000/tcp").stdout.split()[0]
    base = f"http://{host_port}"

    async with httpx2.AsyncClient(timeout=30) as plain:
        healthz = await plain.get(f"{base}/healthz")
        keyless = await plain.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                   headers={"Accept": "application/json, text/event-stream"})
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        with anyio.fail_after(60):
            async with Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
                listed = await client.call_tool("list_invoices", {"per_page": 2})
                refused = await client.call_tool("create_invoice", {"customer_id": "1", "line_items": []})

    status = docker("exec", names["zbmcp"], "cat", "/proc/1/status").stdout
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    audit = docker("exec", names["zbmcp"], "zbmcp", "audit", "--json").stdout
    stopped_at = time.monotonic()
    docker("stop", "--time", "35", names["zbmcp"], timeout=60)
    took = time.monotonic() - stopped_at
    state = json.loads(docker("inspect", "--format", "{{json .State}}", names["zbmcp"]).stdout)
    logs = docker("logs", names["zbmcp"])

    assert healthz.status_code == 200 and healthz.json()["status"] == "ok"
    assert keyless.status_code == 401
    assert tools == {"list_invoices", "get_invoice", "list_contacts", "get_contact"}
    assert not listed.is_error, listed.content
    assert listed.structured_content["summary"].startswith("Listed 2 invoices")
    assert refused.is_error  # a tool the agent cannot see, refused before anything is sent
    assert uid_line.split()[1:] == ["10001"] * 4  # real, effective, saved and file-system uid of PID 1
    records = [json.loads(line) for line in audit.splitlines()]
    assert [(r["tool"], r["decision"]) for r in records] == [("list_invoices", "allowed"),
                                                             ("create_invoice", "denied")]
    assert state["ExitCode"] == 0 and not state["OOMKilled"], (state, logs.stderr[-2000:])
    assert took < 30  # it stopped on SIGTERM, not when `docker stop` gave up and killed it
