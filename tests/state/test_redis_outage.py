"""When Redis goes away: /healthz says so, calls get a clear retryable error, and nothing is doubled or lost;
when it comes back (empty, as a Redis without persistence does), zbmcp carries on."""

from __future__ import annotations

from collections import Counter

import httpx2

from tests.conftest import ORG, agent, mcp_client, running, serving
from tests.redis_server import RedisServer

STATE_KEY = "outage-test-key-" + "z" * 32


class StopsRedisDuring(httpx2.AsyncBaseTransport):
    """The sandbox, except that Redis stops while the first POST is on its way to Zoho."""

    def __init__(self, app: object, redis: RedisServer) -> None:
        self._inner = httpx2.ASGITransport(app=app)  # type: ignore[arg-type]
        self._redis = redis
        self.stopped = False

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and "/books/v3/" in str(request.url) and not self.stopped:
            self.stopped = True
            self._redis.stop()
        return await self._inner.handle_async_request(request)


def redis_config(make_config, url: str):
    return make_config({"a": agent(["create_contact", "list_contacts"])},
                       connection={"token_store": None},
                       state={"backend": "redis", "url": url, "encryption_key": STATE_KEY})


async def test_a_call_in_flight_when_redis_stops_is_answered_once_and_later_calls_retry_clearly(
        make_config, sandbox, own_redis: RedisServer):
    transport = StopsRedisDuring(sandbox.app, own_redis)
    async with running(redis_config(make_config, own_redis.url), sandbox, transport=transport) as runtime, \
            mcp_client(runtime, "a") as client:
        in_flight = await client.call_tool("create_contact", {"contact_name": "Sent While Redis Stopped"})
        sent = len(sandbox.api_requests)
        refused = await client.call_tool("create_contact", {"contact_name": "Never Sent"})
        unsent = len(sandbox.api_requests)
        own_redis.start()  # back, and empty
        again = await client.call_tool("create_contact", {"contact_name": "Sent After Redis Returned"})
    assert not in_flight.is_error, in_flight.content[0].text  # its answer stands: retrying it would double it
    assert refused.is_error and unsent == sent
    error = refused.structured_content["error"]
    assert error["type"] == "StateUnavailable" and error["retry_after_seconds"] > 0
    assert "cannot be reached" in error["message"] and "Nothing was sent to Zoho" in error["message"]
    assert not again.is_error, again.content[0].text
    names = Counter(c["contact_name"] for c in sandbox.store(ORG).contacts.values())
    assert names["Sent While Redis Stopped"] == 1 and names["Sent After Redis Returned"] == 1
    assert names["Never Sent"] == 0


async def test_healthz_fails_while_redis_is_unreachable(make_config, sandbox, own_redis: RedisServer):
    async with running(redis_config(make_config, own_redis.url), sandbox) as runtime, \
            serving(runtime) as server:
        async with httpx2.AsyncClient(base_url=server.url, timeout=10) as http:
            up = await http.get("/healthz")
            own_redis.stop()
            down = await http.get("/healthz")
            own_redis.start()
            back = await http.get("/healthz")
    assert (up.status_code, down.status_code, back.status_code) == (200, 503, 200)
    assert down.json()["status"] == "state unavailable" and "127.0.0.1" not in down.text
