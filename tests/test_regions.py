"""Each Zoho data center: tokens from its accounts server, calls to its API host (the
sandbox plays every one)."""

from __future__ import annotations

import httpx2
import pytest

from tests.conftest import ORG, agent, mcp_client, running
from zbmcp.core.regions import DATA_CENTERS, REGIONS, region_of_accounts_server


class RecordingTransport(httpx2.AsyncBaseTransport):
    """Forwards every request to the sandbox app and remembers where it was addressed."""

    def __init__(self, app) -> None:
        self._inner = httpx2.ASGITransport(app=app)
        self.urls: list[str] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.urls.append(f"{request.method} {request.url.scheme}://{request.url.host}{request.url.path}")
        return await self._inner.handle_async_request(request)


def test_the_data_center_table_matches_zohos():
    assert REGIONS == ("com", "eu", "in", "com.au", "jp", "ca", "com.cn", "sa")
    assert DATA_CENTERS["ca"].accounts_url == "https://accounts.zohocloud.ca"  # not zoho.ca
    for region, dc in DATA_CENTERS.items():
        assert dc.api_base_url == f"https://www.zohoapis.{region}/books/v3"
        if region != "ca":
            assert dc.accounts_url == f"https://accounts.zoho.{region}"
        assert region_of_accounts_server(dc.accounts_url + "/") == region


@pytest.mark.parametrize("region", REGIONS)
async def test_calls_go_to_the_regions_accounts_server_and_api_host(make_config, sandbox, region):
    dc = DATA_CENTERS[region]
    sandbox.settings.api_domain = dc.api_domain  # what Zoho's token answer says for this data center
    loaded = make_config({"a": agent(["list_invoices"])},
                         connection={"region": region, "api_base_url": None, "accounts_url": None})
    transport = RecordingTransport(sandbox.app)
    async with running(loaded, sandbox, transport=transport) as runtime, mcp_client(runtime, "a") as client:
        result = await client.call_tool("list_invoices", {})
    assert not result.is_error, result.content[0].text
    assert transport.urls == [f"POST {dc.accounts_url}/oauth/v2/token", f"GET {dc.api_base_url}/invoices"]
    assert sandbox.api_requests[0].organization_id == ORG
