"""The hosted transports over real HTTP on loopback: uvicorn on an ephemeral port, the SDK's own clients.

What a hosted agent notices: its key shows it its own tools and nothing else, a missing or wrong key is a 401,
a hostile Host or Origin is refused, both transports and both protocol eras list and call, approvals reach a
person, replicas answer interchangeably, and a restart lets a running call finish.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client, types
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.conftest import (FAST_RETRIES, ORG, AuditCapture, agent, assert_demo_listing, environ, running,
                            serving)
from zbmcp.cli import main
from zbmcp.core.config_parse import parse_config
from zbmcp.core.credentials import key_hash, new_api_key
from zbmcp.calls.runtime import open_runtime
from zbmcp.sandbox import Fault
from zbmcp.sandbox.server import SandboxServer
from zbmcp.transports.http import HttpServer

INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": "probe", "version": "1"}},
}
MCP_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INVOICE_TOOLS = {"list_invoices", "get_invoice", "create_invoice", "update_invoice", "delete_invoice",
                 "mark_invoice_sent", "email_invoice", "mark_invoice_void", "mark_invoice_draft"}
CONTACT_READS = {"list_contacts", "get_contact"}


@pytest.fixture
def keys() -> dict[str, str]:
    return {name: new_api_key()[0] for name in ("alice", "bob", "carol")}


@pytest.fixture
def hosted(make_config, keys):
    """alice: every invoice tool, and a person approves each invoice email in alice's own client (a desktop
    app through a bridge, say: `approval: client`); bob: reads contacts."""
    return make_config({
        "alice": agent(["invoices:*"], require_approval=["email_invoice"], approval="client",
                       api_keys=[key_hash(keys["alice"])]),
        "bob": agent(["contacts:read"], api_keys=[key_hash(keys["bob"])]),
    })


class Listening:
    """A server someone else started (a subprocess), known by its URL."""

    def __init__(self, url: str) -> None:
        self.url = url


@contextlib.asynccontextmanager
async def connect(server: HttpServer | Listening, key: str, *, transport: str = "http", mode: str = "auto",
                  **options: Any) -> AsyncIterator[Client]:
    """The SDK's MCP client, carrying the agent's key, over Streamable HTTP (/mcp) or legacy SSE (/sse)."""
    headers = {"Authorization": f"Bearer {key}"}
    if transport == "http":
        async with httpx2.AsyncClient(headers=headers) as http:
            async with Client(streamable_http_client(f"{server.url}/mcp", http_client=http), mode=mode,
                              **options) as client:
                yield client
    else:
        async with Client(sse_client(f"{server.url}/sse", headers=headers), mode=mode, **options) as client:
            yield client


def names(result: types.ListToolsResult) -> set[str]:
    return {tool.name for tool in result.tools}


def ok(result: types.CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    return result.structured_content


def refused(result: types.CallToolResult) -> dict[str, Any]:
    assert result.is_error, result.content
    return result.structured_content["error"]


BOTH_TRANSPORTS_AND_ERAS = pytest.mark.parametrize(
    ("transport", "mode"), [("http", "auto"), ("http", "legacy"), ("sse", "auto"), ("sse", "legacy")])


# -- who is calling ----------------------------------------------------------------------------------


@BOTH_TRANSPORTS_AND_ERAS
async def test_each_key_sees_only_its_agents_tools_and_cannot_call_the_others(
        hosted, sandbox, keys, transport, mode):
    async with running(hosted, sandbox) as runtime, serving(runtime) as server:
        async with connect(server, keys["alice"], transport=transport, mode=mode) as alice, \
                connect(server, keys["bob"], transport=transport, mode=mode) as bob:
            assert names(await alice.list_tools()) == INVOICE_TOOLS
            assert names(await bob.list_tools()) == CONTACT_READS
            invoices = ok(await alice.call_tool("list_invoices", {"organization_id": ORG}))["invoices"]
            contacts = ok(await bob.call_tool("list_contacts", {"organization_id": ORG}))["contacts"]
            sent = len(sandbox.api_requests)
            alice_tries = refused(await alice.call_tool("list_contacts", {"organization_id": ORG}))
            bob_tries = refused(await bob.call_tool("get_invoice", {"organization_id": ORG,
                                                                    "invoice_id": invoices[0]["invoice_id"]}))
    assert invoices and contacts
    assert "not available to agent 'alice'" in alice_tries["message"]
    assert "not available to agent 'bob'" in bob_tries["message"]
    assert len(sandbox.api_requests) == sent  # a refused call reaches nothing
    audit = [(r["agent"], r["tool"], r["decision"]) for r in runtime.audit.records]
    assert audit == [("alice", "list_invoices", "allowed"), ("bob", "list_contacts", "allowed"),
                     ("alice", "list_contacts", "denied"), ("bob", "get_invoice", "denied")]


async def test_a_missing_or_wrong_key_is_refused_with_401_and_www_authenticate(hosted, sandbox, keys):
    almost = keys["alice"][:-1] + ("A" if keys["alice"][-1] != "A" else "B")
    attempts = [{}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {almost}"},
                {"Authorization": f"Bearer {keys['carol']}"},  # a well-formed key nobody was given
                {"Authorization": f"Basic {keys['alice']}"},  # the right secret, the wrong scheme
                {"Authorization": f"Bearer {key_hash(keys['alice'])}"}]  # the stored hash is not a key
    async with running(hosted, sandbox) as runtime, serving(runtime) as server:
        async with httpx2.AsyncClient(base_url=server.url) as http:
            answers = []
            for headers in attempts:
                answers.append(await http.post("/mcp", json=INITIALIZE, headers={**MCP_ACCEPT, **headers}))
                answers.append(await http.get("/sse", headers=headers))
                answers.append(await http.post("/messages/?session_id=0", json=INITIALIZE, headers=headers))
            healthz = await http.get("/healthz")
    assert [a.status_code for a in answers] == [401] * len(answers)
    for answer in answers:
        assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        assert answer.json()["error"] == "invalid_token"
    assert healthz.status_code == 200 and healthz.json()["status"] == "ok"  # load balancers need no key
    # Each presented key is on the record, by the start of its hash only, ten a minute from one address, and
    # the rest counted when the server stops; a request with no key is not.
    refused = [r["sentence"] for r in runtime.audit.records]
    assert len(refused) == 10 + 1 and sandbox.api_requests == []
    assert refused[-1].startswith(f"{3 * (len(attempts) - 1) - 10} more requests with keys that are no "
                                  "agent's, from 1 address, were refused with 401 and not recorded one "
                                  "by one")
    assert {r["event"] for r in runtime.audit.records} == {"mcp.refused"}
    for key in ("nope", almost, keys["carol"], keys["alice"], key_hash(keys["alice"])):
        assert key not in runtime.audit.buffer.getvalue()
    assert "/sse from 127.0.0.1 was refused with 401: it carried an API key that is no agent's (sha256:" \
        in refused[1]
    assert refused[3 * 3 + 0].endswith("an Authorization header that is not a bearer key")


async def test_a_hostile_host_or_origin_is_refused_and_configured_hosts_are_allowed(
        make_config, sandbox, keys):
    loaded = make_config({"alice": agent(["invoices:read"], api_keys=[key_hash(keys["alice"])])},
                          http={"allowed_hosts": ["mcp.example.com"],
                                "allowed_origins": ["https://app.example.com"]})
    auth = {"Authorization": f"Bearer {keys['alice']}"}
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with httpx2.AsyncClient(base_url=server.url, headers=auth) as http:

            async def status(path: str, **headers: str) -> int:
                if path == "/sse":
                    async with http.stream("GET", path, headers=headers) as response:
                        return response.status_code  # a 200 here is an open event stream: leave it
                return (await http.post(path, json=INITIALIZE, headers={**MCP_ACCEPT, **headers})).status_code

            rebinding = [await status("/mcp", Host="evil.example"),
                         await status("/sse", Host="evil.example"),
                         await status("/mcp", Host="evil.example:443"),
                         await status("/mcp", Host="127.0.0.1")]
            cross_site = [await status("/mcp", Origin="http://evil.example"),
                          await status("/sse", Origin="http://evil.example")]
            configured = [await status("/mcp", Host="mcp.example.com"),
                          await status("/mcp", Origin="https://app.example.com"),
                          await status("/sse", Host="mcp.example.com"),
                          await status("/mcp", Origin=server.url)]  # a browser on the server's own origin
    assert rebinding == [421, 421, 421, 421]  # a loopback name without the port is not the server either
    assert cross_site == [403, 403]
    assert configured == [200, 200, 200, 200]


async def test_an_oversized_body_is_refused_with_413_before_anything_runs(make_config, sandbox, keys):
    loaded = make_config({"bob": agent(["contacts:*"], api_keys=[key_hash(keys["bob"])])},
                          http={"max_body_bytes": 4096})
    huge_call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                 "params": {"name": "create_contact", "arguments": {"organization_id": ORG,
                                                                     "contact_name": "x" * 5000}}}
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with httpx2.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {keys['bob']}"}
                                      ) as http:
            streamable = await http.post("/mcp", json=huge_call, headers=MCP_ACCEPT)
            legacy = await http.post("/messages/?session_id=00000000000000000000000000000000", json=huge_call)
        async with connect(server, keys["bob"]) as bob:  # an ordinary call still fits
            small = ok(await bob.call_tool("create_contact", {"organization_id": ORG,
                                                              "contact_name": "Umbrella plc"}))
            with pytest.raises(MCPError):  # what the SDK client makes of the 413
                await bob.call_tool("create_contact", {"organization_id": ORG, "contact_name": "y" * 5000})
    assert (streamable.status_code, legacy.status_code) == (413, 413)
    assert small["contact"]["contact_name"] == "Umbrella plc"
    assert [r["tool"] for r in runtime.audit.records] == ["create_contact"]  # the oversized ones never ran
    assert not any(c["contact_name"].startswith("y" * 10) for c in sandbox.org_store(ORG).contacts.values())


# -- a whole flow, every hop a real socket -------------------------------------------------------------


async def test_a_full_invoice_flow_over_loopback_sockets_end_to_end(make_config, sandbox, keys):
    with SandboxServer(sandbox) as zoho:
        loaded = make_config({"clerk": agent(["invoices:*", "contacts:read", "items:read"],
                                              api_keys=[key_hash(keys["alice"])])}, base_url=zoho.base_url)
        async with open_runtime(loaded, retry=FAST_RETRIES, audit=AuditCapture()) as runtime, \
                serving(runtime, transport="http") as server, connect(server, keys["alice"]) as clerk:
            customers = ok(await clerk.call_tool("list_contacts", {"organization_id": ORG,
                                                                   "contact_type": "customer"}))["contacts"]
            acme = next(c for c in customers if c["contact_name"].startswith("Acme"))
            items = ok(await clerk.call_tool("list_items", {"organization_id": ORG}))["items"]
            consulting = next(i for i in items if i["name"] == "Consulting")
            invoice = ok(await clerk.call_tool("create_invoice", {
                "organization_id": ORG, "customer_id": acme["contact_id"],
                "line_items": [{"item_id": consulting["item_id"], "quantity": 2}]}))["invoice"]
            ok(await clerk.call_tool("mark_invoice_sent", {"organization_id": ORG,
                                                           "invoice_id": invoice["invoice_id"]}))
            emailed = await clerk.call_tool("email_invoice", {"organization_id": ORG,
                                                              "invoice_id": invoice["invoice_id"],
                                                              "to_mail_ids": ["ap@acme.example"]})
            fetched = (ok(await clerk.call_tool("get_invoice", {"organization_id": ORG,
                                                                "invoice_id": invoice["invoice_id"]})))
            fetched = fetched["invoice"]
    assert not emailed.is_error and emailed.structured_content["summary"].startswith("Emailed invoice")
    assert fetched["status"] == "sent" and fetched["total"] == invoice["total"] > 0
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]
    assert {(r["agent"], r["decision"]) for r in runtime.audit.records} == {("clerk", "allowed")}
    assert len(runtime.audit.records) == 6


# -- approvals need a person, in both eras -----------------------------------------------------------


@BOTH_TRANSPORTS_AND_ERAS
async def test_a_person_approves_an_invoice_email_over_http(hosted, sandbox, keys, transport, mode):
    questions: list[str] = []

    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        questions.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": True})

    async with running(hosted, sandbox) as runtime, serving(runtime) as server:
        async with connect(server, keys["alice"], transport=transport, mode=mode,
                           elicitation_callback=person) as alice:
            invoice = ok(await alice.call_tool("list_invoices", {"organization_id": ORG}))["invoices"][0]
            emailed = await alice.call_tool("email_invoice", {"organization_id": ORG,
                                                              "invoice_id": invoice["invoice_id"],
                                                              "to_mail_ids": ["ap@acme.example"]})
    assert not emailed.is_error, emailed.content[0].text
    assert len(questions) == 1
    assert 'Agent "alice" wants to' in questions[0] and invoice["invoice_id"] in questions[0]
    assert [mail.to for mail in sandbox.outbox] == [["ap@acme.example"]]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_approval_asked_only_by_an_argument_rule_reaches_the_person_over_http(
        make_config, sandbox, keys, mode):
    """No `require_approval` at all: an `approve` rule alone must still give older clients
    a session to answer in."""
    loaded = make_config({"alice": agent(["bills:*"], approval="client", api_keys=[key_hash(keys["alice"])],
                                         rules=[{"approve": "amount > 5000.0", "name": "big-bills"}])})
    questions: list[str] = []

    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        questions.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": True})

    view = sandbox.store(ORG)
    bill = {"organization_id": ORG, "vendor_id": view.contact_id("Office Supplies Co"),
            "bill_number": "B-9000", "line_items": [{"account_id": view.account_id("Office Supplies"),
                                                     "rate": 9000, "quantity": 1}]}
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with connect(server, keys["alice"], mode=mode, elicitation_callback=person) as alice:
            created = await alice.call_tool("create_bill", bill)
    assert not created.is_error, created.content[0].text
    assert len(questions) == 1 and "big-bills" in questions[0]
    assert "B-9000" in {b["bill_number"] for b in view.bills.values()}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_declined_approval_sends_nothing(hosted, sandbox, keys, mode):
    async def person(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        return types.ElicitResult(action="decline")

    async with running(hosted, sandbox) as runtime, serving(runtime) as server:
        async with connect(server, keys["alice"], mode=mode, elicitation_callback=person) as alice:
            invoice = ok(await alice.call_tool("list_invoices", {"organization_id": ORG}))["invoices"][0]
            sent = len(sandbox.api_requests)
            declined = refused(await alice.call_tool("email_invoice", {"organization_id": ORG,
                                                                       "invoice_id": invoice["invoice_id"],
                                                                       "to_mail_ids": ["ap@acme.example"]}))
    assert "did not approve" in declined["message"]
    # only zbmcp's own reads of the invoice, for the question (once per call: twice for a 2026-07-28
    # client, which calls again with the answer), reached Zoho
    assert {r.route for r in sandbox.api_requests[sent:]} == {"GET /invoices/{invoice_id}"}
    assert sandbox.outbox == []
    assert runtime.audit.records[-1]["decision"] == "denied"


# -- replicas behind a load balancer -----------------------------------------------------------------


class RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer without sticky sessions: each request goes to the next replica."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.served = [0] * len(ports)
        self._next = 0
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        index = self._next % len(self.ports)
        self._next += 1
        self.served[index] += 1
        request.url = request.url.copy_with(port=self.ports[index])
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_any_replica_answers_any_request_of_an_agent_without_approvals(hosted, sandbox, keys, mode):
    async with running(hosted, sandbox) as runtime, serving(runtime) as one, serving(runtime) as two:
        balancer = RoundRobin([one.port, two.port])
        async with httpx2.AsyncClient(transport=balancer, headers={"Authorization": f"Bearer {keys['bob']}"}
                                      ) as http:
            async with Client(streamable_http_client(f"{one.url}/mcp", http_client=http), mode=mode) as bob:
                listed = names(await bob.list_tools())
                contacts = [ok(await bob.call_tool("list_contacts", {"organization_id": ORG}))
                            for _ in range(3)]
            opened = await http.post(f"{one.url}/mcp", json=INITIALIZE, headers=MCP_ACCEPT)
    assert listed == CONTACT_READS and all(c["contacts"] for c in contacts)
    assert min(balancer.served) >= 2  # both replicas took part in one client's conversation
    assert "mcp-session-id" not in opened.headers  # nothing for a replica to remember


async def test_older_clients_of_an_agent_with_approvals_get_a_session(hosted, sandbox, keys):
    async with running(hosted, sandbox) as runtime, serving(runtime) as server:
        auth = {"Authorization": f"Bearer {keys['alice']}"}
        async with httpx2.AsyncClient(base_url=server.url, headers=auth) as http:
            opened = await http.post("/mcp", json=INITIALIZE, headers=MCP_ACCEPT)
            session = opened.headers.get("mcp-session-id")
            closed = await http.delete("/mcp", headers={"mcp-session-id": session or "",
                                                        "mcp-protocol-version": "2025-11-25"})
    assert opened.status_code == 200 and session  # the approval's answer must come back to this replica
    assert closed.status_code == 200


# -- graceful shutdown ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("transport", "mode", "who"), [
    ("http", "auto", "bob"),  # 2026-07-28: sessionless
    ("http", "legacy", "bob"),  # older client, stateless
    ("http", "legacy", "alice"),  # older client with a session (approvals)
    ("sse", "legacy", "bob"),  # the result comes back on the long-lived event stream
])
async def test_shutdown_lets_a_call_in_flight_finish_then_closes_promptly(
        hosted, sandbox, keys, transport, mode, who):
    release, entered = anyio.Event(), anyio.Event()
    tool = {"alice": "list_invoices", "bob": "list_contacts"}[who]
    sandbox.faults.add(Fault(kind="hold", route=f"GET /{tool.removeprefix('list_')}", times=1,
                             release=release, entered=entered))
    results: list[types.CallToolResult] = []
    async with running(hosted, sandbox) as runtime:
        server = HttpServer(runtime, host="127.0.0.1", port=0)
        stopped = anyio.Event()

        async def run_server(*, task_status: Any) -> None:
            try:
                await server.serve(task_status=task_status)
            finally:
                stopped.set()

        with anyio.fail_after(15):
            async with anyio.create_task_group() as serving_tg:
                await serving_tg.start(run_server)
                try:
                    async with connect(server, keys[who], transport=transport, mode=mode) as client:
                        await client.list_tools()  # as agents do; the SDK needs it to check a result
                        async with anyio.create_task_group() as tg:

                            async def call() -> None:
                                results.append(await client.call_tool(tool, {"organization_id": ORG}))

                            tg.start_soon(call)
                            await entered.wait()  # the call is inside Zoho now
                            server.stop()
                            assert server.app.draining is not None
                            await server.app.draining.wait()
                            async with httpx2.AsyncClient() as newcomer:
                                with pytest.raises(httpx2.ConnectError):  # no new connections while draining
                                    await newcomer.get(f"{server.url}/healthz")
                            assert not stopped.is_set()
                            # Not a gate: in production sse-starlette polls for shutdown every 0.5 s, then
                            # ends every event stream it serves; give it the chance to cut this answer.
                            await anyio.sleep(0.6)
                            release.set()
                        # The call has its answer; with this client still connected (an open event stream for
                        # some), the server ends its streams and exits well inside uvicorn's 30-second grace.
                        with anyio.fail_after(5):
                            await stopped.wait()
                except* httpx2.ConnectError:  # the client's goodbye on leaving finds no server: it stopped
                    assert stopped.is_set()
    assert len(results) == 1
    assert ok(results[0])[tool.removeprefix("list_")]
    assert runtime.audit.records[-1]["decision"] == "allowed"


# -- keys: created by the CLI, stored as hashes, rotated, never repeated -----------------------------

COMMENTED_CONFIG = """\
# Hosted zbmcp: one connection, two agents.
connections:
  main:  # Zoho EU, via the sandbox in tests
    region: eu
    client_id: {client_id}
    client_secret: ${{SANDBOX_CLIENT_SECRET}}
    refresh_token: ${{SANDBOX_REFRESH_TOKEN}}
    api_base_url: http://sandbox.test/books/v3
    accounts_url: http://sandbox.test
    token_store: memory
