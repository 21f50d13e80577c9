"""The console as an attacker meets it, over real HTTP on loopback: who gets in, and what is refused (with a
clear message, and an audit record) when a form is forged or replayed, a session expired, or an agent's key
knocks on the door."""

from __future__ import annotations

import html
import time

import anyio
import httpx2

from tests.conftest import running, serving
from tests.console.conftest import MAILER_KEY, SECRET, csrf_in, sign_in
from zbmcp.audit.log import AuditLog
from zbmcp.state.local import LocalState


async def test_an_operator_signs_in_with_a_session_cookie_the_page_cannot_read(console_config, sandbox):
    loaded = console_config()
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with httpx2.AsyncClient() as http:
            before = await http.get(f"{server.url}/console/approvals")
            signed = await sign_in(http, server.url)
            inbox = await http.get(f"{server.url}/console/approvals")
    assert before.status_code == 303 and before.headers["location"].startswith("/console/sign-in")
    assert signed.status_code == 303 and signed.headers["location"] == "/console/approvals"
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith("zbmcp_console="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes and "samesite=strict" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP on loopback: a Secure cookie would never come back
    assert inbox.status_code == 200 and "Signed in as" in inbox.text and "olivia" in inbox.text
    assert "default-src 'self'" in inbox.headers["content-security-policy"]
    assert inbox.headers["x-frame-options"] == "DENY"
    events = [r for r in runtime.audit.records if r.get("event") == "console.sign_in"]
    assert events[-1]["decision"] == "allowed" and events[-1]["operator"] == "olivia"


async def test_the_browsers_own_requests_leave_the_sign_in_form_working(console_config, sandbox):
    """A second tab, or a request the browser sends by itself that ends on the sign-in page, must not replace
    the token of the form a person is filling in (issue 22: four of four sign-ins refused in Chromium)."""
    loaded = console_config()
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with httpx2.AsyncClient() as http:
            form = await http.get(f"{server.url}/console/sign-in")
            image = await http.get(f"{server.url}/console/sign-in", headers={"Sec-Fetch-Dest": "image"})
            other_tab = await http.get(f"{server.url}/console/approvals", follow_redirects=True)
            favicon = await http.get(f"{server.url}/favicon.ico")
            signed = await http.post(f"{server.url}/console/sign-in", data={
                "operator": "olivia", "secret": SECRET, "csrf": csrf_in(form.text)})
    assert "set-cookie" not in image.headers and "set-cookie" not in favicon.headers
    assert other_tab.status_code == 200 and csrf_in(other_tab.text) == csrf_in(form.text)
    assert favicon.status_code == 404
    assert signed.status_code == 303, signed.text


async def test_behind_a_tls_proxy_the_cookie_is_secure(console_config, sandbox):
    """A proxy on this machine (loopback) that says the browser came over https: the cookie must be Secure.
    Proxies elsewhere are believed only when listed in console.trusted_proxies."""
    loaded = console_config(trusted_proxies=["10.0.0.0/24"])
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with httpx2.AsyncClient(headers={"X-Forwarded-Proto": "https"}) as http:
            page = await http.get(f"{server.url}/console/sign-in")
            form_cookie = page.headers["set-cookie"].split(";")[0]  # a client on https would send it back
            signed = await http.post(f"{server.url}/console/sign-in", headers={"Cookie": form_cookie},
                                     data={"operator": "olivia", "secret": SECRET,
                                           "csrf": csrf_in(page.text)})
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith("zbmcp_console="))
    assert "secure" in cookie.lower() and "secure" in page.headers["set-cookie"].lower()


async def test_wrong_secrets_back_off_even_for_the_right_secret_afterwards(console_config, sandbox):
    loaded = console_config()
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with httpx2.AsyncClient() as http:
            wrong = [await sign_in(http, server.url, secret="guess number %d" % i) for i in range(3)]
            blocked = await sign_in(http, server.url)  # the real secret, during the back-off
            unknown = await sign_in(http, server.url, name="nobody")
    assert [r.status_code for r in wrong] == [401, 401, 401]
    assert "Wrong operator name or secret" in wrong[0].text
    assert blocked.status_code == 429 and "Too many failed sign-ins" in blocked.text
    assert "zbmcp_console=" not in blocked.headers.get("set-cookie", "")
    assert unknown.status_code == 429  # the same address is backing off too
    text = runtime.audit.buffer.getvalue()
    assert SECRET not in text and "guess number" not in text  # secrets are never written down


