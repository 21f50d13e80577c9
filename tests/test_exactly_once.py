"""Exactly-once writes (issue #25) as an agent meets them: through a real MCP client, against the sandbox with
faults, a repeated write never doubles a record."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from tests.conftest import ORG, AuditCapture, agent, mcp_client, running
from tests.test_audit import invoice_arguments, invoice_count, posts
from zbmcp.core.config import LoadedConfig
from zbmcp.sandbox import Fault, Sandbox
from zbmcp.state import State, new_id
from zbmcp.state.local import LocalState
from zbmcp.state.redis import RedisState

KEY = "idempotency_key"


@pytest.fixture
def bookkeeper(make_config):
    return make_config({"bookkeeper": agent(["invoices:*", "contacts:read", "list_items"])})


def text(result: Any) -> str:
    return " ".join(part.text for part in result.content)


async def test_a_repeat_with_the_same_key_gets_the_first_answer_and_nothing_is_sent_again(bookkeeper,
                                                                                          sandbox):
    audit = AuditCapture()
    before = invoice_count(sandbox)
    arguments = {**invoice_arguments(sandbox), KEY: "acme-july"}
    async with running(bookkeeper, sandbox, audit=audit) as runtime, \
            mcp_client(runtime, "bookkeeper") as client:
        first = await client.call_tool("create_invoice", arguments)
        again = await client.call_tool("create_invoice", arguments)
    assert not first.is_error and not again.is_error, text(again)
    assert invoice_count(sandbox) == before + 1 and posts(sandbox) == 1
    created = first.structured_content["invoice"]
    assert again.structured_content["invoice"] == created  # the first call's answer
    first_call, repeat = audit.records
    assert again.structured_content["replayed"]["call_id"] == first_call["call_id"]
    assert f"call {first_call['call_id']}" in text(again) and "nothing was sent to Zoho again" in text(again)
    assert repeat["replay_of"] == first_call["call_id"] and repeat["decision"] == "allowed"
    assert "replay_of" not in first_call  # only repeats carry it
    assert KEY not in sandbox.api_requests[-1].body  # zbmcp's own: never sent to Zoho


async def test_the_same_key_with_other_arguments_is_refused_and_nothing_is_sent(bookkeeper, sandbox):
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        first = await client.call_tool("create_invoice", {**invoice_arguments(sandbox), KEY: "k-1"})
        other = {**invoice_arguments(sandbox), "reference_number": "PO-9", KEY: "k-1"}
        refused = await client.call_tool("create_invoice", other)
    assert not first.is_error
    error = refused.structured_content["error"]
    assert refused.is_error and error["fields"] == [KEY] and "other arguments" in error["message"]
    assert first.structured_content["summary"] and posts(sandbox) == 1


async def test_a_key_counts_per_agent_and_the_same_request_in_any_spelling_is_the_same_call(make_config,
                                                                                           sandbox):
    loaded = make_config({"a": agent(["invoices:*"]), "b": agent(["invoices:*"])})
    arguments = invoice_arguments(sandbox)
    respelled = {"organization_id": int(ORG), "line_items": arguments["line_items"],
                 "customer_id": int(arguments["customer_id"]), KEY: "same"}
    async with running(loaded, sandbox) as runtime:
        async with mcp_client(runtime, "a") as a:
            await a.call_tool("create_invoice", {**arguments, KEY: "same"})
            again = await a.call_tool("create_invoice", respelled)
        async with mcp_client(runtime, "b") as b:
            others = await b.call_tool("create_invoice", {**arguments, KEY: "same"})
    assert "replayed" in again.structured_content  # ids as numbers, organization given: the same request
    assert not others.is_error and "replayed" not in others.structured_content  # another agent's key
    assert posts(sandbox) == 2


@pytest.mark.parametrize(("key", "says"), [("k" * 256, "at most 255"), ("", "non-empty"), (42, "non-empty"),
                                          ("a\nb", "control characters")])
async def test_a_bad_key_is_refused_naming_the_field_and_nothing_is_sent(bookkeeper, sandbox, key, says):
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        refused = await client.call_tool("create_invoice", {**invoice_arguments(sandbox), KEY: key})
    error = refused.structured_content["error"]
    assert refused.is_error and error["fields"] == [KEY] and says in error["message"]
    assert sandbox.api_requests == []


async def test_a_key_of_255_characters_is_taken(bookkeeper, sandbox):
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        result = await client.call_tool("create_invoice", {**invoice_arguments(sandbox), KEY: "é" * 255})
    assert not result.is_error, text(result)


async def test_a_read_takes_no_key(bookkeeper, sandbox):
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        refused = await client.call_tool("list_invoices", {KEY: "k"})
    assert refused.is_error and "write tools only" in refused.structured_content["error"]["message"]
    assert sandbox.api_requests == []


async def test_a_refusal_by_zoho_frees_the_key_for_the_corrected_call(bookkeeper, sandbox):
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        refused = await client.call_tool("create_invoice", {**invoice_arguments(sandbox), "customer_id": "1",
                                                            KEY: "k"})
        fixed = await client.call_tool("create_invoice", {**invoice_arguments(sandbox), KEY: "k"})
    assert refused.structured_content["error"]["type"] == "ZohoApiError"
    assert not fixed.is_error and "replayed" not in fixed.structured_content


async def test_a_lost_answer_to_a_change_stays_unknown_and_is_not_sent_again(bookkeeper, sandbox):
    """A change (an email, an update): nothing new to look for in Zoho, so a repeat hears "unknown"."""
    invoice = sandbox.store(ORG).invoice_id("INV-000004")
    sandbox.faults.add(Fault(kind="drop_after", route="POST /invoices/{invoice_id}/status/sent", times=1))
    arguments = {"invoice_id": invoice, KEY: "lost"}
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        lost = await client.call_tool("mark_invoice_sent", arguments)
        again = await client.call_tool("mark_invoice_sent", arguments)
        keyless = await client.call_tool("mark_invoice_sent", {"invoice_id": invoice})
    assert lost.structured_content["error"]["type"] == "OutcomeUnknown"
    for repeat in (again, keyless):
        assert repeat.is_error and repeat.structured_content["error"]["repeat_of"]["kind"] == "unknown"
        assert lost.structured_content["error"]["call_id"] in text(repeat) and "get_invoice" in text(repeat)
    assert posts(sandbox) == 1


async def test_the_listing_shows_the_key_where_a_repeat_doubles_and_the_instructions_say_what_it_does(
        make_config, sandbox):
    loaded = make_config({"a": agent(["invoices:*", "create_contact"])})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "a") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        instructions = client.instructions or ""
        contact = {"contact_name": "Keyed Ltd", KEY: "c-1"}
        created, again = [await client.call_tool("create_contact", contact) for _ in range(2)]
    assert KEY in tools["create_invoice"].input_schema["properties"]
    assert KEY not in tools["list_invoices"].input_schema["properties"]
    # Zoho refuses a second contact of the same name: the key is not listed there, and taken all the same
    assert KEY not in tools["create_contact"].input_schema["properties"]
    assert not created.is_error and again.structured_content["replayed"]
    assert KEY not in tools["create_invoice"].input_schema.get("required", [])
    assert KEY in instructions and "255" in instructions


# -- replicas: two servers on one State receive the same keyed call at once ----------------------------------


@contextlib.asynccontextmanager
async def shared_state(backend: str, request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[
        tuple[State, State]]:
    """Two handles on one State, as two replicas (or two processes on one machine) hold them."""
    if backend == "local":
        states: tuple[State, State] = (LocalState(tmp_path / "state"), LocalState(tmp_path / "state"))
    else:
        url, prefix = request.getfixturevalue("redis_url"), f"t-{new_id()[:10]}:"
        states = (RedisState(url, prefix=prefix), RedisState(url, prefix=prefix))
    try:
        yield states
    finally:
        for state in states:
            await state.aclose()


@pytest.mark.parametrize("backend", ["local", "redis"])
async def test_two_replicas_given_the_same_keyed_call_at_once_send_it_once(backend, request, tmp_path,
                                                                           bookkeeper: LoadedConfig,
                                                                           sandbox: Sandbox):
    release, entered = anyio.Event(), anyio.Event()
    sandbox.faults.add(Fault(kind="hold", route="POST /invoices", release=release, entered=entered))
    arguments = {**invoice_arguments(sandbox), KEY: "retried-by-the-client"}
    before = invoice_count(sandbox)
    results: list[Any] = []
    async with shared_state(backend, request, tmp_path) as (one, two), \
            running(bookkeeper, sandbox, state=one) as first, \
            running(bookkeeper, sandbox, state=two) as second, \
            mcp_client(first, "bookkeeper") as a, mcp_client(second, "bookkeeper") as b:

        async def call(client: Any) -> None:
            results.append(await client.call_tool("create_invoice", arguments))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                group.start_soon(call, a)
                group.start_soon(call, b)
                await entered.wait()  # one of them is at Zoho's door; the other waits for its answer
                await anyio.sleep(0.3)
                release.set()
    assert [r.is_error for r in results] == [False, False], [text(r) for r in results]
    assert invoice_count(sandbox) == before + 1 and posts(sandbox) == 1
    invoices = {r.structured_content["invoice"]["invoice_id"] for r in results}
    assert len(invoices) == 1
    assert sum("replayed" in r.structured_content for r in results) == 1


# -- repeats without a key -----------------------------------------------------------------------------------


class Clock:
    """The State's clock, moved by the test (records expire by it)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_write_repeated_without_a_key_is_the_same_call_within_the_window_and_not_after(
        bookkeeper, sandbox, tmp_path):
    clock = Clock()
    before = invoice_count(sandbox)
    arguments = invoice_arguments(sandbox)
    async with running(bookkeeper, sandbox, state=LocalState(tmp_path / "state", clock=clock)) as runtime, \
            mcp_client(runtime, "bookkeeper") as client:
        first = await client.call_tool("create_invoice", arguments)
        clock.now += 119  # a client re-issues the request whose answer it lost
        again = await client.call_tool("create_invoice", arguments)
        clock.now += 121  # two minutes after the last answer: a new write
        later = await client.call_tool("create_invoice", arguments)
    assert not first.is_error and not again.is_error and not later.is_error
    assert again.structured_content["invoice"] == first.structured_content["invoice"]
    assert "with the same arguments" in text(again) and f"an {KEY} of its own" in text(again)
    made = [r.structured_content["invoice"]["invoice_id"] for r in (first, later)]
    assert made[0] != made[1]
    assert invoice_count(sandbox) == before + 2 and posts(sandbox) == 2