agents:
  # The bookkeeping agent.
  alice:
    connection: main   # the only one
    organizations: ["{org}"]
    tools: ["invoices:read"]
  bob:
    connection: main
    organizations: ["{org}"]
    tools: ["contacts:read"]
"""


async def test_agent_key_stores_only_hashes_keeps_comments_and_both_keys_work_for_rotation(
        sandbox, home, tmp_path, monkeypatch, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    for name, value in environ(sandbox, home).items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "zbmcp.yaml"
    original = COMMENTED_CONFIG.format(client_id=sandbox.credentials.client_id, org=ORG)
    path.write_text(original)

    created, stderr = [], []
    for _ in range(2):  # the second key is the rotation: both work until the first is removed
        assert main(["agent", "key", "alice", "--config", str(path)]) == 0
        out, err = capsys.readouterr()
        created.append(out.strip())
        stderr.append(err)
    first, second = created
    text = path.read_text()

    assert first.startswith("zbmcp_") and second.startswith("zbmcp_") and first != second
    assert all(line in text.splitlines() for line in original.splitlines())  # comments and layout survive
    assert key_hash(first) in text and key_hash(second) in text
    assert "alice" in stderr[0] and "Authorization: Bearer" in stderr[0]

    loaded = parse_config(text, str(path), environ(sandbox, home))
    assert loaded.config.agents["alice"].api_keys == [key_hash(first), key_hash(second)]
    assert loaded.config.agents["bob"].api_keys == []
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with connect(server, first) as old, connect(server, second, mode="legacy") as new:
            assert names(await old.list_tools()) == names(await new.list_tools()) == {"list_invoices",
                                                                                     "get_invoice"}
            ok(await old.call_tool("list_invoices", {"organization_id": ORG}))
            ok(await new.call_tool("list_invoices", {"organization_id": ORG}))
        async with httpx2.AsyncClient(base_url=server.url) as http:
            wrong = await http.post("/mcp", json=INITIALIZE, headers={**MCP_ACCEPT,
                                                                      "Authorization": f"Bearer {first}x"})
    assert wrong.status_code == 401
    assert [r.get("agent") or r["event"] for r in runtime.audit.records] == ["alice", "alice", "mcp.refused"]

    out, err = capsys.readouterr()
    seen = "\n".join([text, runtime.audit.buffer.getvalue(), *stderr, out, err,
                      *(record.getMessage() for record in caplog.records)])
    for key in (first, second):
        assert key not in seen  # printed once on stdout when created, and nowhere else


def test_agent_key_refuses_an_unknown_agent_and_leaves_the_file_alone(sandbox, home, tmp_path, monkeypatch,
                                                                      capsys):
    for name, value in environ(sandbox, home).items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "zbmcp.yaml"
    original = COMMENTED_CONFIG.format(client_id=sandbox.credentials.client_id, org=ORG)
    path.write_text(original)
    assert main(["agent", "key", "mallory", "--config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "mallory" in err and "alice" in err
    assert path.read_text() == original


# -- the command line: `zbmcp serve --sandbox --transport http` ---------------------------------------


async def test_serve_sandbox_over_http_with_a_key_from_the_environment_needs_it_and_stops_on_sigterm(
        tmp_path):
    key = new_api_key()[0]
    command = [sys.executable, "-m", "zbmcp", "serve", "--sandbox", "--transport", "both", "--port", "0",
               "--key-env", "DEMO_KEY"]
    env = {**os.environ, "ZBMCP_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1", "DEMO_KEY": key}
    lines: list[str] = []
    with anyio.fail_after(30):
        async with await anyio.open_process(command, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                            env=env) as process:
            assert process.stderr is not None
            stderr = BufferedByteReceiveStream(process.stderr)
            while not any("serving MCP on" in line for line in lines):
                lines.append((await stderr.receive_until(b"\n", 65536)).decode())
            banner = next(line for line in lines if "serving MCP on" in line)
            server = Listening(banner.split("serving MCP on ")[1].split()[0])
            async with connect(server, key) as demo, \
                    connect(server, key, transport="sse", mode="legacy") as old:
                assert_demo_listing(tool.name for tool in (await demo.list_tools()).tools)
                organizations = ok(await old.call_tool("list_organizations", {}))["organizations"]
            async with httpx2.AsyncClient() as http:
                keyless = await http.post(f"{server.url}/mcp", json=INITIALIZE, headers=MCP_ACCEPT)
            process.send_signal(signal.SIGTERM)
            rest = b""
            async for chunk in stderr:
                rest += chunk
            code = await process.wait()
    output = "".join(lines) + rest.decode()
    assert code in (0, -signal.SIGTERM)  # uvicorn ends by re-raising the signal it caught, once it is done
    assert "every call in flight has been answered" in output
    assert len(organizations) == 2
    assert keyless.status_code == 401  # with a key set, there is no keyless mode
    assert "`Authorization: Bearer <the value of $DEMO_KEY>`" in output
    assert key not in output and "no key needed" not in output
    assert (f"the operator's console is at {server.url}/console; the sandbox has no operators "
            "(docs/console.md") in output
    assert "Traceback" not in output