async def test_a_strangers_failures_do_not_lock_the_operator_out(console_config, sandbox):
    """Issue 21.9: anyone could keep a named operator locked out (the right secret got 429), so held calls
    expired. A stranger's failures now slow that stranger down, not the operator signing in from elsewhere."""
    loaded = console_config()
    now = [time.time()]  # frozen: a back-off never runs out during the test
    attacker, office = {"X-Forwarded-For": "203.0.113.9"}, {"X-Forwarded-For": "198.51.100.7"}
    async with running(loaded, sandbox) as runtime, serving(runtime, console_clock=lambda: now[0]) as server:
        async with httpx2.AsyncClient(headers=attacker) as http:
            guesses = [await sign_in(http, server.url, secret=f"guess number {i}") for i in range(5)]
        async with httpx2.AsyncClient(headers=office) as http:
            olivia = await sign_in(http, server.url)
        async with httpx2.AsyncClient(headers=attacker) as http:
            after = [await sign_in(http, server.url, secret="guess number 6"),
                     await sign_in(http, server.url)]
    assert [r.status_code for r in guesses] == [401, 401, 401, 429, 429]
    assert olivia.status_code == 303 and olivia.headers["location"] == "/console/approvals"
    assert [r.status_code for r in after] == [429, 429]  # still slow, even with the right secret
    signed = [r["sentence"] for r in runtime.audit.records if r.get("event") == "console.sign_in"]
    assert 'operator "olivia" signed in to the console from 198.51.100.7' in signed
    assert sum("from 203.0.113.9 refused: too many failed attempts" in line for line in signed) == 4


async def test_guessing_from_many_addresses_stays_slow_but_not_where_the_operator_signs_in(console_config,
                                                                                         sandbox):
    loaded = console_config()
    now = [time.time()]

    async def from_(address: str, secret: str = SECRET, name: str = "olivia") -> httpx2.Response:
        async with httpx2.AsyncClient(headers={"X-Forwarded-For": address}) as http:
            return await sign_in(http, server.url, name, secret)

    async with running(loaded, sandbox) as runtime, serving(runtime, console_clock=lambda: now[0]) as server:
        before = await from_("198.51.100.7")  # where olivia signs in
        spread = [await from_(f"203.0.113.{i}", secret="a guess") for i in range(1, 11)]
        new_place = [await from_("192.0.2.44", secret="a guess"), await from_("192.0.2.45")]
        usual_place = await from_("198.51.100.7")
        other_name = await from_("192.0.2.46", name="oscar")  # oscar's name was not guessed at
    assert before.status_code == 303 and [r.status_code for r in spread] == [401] * 10
    assert [r.status_code for r in new_place] == [429, 429]
    assert usual_place.status_code == 303
    assert other_name.status_code == 303


async def test_agent_keys_never_open_the_console(console_config, sandbox):
    loaded = console_config()
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with httpx2.AsyncClient() as http:
            bearer = await http.get(f"{server.url}/console/approvals",
                                    headers={"Authorization": f"Bearer {MAILER_KEY}"})
            as_secret = await sign_in(http, server.url, name="bookkeeper", secret=MAILER_KEY)
    assert bearer.status_code == 403 and "Agent API keys only reach /mcp" in bearer.text
    assert as_secret.status_code == 401 and "Agent keys never open the console" in as_secret.text
    records = runtime.audit.records
    refused = [r for r in records if r.get("event") == "console.refused"]
    failed = [r for r in records if r.get("event") == "console.sign_in"]
    assert refused[-1]["agent"] == "bookkeeper" \
        and "agent keys never open the console" in refused[-1]["sentence"]
    assert failed[-1]["agent"] == "bookkeeper" and failed[-1]["decision"] == "denied"
    assert MAILER_KEY not in runtime.audit.buffer.getvalue()


async def test_forged_replayed_and_late_forms_are_refused_and_audited(console_config, sandbox):
    loaded = console_config()
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with httpx2.AsyncClient() as http:
            await sign_in(http, server.url)
            page = await http.get(f"{server.url}/console/access/compare")
            token = csrf_in(page.text)
            compare = f"{server.url}/console/access/compare"
            no_token = await http.post(compare, data={"candidate": "agents: {}"})
            wrong_token = await http.post(compare, data={"candidate": "agents: {}", "csrf": "x" + token})
            other_site = await http.post(compare, data={"candidate": "agents: {}", "csrf": token},
                                         headers={"Origin": "https://evil.example"})
            fine = await http.post(compare, data={"candidate": "agents: {}", "csrf": token})
            await http.post(f"{server.url}/console/sign-out", data={"csrf": token})
            after_sign_out = await http.post(compare, data={"candidate": "agents: {}", "csrf": token})
        async with httpx2.AsyncClient() as stranger:
            hostile_host = await stranger.get(f"{server.url}/console/sign-in",
                                              headers={"Host": "evil.example"})
            lookalike = await stranger.get(f"{server.url}/console/sign-in",
                                           headers={"Host": f"127.0.0.1:{server.port}@evil.example"})
    assert no_token.status_code == wrong_token.status_code == 403
    assert "security token is missing or stale" in no_token.text
    assert other_site.status_code == 403 and "another site" in other_site.text
    assert fine.status_code == 200 and "takes away" in fine.text
    assert after_sign_out.status_code == 401 and "Sign in again; nothing was done" in after_sign_out.text
    assert hostile_host.status_code == lookalike.status_code == 421
    refusals = [r["sentence"] for r in runtime.audit.records if r.get("event") == "console.refused"]
    assert len(refusals) == 4