async def test_a_second_identical_record_on_purpose_takes_a_key_of_its_own(bookkeeper, sandbox):
    before = invoice_count(sandbox)
    arguments = invoice_arguments(sandbox)
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        first = await client.call_tool("create_invoice", arguments)
        second = await client.call_tool("create_invoice", {**arguments, KEY: "the-second-one"})
        third = await client.call_tool("create_invoice", {**arguments, KEY: "the-third-one"})
    assert not any(r.is_error or "replayed" in r.structured_content for r in (first, second, third))
    assert invoice_count(sandbox) == before + 3


async def test_a_repeat_that_forgot_its_key_is_the_keyed_call(bookkeeper, sandbox):
    audit = AuditCapture()
    arguments = invoice_arguments(sandbox)
    async with running(bookkeeper, sandbox, audit=audit) as runtime, \
            mcp_client(runtime, "bookkeeper") as client:
        first = await client.call_tool("create_invoice", {**arguments, KEY: "k"})
        again = await client.call_tool("create_invoice", arguments)
    assert again.structured_content["invoice"] == first.structured_content["invoice"] and posts(sandbox) == 1
    assert audit.records[1]["replay_of"] == audit.records[0]["call_id"]


async def test_repeats_without_a_key_count_per_agent_and_a_refused_write_is_no_repeat(make_config, sandbox):
    loaded = make_config({"a": agent(["invoices:*"]), "b": agent(["invoices:*"])})
    arguments = invoice_arguments(sandbox)
    async with running(loaded, sandbox) as runtime:
        async with mcp_client(runtime, "a") as a:
            await a.call_tool("create_invoice", arguments)
            wrong = {**arguments, "customer_id": "1"}
            refused = [await a.call_tool("create_invoice", wrong) for _ in range(2)]
        async with mcp_client(runtime, "b") as b:
            others = await b.call_tool("create_invoice", arguments)
    assert [r.structured_content["error"]["type"] for r in refused] == ["ZohoApiError"] * 2  # said no twice
    assert not others.is_error and "replayed" not in others.structured_content
    assert posts(sandbox) == 4


