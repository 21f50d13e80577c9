"""One-time enrollment links, from `zbmcp oauth enroll` to a person using the connector, and the operator's
other `zbmcp oauth` commands; `zbmcp claude-config --remote`."""

from __future__ import annotations

import json
import sys

import anyio
import httpx2
import pytest

from tests.conftest import environ
from tests.redis_server import RedisServer
from tests.oauth_server.conftest import (
    ALICE,
    MALLORY,
    SAM,
    Browser,
    connector,
    mcp_call,
    person,
    register,
    sign_in_and_consent,
    signed_in,
    tokens,
)
from zbmcp.cli import main
from zbmcp.oauth_server.enrollment import EnrollmentLinks, InvalidLink

AGENTS = {"bookkeeper": person(["invoices:read"], [])}  # nobody is listed: people come in by link


@pytest.fixture
def operator(sandbox, home, monkeypatch, capsys):
    """Runs `zbmcp ...` as the operator would, on the test's config; returns (exit code, stdout, stderr)."""
    for name, value in environ(sandbox, home).items():
        monkeypatch.setenv(name, value)

    async def run(*arguments: str) -> tuple[int, str, str]:
        # the commands start their own event loop
        code = await anyio.to_thread.run_sync(main, list(arguments))
        out, err = capsys.readouterr()
        return code, out.strip(), err

    return run


async def enroll(link: str, email: str) -> httpx2.Response:
    browser = Browser()
    try:
        invitation = await browser.go(link)
        assert "Use zbmcp as agent bookkeeper" in invitation.text, invitation.text[:300]
        zoho = await browser.submit(invitation)
        return await browser.submit(zoho, email=email, password="sandbox", action="sign_in")
    finally:
        await browser.aclose()


async def test_an_enrollment_link_lets_one_person_in_once(make_config, sandbox, home, operator):
    async with connector(make_config, sandbox, AGENTS) as zb:
        config = zb.runtime.config.source.file
        code, link, err = await operator("oauth", "enroll", "--agent", "bookkeeper", "--config", config)
        assert code == 0 and link.startswith(f"{zb.url}/oauth/enroll?t=") and "once" in err
        async with httpx2.AsyncClient(timeout=10) as http:
            client = await register(zb, http)
            browser = Browser()
            before = await sign_in_and_consent(browser, client.authorize_url(), ALICE)  # not enrolled yet
            await browser.aclose()
            enrolled = await enroll(link, ALICE)
            access = (await tokens(client, http, ALICE))["access_token"]
            listed = await mcp_call(zb, http, access)
            used_again = await enroll(link, MALLORY)
        code, people, _ = await operator("oauth", "people", "--config", config)
    assert before.status_code == 403
    assert enrolled.status_code == 200 and f"{zb.url}/mcp" in enrolled.text
    assert listed.status_code == 200 and "list_invoices" in listed.text
    assert used_again.status_code == 410 and "already used" in used_again.text.lower()
    assert code == 0 and ALICE in people and "bookkeeper" in people and "enrolled" in people
    outcomes = [(e["decision"], e["person"]) for e in zb.events("enroll")]
    assert outcomes == [("allowed", ALICE), ("denied", MALLORY)]


async def test_a_link_for_one_email_refuses_everyone_else(make_config, sandbox, home, operator):
    async with connector(make_config, sandbox, AGENTS) as zb:
        config = zb.runtime.config.source.file
        _, link, _ = await operator("oauth", "enroll", "--agent", "bookkeeper", "--email", SAM, "--config",
                                    config)
        refused = await enroll(link, ALICE)
        accepted = await enroll(link, SAM)
    assert refused.status_code == 403 and SAM in refused.text
    assert accepted.status_code == 200


async def test_a_tampered_or_expired_link_is_refused(make_config, sandbox, home, operator):
    async with connector(make_config, sandbox, AGENTS) as zb:
        config = zb.runtime.config.source.file
        _, link, _ = await operator("oauth", "enroll", "--agent", "bookkeeper", "--config", config)
        payload, signature = link.split("t=")[1].split(".")
        forged = link.replace(signature, signature[:-2] + ("A" if signature[-2] != "A"
                                                           else "B") + signature[-1])
        async with httpx2.AsyncClient(timeout=10) as http:
            answer = await http.get(forged)
    assert answer.status_code == 400 and "not valid" in answer.text
    links = EnrollmentLinks(b"k" * 32, "https://zbmcp.example.com", clock=lambda: 1_000_000.0)
    token = links.create("bookkeeper", epoch="e", hours=1).split("t=")[1]
    later = EnrollmentLinks(b"k" * 32, "https://zbmcp.example.com", clock=lambda: 1_000_000.0 + 3601)
    with pytest.raises(InvalidLink, match="expired"):
        later.read(token)


async def test_removing_an_enrolled_person_revokes_their_tokens(make_config, sandbox, home, operator):
    async with connector(make_config, sandbox, AGENTS) as zb:
        config = zb.runtime.config.source.file
        _, link, _ = await operator("oauth", "enroll", "--agent", "bookkeeper", "--config", config)
        await enroll(link, ALICE)
        async with httpx2.AsyncClient(timeout=10) as http:
            client = await register(zb, http)
            access = (await tokens(client, http, ALICE))["access_token"]
            assert (await mcp_call(zb, http, access)).status_code == 200
            code, _, err = await operator("oauth", "remove", ALICE, "--config", config)
            after = await mcp_call(zb, http, access)
    assert code == 0 and "1 sign-in(s) revoked" in err
    assert after.status_code == 401