# Issue 21.5: 350 bytes that expand to 9^9 values (froze the server), and an alias inside itself (a 500)
ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi"))
SELF_ALIAS = "agents: &agents\n  bookkeeper: *agents\n"


async def test_yaml_aliases_pasted_into_compare_are_refused_and_the_server_keeps_answering(console_config,
                                                                                           sandbox):
    assert len(ALIAS_BOMB) <= 350
    loaded = console_config()
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with httpx2.AsyncClient() as http:
            await sign_in(http, server.url)
            compare = f"{server.url}/console/access/compare"
            token = csrf_in((await http.get(compare)).text)
            answers = [await http.post(compare, data={"candidate": text, "csrf": token})
                       for text in (ALIAS_BOMB, SELF_ALIAS, "agents: &a {}\nconnections: *a\n")]
            healthz = await http.get(f"{server.url}/healthz")
            fine = await http.post(compare, data={"candidate": "agents: {}", "csrf": token})
    said = [html.unescape(answer.text) for answer in answers]
    assert [answer.status_code for answer in answers] == [422, 422, 422]
    assert "the pasted config:2: aliases (*name) are not accepted here: write each value out in full" \
        in said[0]
    assert "the pasted config:2: an alias refers to a value that contains it, which never ends" in said[1]
    assert "the pasted config:2: aliases (*name) are not accepted here" in said[2]
    assert healthz.status_code == 200 and fine.status_code == 200 and "takes away" in fine.text


async def test_a_session_expires(console_config, sandbox, tmp_path):
    loaded = console_config()
    now = [time.time()]
    state = LocalState(tmp_path / "state", clock=lambda: now[0])
    async with running(loaded, sandbox, state=state) as runtime, serving(runtime) as server:
        async with httpx2.AsyncClient() as http:
            await sign_in(http, server.url)
            fresh = await http.get(f"{server.url}/console/audit")
            now[0] += loaded.config.console.session_minutes * 60 + 1
            stale = await http.get(f"{server.url}/console/audit")
    assert fresh.status_code == 200
    assert stale.status_code == 303 and stale.headers["location"].startswith("/console/sign-in")


async def test_the_audit_page_says_when_the_hash_chain_is_broken(console_config, sandbox):
    loaded = console_config()
    path = loaded.audit_path
    async with running(loaded, sandbox, audit=AuditLog(path)) as runtime, serving(runtime) as server:
        async with httpx2.AsyncClient() as http:
            await sign_in(http, server.url)
            lines = path.read_text().splitlines()
            lines[0] = lines[0].replace('"allowed"', '"denied"', 1)  # someone edits the record of the sign-in
            path.write_text("\n".join(lines) + "\n")
            with anyio.fail_after(20):
                while "Hash chain broken" not in (page := await http.get(f"{server.url}/console/audit")).text:
                    await anyio.sleep(0.05)  # verified in the background: the page shows the latest result
    assert 'class="chain broken"' in page.text


async def test_the_audit_page_says_what_the_chain_cannot_prove_and_when_the_log_is_gone(console_config,
                                                                                      sandbox):
    loaded = console_config()
    path = loaded.audit_path

    async def page_saying(http: httpx2.AsyncClient, base: str, text: str) -> str:
        with anyio.fail_after(20):
            while text not in (page := await http.get(f"{base}/console/audit")).text:
                await anyio.sleep(0.05)  # verified in the background: the page shows the latest result
        return page.text

    async with running(loaded, sandbox, audit=AuditLog(path)) as runtime, serving(runtime) as server:
        async with httpx2.AsyncClient() as http:
            await sign_in(http, server.url)
            intact = await page_saying(http, server.url, "Hash chain intact")
            (path.parent / f".{path.name}.chain").unlink()  # the chain file removed
            unproven = await page_saying(http, server.url, "not proven complete")
            path.unlink()  # and the log
            gone = await page_saying(http, server.url, "Hash chain broken")
    assert 'class="chain intact"' in intact
    assert 'class="chain unproven"' in unproven and ".audit.jsonl.chain, the chain file zbmcp keeps beside " \
        "the log, is gone" in unproven
    assert 'class="chain broken"' not in unproven and "Hash chain intact" not in unproven
    assert 'class="chain broken"' in gone and "the audit log and its chain file are gone" in gone


async def test_the_access_page_names_the_revision_the_server_runs_not_the_file_edited_since(console_config,
                                                                                             sandbox):
    """`zbmcp agent key` edits the file while the server runs the config it loaded: the page must name the
    revision the audit records carry, or a reviewer would tie the matrix to a policy nobody runs."""
    loaded = console_config()
    path = loaded.source.file
    with open(path, "a") as file:
        file.write("# edited after start\n")
    async with running(loaded, sandbox) as runtime, serving(runtime) as server:
        async with httpx2.AsyncClient() as http:
            await sign_in(http, server.url)
            page = await http.get(f"{server.url}/console/access")
    assert page.status_code == 200
    assert f"revision <code>{loaded.revision}</code>" in page.text