# -- every documented unclear case breaks a test when its rule does ------------------------------------------


async def test_a_write_answered_429_without_zohos_limit_codes_is_never_retried(bookkeeper, sandbox):
    """Nothing proves such a 429 turned the write away (a proxy's, say): retrying it could double it."""
    sandbox.faults.add(Fault(kind="error", status=429, route="POST /invoices", times=1))
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        result = await client.call_tool("create_invoice", invoice_arguments(sandbox))
    error = result.structured_content["error"]
    assert error["type"] == "OutcomeUnknown" and error["http_status"] == 429 and posts(sandbox) == 1


async def test_a_read_answered_429_without_zohos_limit_codes_is_retried(bookkeeper, sandbox):
    sandbox.faults.add(Fault(kind="error", status=429, route="GET /invoices", times=1))
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        result = await client.call_tool("list_invoices", {})
    assert not result.is_error and [r.status for r in sandbox.api_requests] == [429, 200]


@pytest.mark.parametrize("code", [44, 1070])
async def test_a_write_turned_away_by_zohos_limit_is_retried_and_made_once(bookkeeper, sandbox, code):
    sandbox.faults.add(Fault(kind="rate_limit", code=code, route="POST /invoices", times=1))
    before = invoice_count(sandbox)
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        result = await client.call_tool("create_invoice", invoice_arguments(sandbox))
    assert not result.is_error and posts(sandbox) == 2 and invoice_count(sandbox) == before + 1


