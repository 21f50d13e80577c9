"""Per-organization limits (§7): 44 per window, 45 per day, 1070 in flight, and the X-Rate-Limit headers."""

from __future__ import annotations

import anyio
import httpx2

from tests.sandbox.conftest import ORG, OTHER_ORG, FakeClock, error, ok
from zbmcp.sandbox import Fault, Sandbox

HEADERS = ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset")


async def test_every_authenticated_answer_carries_rate_limit_headers_and_never_retry_after(
        books: httpx2.AsyncClient, http: httpx2.AsyncClient) -> None:
    responses = [await books.get("invoices"), await books.get("invoices/1"), await books.get("widgets"),
                 await books.get("organizations")]
    assert [response.status_code for response in responses] == [200, 404, 404, 200]
    for response in responses:
        assert all(response.headers[name].isdigit() for name in HEADERS), response.headers
        assert "retry-after" not in response.headers
    # A request nobody is known to have made counts against no organization's quota: a 401 reports none.
    unauthenticated = [await http.get("/books/v3/invoices", params={"organization_id": ORG}),
                       await http.get("/books/v3/invoices", params={"organization_id": ORG},
                                      headers={"Authorization": "Zoho-oauthtoken 1000.nope.nope"})]
    assert [response.status_code for response in unauthenticated] == [401, 401]
    for response in unauthenticated:
        assert not any(name in response.headers for name in HEADERS), response.headers


async def test_headers_count_down_the_daily_budget(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.settings.daily_budget = 3
    seen = []
    for _ in range(3):
        response = await books.get("contacts")
        ok(response)
        seen.append((response.headers["X-Rate-Limit-Limit"], response.headers["X-Rate-Limit-Remaining"]))
    assert seen == [("3", "2"), ("3", "1"), ("3", "0")]
    assert 0 < int(response.headers["X-Rate-Limit-Reset"]) <= 86400
    refused = await books.get("contacts")
    message = error(refused, 429, 45)
    assert message == "The API call for this organization has exceeded the maximum call rate limit of 3."
    assert "retry-after" not in refused.headers
    # The budget is per organization.
    ok(await books.get("contacts", params={"organization_id": OTHER_ORG}))


async def test_daily_budget_set_at_runtime_counts_calls_already_made(
        books: httpx2.AsyncClient, sandbox: Sandbox, clock: FakeClock) -> None:
    for _ in range(2):
        ok(await books.get("items"))
    sandbox.settings.daily_budget = 2
    error(await books.get("items"), 429, 45)
    clock.advance(86400)
    ok(await books.get("items"))


async def test_requests_per_window(books: httpx2.AsyncClient, sandbox: Sandbox, clock: FakeClock) -> None:
    sandbox.settings.requests_per_window = 2
    sandbox.settings.window_seconds = 60
    ok(await books.get("invoices"))
    second = await books.get("invoices")
    ok(second)
    # The headers describe the day's quota (nominal 10,000 here), never the per-window limit.
    assert (second.headers["X-Rate-Limit-Limit"], second.headers["X-Rate-Limit-Remaining"]) \
        == ("10000", "9998")
    message = error(await books.get("invoices"), 429, 44)
    assert message.startswith("For security reasons your organization has been blocked")
    ok(await books.get("invoices", params={"organization_id": OTHER_ORG}))
    clock.advance(60)
    ok(await books.get("invoices"))


async def test_refused_requests_use_no_quota(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.settings.daily_budget = 5
    sandbox.settings.requests_per_window = 1
    ok(await books.get("invoices"))
    for _ in range(3):
        error(await books.get("invoices"), 429, 44)
    sandbox.settings.requests_per_window = None
    assert (await books.get("invoices")).headers["X-Rate-Limit-Remaining"] == "3"


async def test_concurrency_limit_is_1070_while_a_request_is_in_flight(books: httpx2.AsyncClient,
                                                                      sandbox: Sandbox) -> None:
    sandbox.settings.max_concurrency = 1
    release, entered = anyio.Event(), anyio.Event()
    sandbox.faults.add(Fault(kind="hold", route="GET /invoices", times=1, release=release, entered=entered))
    slow: list[httpx2.Response] = []

    async def first() -> None:
        slow.append(await books.get("invoices"))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(first)
            await entered.wait()
            message = error(await books.get("contacts"), 429, 1070)
            assert message.startswith("You have reached the maximum number of in process requests")
            ok(await books.get("contacts", params={"organization_id": OTHER_ORG}))  # per organization
            release.set()
    ok(slow[0])
    ok(await books.get("contacts"))  # the slot was given back
