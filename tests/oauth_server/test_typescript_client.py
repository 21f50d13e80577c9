"""The TypeScript SDK's OAuth client (Node, pinned in tests/node): the current v2 package, which prefers a
Client ID Metadata Document and checks `iss`, and the 1.x package older clients and the Inspector built on,
which registers dynamically. Each knows only the URL, and gets from the 401 to working tool calls.

Needs `npm ci --prefix tests/node --no-audit --no-fund` (CI does it); without it these tests skip.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import ORG
from tests.oauth_server.conftest import ALICE, connector, person
from tests.oauth_server.tls import metadata_host

NODE_TOOLS = Path(__file__).resolve().parent.parent / "node"
SCRIPT = NODE_TOOLS / "oauth-client.mjs"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed"),
    pytest.mark.skipif(not (NODE_TOOLS / "node_modules/@modelcontextprotocol/client").is_dir(),
                       reason="the TypeScript SDK is not installed: run "
                              "`npm ci --prefix tests/node --no-audit --no-fund`"),
]

AGENTS = {"bookkeeper": person(["invoices:read", "contacts:*"], [ALICE])}


async def typescript_client(*arguments: str) -> dict[str, Any]:
    env = {**os.environ, "NODE_NO_WARNINGS": "1"}
    with anyio.fail_after(60):
        done = await anyio.run_process([str(NODE), str(SCRIPT), *arguments], cwd=NODE_TOOLS, env=env,
                                       check=False)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    answer: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return answer


@pytest.mark.parametrize("sdk", ["v2", "v1"])
async def test_the_typescript_sdk_registers_signs_in_and_lists_tools(make_config, sandbox, sdk):
    async with connector(make_config, sandbox, AGENTS) as zb:
        answer = await typescript_client("--sdk", sdk, "--url", zb.url, "--email", ALICE)
    assert answer["tools"] == ["create_contact", "delete_contact", "get_contact", "get_invoice",
                               "list_contacts", "list_invoices", "update_contact"]
    assert answer["registered"] is True and answer["scope"] == "books:read" and answer["authorizations"] == 1
    assert [e["step"] for e in zb.events() if e["decision"] == "allowed"] == [
        "register", "sign-in", "consent", "token"]


async def test_the_typescript_sdk_steps_up_to_write_after_a_scope_challenge(make_config, sandbox):
    async with connector(make_config, sandbox, AGENTS) as zb:
        answer = await typescript_client("--sdk", "v2", "--url", zb.url, "--email", ALICE, "--write", ORG)
    assert answer["write"]["isError"] is False, answer
    assert answer["authorizations"] == 2 and set(answer["scope"].split()) == {"books:read", "books:write"}
    assert sandbox.store(ORG).find("contacts", contact_name="Made by v2")
    assert [e["error"] for e in zb.events("scope")] == ["insufficient_scope"]
    assert zb.calls()[-1]["person"] == ALICE and zb.calls()[-1]["tool"] == "create_contact"


async def test_an_older_client_that_cannot_step_up_is_told_why_and_writes_nothing(make_config, sandbox):
    # The 1.x SDK answers a scope challenge by refreshing its token, which cannot widen a grant (OAuth 2.1
    # §4.3.1), so it sees the same challenge again and gives up: the write never reaches Zoho.
    async with connector(make_config, sandbox, AGENTS) as zb:
        answer = await typescript_client("--sdk", "v1", "--url", zb.url, "--email", ALICE, "--write", ORG)
    assert "403" in answer["write"]["failed"] and answer["scope"] == "books:read"
    assert not sandbox.store(ORG).find("contacts", contact_name="Made by v1")
    assert {e["error"] for e in zb.events("scope")} == {"insufficient_scope"}
    assert not [r for r in sandbox.api_requests if r.method == "POST"]


async def test_the_typescript_sdk_uses_a_client_id_metadata_document(make_config, sandbox, tmp_path):
    async with metadata_host(tmp_path) as host:
        client_id = host.publish("/typescript.json", client_name="TypeScript SDK v2")
        oauth = {"client_metadata_documents": {"allow_private_networks": True, "ca_file": str(host.ca_file)}}
        async with connector(make_config, sandbox, AGENTS, oauth=oauth) as zb:
            answer = await typescript_client("--sdk", "v2", "--url", zb.url, "--email", ALICE,
                                             "--client-metadata-url", client_id)
    assert answer["registered"] is False and "list_invoices" in answer["tools"]
    assert not zb.events("register") and zb.events("token")[-1]["client"] == client_id
    assert host.fetches and set(host.fetches) == {"/typescript.json"}