async def test_a_write_refused_by_the_daily_limit_is_not_retried_today(bookkeeper, sandbox):
    sandbox.faults.add(Fault(kind="rate_limit", code=45, route="POST /invoices", times=1))
    async with running(bookkeeper, sandbox) as runtime, mcp_client(runtime, "bookkeeper") as client:
        result = await client.call_tool("create_invoice", invoice_arguments(sandbox))
    error = result.structured_content["error"]
    assert error["type"] == "RateLimited" and error["retry_after_seconds"] > 0 and posts(sandbox) == 1


# -- outcome unknown, resolved -------------------------------------------------------------------------------


async def test_a_lost_answer_is_resolved_written_and_every_repeat_gets_the_one_invoice(bookkeeper, sandbox):
    """Done when (issue #25): the create's answer is lost after Zoho made it; called again with the same key,
    and again without one: one invoice, and each answer says it is the first call's."""
    audit = AuditCapture()
    sandbox.faults.add(Fault(kind="drop_after", route="POST /invoices", times=1))
    before = invoice_count(sandbox)
    arguments = {**invoice_arguments(sandbox), "reference_number": "PO-77"}
    async with running(bookkeeper, sandbox, audit=audit) as runtime, \
            mcp_client(runtime, "bookkeeper") as client:
        lost = await client.call_tool("create_invoice", {**arguments, KEY: "acme-po-77"})
        keyed = await client.call_tool("create_invoice", {**arguments, KEY: "acme-po-77"})
        keyless = await client.call_tool("create_invoice", arguments)
    assert lost.structured_content["error"]["type"] == "OutcomeUnknown"
    first = lost.structured_content["error"]["call_id"]
    assert invoice_count(sandbox) == before + 1 and posts(sandbox) == 1
    [made] = [i for i in sandbox.store(ORG).invoices.values() if i.get("reference_number") == "PO-77"]
    for answer in (keyed, keyless):
        assert not answer.is_error, text(answer)
        assert answer.structured_content["invoice"]["invoice_id"] == made["invoice_id"]
        assert answer.structured_content["replayed"]["call_id"] == first and first in text(answer)
    assert keyed.structured_content["replayed"]["resolved"] == "written"
    assert "did write this" in text(keyed) and made["invoice_number"] in text(keyed)
    original = next(r for r in audit.records if r["call_id"] == first)  # as `zbmcp audit` shows it
    assert original["resolved"] == "written" and original["decision"] == "allowed"
    assert original["rule"].startswith("resolved: written (found " + made["invoice_number"])