async def test_enrollment_needs_an_oauth_section_and_a_known_agent(make_config, operator):
    loaded = make_config({"bookkeeper": person(["invoices:read"], [])},
                         oauth={"issuer": "https://zbmcp.example.com"})
    code, _, err = await operator("oauth", "enroll", "--agent", "bookeeper", "--config", loaded.source.file)
    assert code == 1 and "did you mean 'bookkeeper'" in err
    plain = make_config({"bookkeeper": {"connection": "main", "organizations": ["10234695"],
                                        "tools": ["*:read"]}})
    code, _, err = await operator("oauth", "enroll", "--agent", "bookkeeper", "--config", plain.source.file)
    assert code == 1 and "no `oauth:` section" in err


async def test_claude_config_remote_prints_what_reaches_a_signing_in_zbmcp(make_config, sandbox, operator):
    async with connector(make_config, sandbox, AGENTS) as zb:
        code, out, err = await operator("claude-config", "--remote", zb.url)
        entry = json.loads(out)
        endpoint = entry["mcpServers"]["zoho-books"]["args"][-1]
        async with httpx2.AsyncClient(timeout=10) as http:
            answer = await mcp_call(zb, http, None)
    assert code == 0 and endpoint == f"{zb.url}/mcp"
    assert entry["mcpServers"]["zoho-books"]["command"] == "npx"
    assert "Add custom connector" in err and f"claude mcp add --transport http zoho-books {endpoint}" in err
    assert answer.status_code == 401 and "resource_metadata" in answer.headers["www-authenticate"]


@pytest.mark.parametrize("url", ["http://zbmcp.example.com", "ftp://x",
                                 "https://zbmcp.example.com/other/path"])
async def test_claude_config_remote_refuses_urls_that_cannot_work(operator, url):
    code, out, err = await operator("claude-config", "--remote", url)
    assert code == 1 and out == "" and "--remote" in err


async def test_sign_in_events_join_the_chained_audit_log_and_zbmcp_audit_shows_them(
        make_config, sandbox, operator):
    async with connector(make_config, sandbox, {"bookkeeper": person(["invoices:read"], [ALICE])},
                         audit_file="audit.jsonl") as zb:
        async with signed_in(zb, ALICE) as client:
            await client.list_tools()
            await client.call_tool("list_invoices", {})
        config = zb.runtime.config.source.file
        # as a separate process: `zbmcp audit` writes to the stdout it found when it was imported
        shown = await anyio.run_process([sys.executable, "-m", "zbmcp", "audit", "--config", config],
                                        check=False)
        verified, _, report = await operator("audit", "verify", "--config", config)
    code, table = shown.returncode, shown.stdout.decode()
    assert code == 0 and "oauth.sign-in" in table and "oauth.token" in table and "list_invoices" in table
    assert f'agent "bookkeeper" ({ALICE}) listed 4 invoices' in table
    assert verified == 0, report
    text = zb.runtime.config.audit_path.read_text()  # type: ignore[union-attr]
    assert "zbat_" not in text and "zbrt_" not in text and "code=" not in text  # no token or code, ever


async def test_another_site_cannot_post_an_enrollment_for_someone(make_config, sandbox, operator):
    async with connector(make_config, sandbox, AGENTS) as zb:
        _, link, _ = await operator("oauth", "enroll", "--agent", "bookkeeper", "--config",
                                    zb.runtime.config.source.file)
        token = link.split("t=")[1]
        # a form on another site, posted in the victim's browser
        async with httpx2.AsyncClient(timeout=10) as victim:
            answer = await victim.post(f"{zb.url}/oauth/enroll", data={"t": token, "b": "guess"})
    assert answer.status_code == 400 and "Open the enrollment link again" in answer.text
    assert "location" not in answer.headers
    assert [e["rule"] for e in zb.events("enroll")] \
        == ["the enrollment form was not sent from the page that shows it"]


async def test_a_used_link_stays_used_after_redis_restarts_without_persistence(
        make_config, sandbox, operator, own_redis: RedisServer):
    redis = {"backend": "redis", "url": own_redis.url, "encryption_key": "k" * 40}
    async with connector(make_config, sandbox, AGENTS, state_config=redis) as zb:
        config = zb.runtime.config.source.file
        _, link, _ = await operator("oauth", "enroll", "--agent", "bookkeeper", "--config", config)
        _, unused, _ = await operator("oauth", "enroll", "--agent", "bookkeeper", "--config", config)
        enrolled = await enroll(link, ALICE)
        sams = Browser()
        invitation = await sams.go(unused)  # the page is open when Redis restarts
        own_redis.stop()  # it kept nothing on disk: the record that the link was used is gone
        own_redis.start()
        async with httpx2.AsyncClient(timeout=10) as mallory:
            used_again = await mallory.get(link)
        sent = await sams.submit(invitation)
        await sams.aclose()
        _, fresh, _ = await operator("oauth", "enroll", "--agent", "bookkeeper", "--config", config)
        enrolled_again = await enroll(fresh, ALICE)
    assert enrolled.status_code == 200
    for refused in (used_again, sent):
        assert refused.status_code == 410, refused.text
        assert "shared state was reset" in refused.text
        assert "ask your zbmcp operator for a new one" in refused.text.lower()
    assert "location" not in sent.headers  # not sent to Zoho for nothing
    assert enrolled_again.status_code == 200  # a link made after the restart works
    assert [(e["decision"], e.get("person"), e["rule"].split(" (")[0]) for e in zb.events("enroll")] == [
        ("allowed", ALICE, "enrolled with a one-time link"),
        ("denied", None, "the enrollment link was made before the State lost its records"),
        ("allowed", ALICE, "enrolled with a one-time link")]
