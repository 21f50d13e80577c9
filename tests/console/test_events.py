"""The console's webhook page: an operator sees, per hook, the events Zoho delivered and the deliveries
refused (with who sent them and why), never the hook's secret; someone not signed in sees nothing."""

from __future__ import annotations

import html
import json

import httpx2

from tests.conftest import ORG, agent, running, serving
from tests.console.conftest import OLIVIA, sign_in

SECRET = "Console0Hook0Secret5"


async def test_an_operator_sees_each_hooks_events_and_refusals(make_config, sandbox):
    loaded = make_config({"collector": agent(["customerpayments:read"])}, operators={"olivia": OLIVIA},
                         hooks={"payments": {"connection": "main", "organization": ORG,
                                             "module": "customerpayments", "secret": SECRET}})
    async with running(loaded, sandbox) as runtime, serving(runtime) as server, \
            httpx2.AsyncClient(base_url=server.url) as http:
        taken = await http.post("/hooks/payments?event=created",
                                content=json.dumps({"payment": {"payment_id": "4600000123"}}),
                                headers={"content-type": "application/json", "X-Zbmcp-Token": SECRET})
        forged = await http.post("/hooks/payments", content=b"{}",
                                 headers={"content-type": "application/json", "X-Zbmcp-Token": "guess"})
        assert (taken.status_code, forged.status_code) == (200, 401)

        anonymous = await http.get("/console/events", follow_redirects=False)
        assert anonymous.status_code in (302, 303) and "4600000123" not in anonymous.text

        await sign_in(http, server.url)
        page = await http.get("/console/events")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "/hooks/payments" in text and f"organization {ORG}" in text
    assert "customerpayments 4600000123" in text and "created" in text  # the event, its record
    assert "401" in text and "127.0.0.1" in text and "not the hook's secret" in text  # the refusal
    assert SECRET not in page.text