async def test_a_lost_create_that_zoho_never_made_is_resolved_not_written_and_made_once(make_config, sandbox):
    audit = AuditCapture()
    loaded = make_config({"bookkeeper": agent(["invoices:*"])}, connection={"timeout_seconds": 0.3})
    sandbox.faults.add(Fault(kind="drop_before", route="POST /invoices", times=1))  # sent, never handled
    before = invoice_count(sandbox)
    arguments = {**invoice_arguments(sandbox), KEY: "k"}
    async with running(loaded, sandbox, audit=audit) as runtime, mcp_client(runtime, "bookkeeper") as client:
        lost = await client.call_tool("create_invoice", arguments)
        too_soon = await client.call_tool("create_invoice", arguments)  # Zoho may still be making it
        await anyio.sleep(0.7)  # twice the connection's timeout since it was sent
        made = await client.call_tool("create_invoice", arguments)
        again = await client.call_tool("create_invoice", arguments)
    first = lost.structured_content["error"]["call_id"]
    assert too_soon.is_error and "may still be making it" in text(too_soon)
    assert not made.is_error and "replayed" not in made.structured_content, text(made)
    assert again.structured_content["replayed"]["call_id"] != first  # the call that made it
    assert invoice_count(sandbox) == before + 1 and posts(sandbox) == 2
    resolutions = [r for r in audit.lines if r.get("call_id") == first and r.get("resolved")]
    assert [r["resolved"] for r in resolutions] == ["unknown", "not_written"]
    assert resolutions[-1]["decision"] == "failed" and "no record holds what call" in resolutions[-1]["rule"]


# -- Zoho's upsert, where the organization has a unique custom field for zbmcp -------------------------------


@pytest.fixture
def upserting(make_config):
    """An agent that may create invoices and nothing else: the upsert is decided as the create it is."""
    return make_config({"clerk": agent(["create_invoice"])},
                       connection={"unique_fields": {"invoices": "cf_zbmcp_key"}})


async def test_a_create_goes_out_as_zohos_upsert_by_its_calls_id(upserting, sandbox):
    audit = AuditCapture()
    before = invoice_count(sandbox)
    async with running(upserting, sandbox, audit=audit) as runtime, mcp_client(runtime, "clerk") as client:
        made = await client.call_tool("create_invoice", {**invoice_arguments(sandbox), KEY: "k"})
    assert not made.is_error, text(made)
    [sent] = sandbox.api_requests
    assert (sent.method, sent.route) == ("PUT", "PUT /invoices") and KEY not in sent.body
    [record] = audit.records
    value = {"api_name": "cf_zbmcp_key", "value": f"zbmcp-{record['call_id']}"}
    invoice = sandbox.store(ORG).invoices[made.structured_content["invoice"]["invoice_id"]]
    assert value in invoice["custom_fields"]
    assert record["tool"] == "create_invoice" and record["decision"] == "allowed"
    assert invoice_count(sandbox) == before + 1


