"""The sandbox over real sockets: SandboxServer (thread), AsyncSandboxServer, and
`python -m zbmcp.sandbox`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
import pytest

from zbmcp.sandbox import Fault, Sandbox
from zbmcp.sandbox.server import AsyncSandboxServer, SandboxServer

ROOT = Path(__file__).resolve().parents[2]


def _refresh(client: httpx2.Client, base_url: str, sandbox_creds: dict[str, str]) -> dict[str, object]:
    response = client.post(f"{base_url}/oauth/v2/token",
                           data={"grant_type": "refresh_token", **sandbox_creds})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_sandbox_server_serves_api_and_accounts_on_loopback() -> None:
    sandbox = Sandbox()
    creds = sandbox.credentials
    with SandboxServer(sandbox) as server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)
        assert server.api_base_url == server.base_url + "/books/v3" and server.accounts_url == server.base_url
        with httpx2.Client() as client:
            token = _refresh(client, server.base_url, {"client_id": creds.client_id,
                                                       "client_secret": creds.client_secret,
                                                       "refresh_token": creds.refresh_token})
            assert token["api_domain"] == server.base_url
            response = client.get(f"{token['api_domain']}/books/v3/organizations",
                                  headers={"Authorization": f"Zoho-oauthtoken {token['access_token']}"})
            assert response.status_code == 200
            assert [org["organization_id"] for org in response.json()["organizations"]] \
                == creds.organization_ids
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(server.api_base_url + "/organizations")


def test_a_dropped_connection_over_a_real_socket_after_the_write() -> None:
    sandbox = Sandbox()
    token = sandbox.mint_access_token(["ZohoBooks.contacts.ALL"])
    sandbox.faults.add(Fault(kind="drop_after", route="POST /contacts", times=1))
    with SandboxServer(sandbox) as server, httpx2.Client(
            base_url=server.api_base_url, params={"organization_id": "10234695"},
            headers={"Authorization": f"Zoho-oauthtoken {token}"}) as client:
        with pytest.raises(httpx2.RemoteProtocolError):
            client.post("/contacts", json={"contact_name": "Lost Reply Ltd"})
        assert sandbox.store("10234695").find("contacts", contact_name="Lost Reply Ltd") is not None
        assert client.get("/contacts").status_code == 200  # the server carries on


async def test_async_server_runs_in_the_callers_loop() -> None:
    sandbox = Sandbox()
    token = sandbox.mint_access_token(["ZohoBooks.settings.READ"])
    release, entered = anyio.Event(), anyio.Event()
    sandbox.faults.add(Fault(kind="hold", route="GET /items", times=1, release=release, entered=entered))
    async with AsyncSandboxServer(sandbox) as server, httpx2.AsyncClient(
            base_url=server.api_base_url, headers={"Authorization": f"Zoho-oauthtoken {token}"}) as client:
        statuses: list[int] = []

        async def held() -> None:
            statuses.append((await client.get("/items", params={"organization_id": "10234695"})).status_code)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                group.start_soon(held)
                await entered.wait()
                assert (await client.get("/organizations")).status_code == 200
                release.set()
        assert statuses == [200]


def test_python_m_zbmcp_sandbox_prints_working_credentials() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    # port 0: it binds a free port and the banner names it (a port picked beforehand could be taken first)
    with subprocess.Popen([sys.executable, "-m", "zbmcp.sandbox", "--port", "0"], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            banner = []
            for line in process.stdout:
                banner.append(line)
                if "Ctrl-C" in line:
                    break
            text = "".join(banner)
            assert "Ctrl-C" in text, text

            def field(label: str) -> str:
                found = re.search(rf"^\s*{label}:\s+(\S+)", text, re.MULTILINE)
                assert found, f"{label} missing from the banner:\n{text}"
                return found.group(1)

            api_base = field("API base URL")
            assert re.fullmatch(r"http://127\.0\.0\.1:[1-9][0-9]*/books/v3", api_base), api_base
            assert "10234695" in field("Organizations") and "curl" in text
            with httpx2.Client(timeout=10) as client:
                token = _refresh(client, field("Accounts URL"), {
                    "client_id": field("Client ID"), "client_secret": field("Client secret"),
                    "refresh_token": field("Refresh token")})
                response = client.get(f"{api_base}/organizations",
                                      headers={"Authorization": f"Zoho-oauthtoken {token['access_token']}"})
            assert response.status_code == 200 and response.json()["code"] == 0
        finally:
            process.send_signal(signal.SIGINT)
            _, errors = process.communicate(timeout=10)
    assert process.returncode == 0, errors
    assert field("Client secret") not in errors and field("Refresh token") not in errors  # never in the logs