async def test_a_lost_upsert_is_sent_again_by_the_same_value_and_makes_one_invoice(upserting, sandbox):
    audit = AuditCapture()
    sandbox.faults.add(Fault(kind="drop_after", route="PUT /invoices", times=1))
    before = invoice_count(sandbox)
    arguments = {**invoice_arguments(sandbox), KEY: "k"}
    async with running(upserting, sandbox, audit=audit) as runtime, mcp_client(runtime, "clerk") as client:
        lost = await client.call_tool("create_invoice", arguments)
        again = await client.call_tool("create_invoice", arguments)  # at once: no waiting to find out
        keyless = await client.call_tool("create_invoice", invoice_arguments(sandbox))
    first = lost.structured_content["error"]["call_id"]
    assert lost.structured_content["error"]["type"] == "OutcomeUnknown"
    assert not again.is_error and not keyless.is_error, text(again)
    assert again.structured_content["invoice"]["invoice_id"] \
        == keyless.structured_content["invoice"]["invoice_id"]
    assert invoice_count(sandbox) == before + 1
    [made] = [i for i in sandbox.store(ORG).invoices.values()
              if {"api_name": "cf_zbmcp_key", "value": f"zbmcp-{first}"} in i.get("custom_fields", [])]
    assert made["invoice_id"] == again.structured_content["invoice"]["invoice_id"]
    original = next(r for r in audit.records if r["call_id"] == first)
    assert original["resolved"] == "one_record" and original["decision"] == "allowed"


async def test_an_upsert_by_a_field_zoho_does_not_have_is_refused_and_makes_nothing(make_config, sandbox):
    loaded = make_config({"clerk": agent(["create_invoice"])},
                         connection={"unique_fields": {"invoices": "cf_project_code"}})  # takes duplicates
    before = invoice_count(sandbox)
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "clerk") as client:
        refused = await client.call_tool("create_invoice", invoice_arguments(sandbox))
    error = refused.structured_content["error"]
    assert error["type"] == "ZohoApiError" and "cf_project_code" in error["message"]
    assert "accepts duplicate values" in error["message"] and invoice_count(sandbox) == before


@pytest.mark.parametrize(("fields", "says"), [({"vendorpayments": "cf_zbmcp_key"}, "in these modules only"),
                                              ({"invoices": "Reference"}, "not a custom field's API name")])
def test_a_unique_field_zoho_cannot_use_stops_the_config(make_config, fields, says):
    from zbmcp.errors import ConfigError
    with pytest.raises(ConfigError) as refused:
        make_config({"clerk": agent(["create_invoice"])}, connection={"unique_fields": fields})
    assert "unique_fields" in str(refused.value) and says in str(refused.value)


async def test_doctor_checks_each_unique_field_exists_and_refuses_duplicates_changing_nothing(make_config,
                                                                                            sandbox):
    from zbmcp.cli.doctor import doctor

    fields = {"invoices": "cf_project_code", "bills": "cf_missing", "estimates": "cf_zbmcp_key"}
    loaded = make_config({"clerk": agent(["create_invoice"])}, connection={"unique_fields": fields})
    before = {name: len(getattr(sandbox.store(ORG), name)) for name in ("invoices", "bills", "estimates")}
    async with running(loaded, sandbox) as runtime:
        healthy, lines = await doctor(loaded, runtime)
    assert not healthy
    report = "\n".join(lines)
    assert f"FAIL connection 'main': unique_fields.invoices cf_project_code in organization {ORG}" in report
    assert "accepts duplicate values" in report
    assert f"FAIL connection 'main': unique_fields.bills cf_missing in organization {ORG}" in report
    assert f"ok   connection 'main': estimates in {ORG} can be written exactly once" in report
    assert {name: len(getattr(sandbox.store(ORG), name)) for name in before} == before


def test_zbmcp_scopes_adds_the_update_scope_of_the_upserts_an_agents_creates_go_out_as(tmp_path, sandbox,
                                                                                       home):
    import subprocess
    import sys

    from tests.conftest import config_text, environ

    path = tmp_path / "zbmcp.yaml"
    path.write_text(config_text(sandbox, {"clerk": agent(["create_invoice", "create_bill"])},
                                connection={"unique_fields": {"invoices": "cf_zbmcp_key"}}))
    printed = subprocess.run([sys.executable, "-m", "zbmcp", "scopes", "--agent", "clerk", "--config",
                              str(path)], capture_output=True, text=True, timeout=60,
                             env={**environ(sandbox, home), "PATH": "/usr/bin:/bin"})
    assert printed.stdout.strip().split(",") == ["ZohoBooks.bills.CREATE", "ZohoBooks.invoices.CREATE",
                                                 "ZohoBooks.invoices.UPDATE"], printed.stderr
