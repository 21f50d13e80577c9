"""The Zoho API's authentication as an httpx2.Auth: the token on each request, and the 401 handling."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx2

from zbmcp.zoho.accounts import AUTH_SCHEME
from zbmcp.zoho.token_manager import TokenManager


class ZohoAuth(httpx2.Auth):
    """Signs each request with `Zoho-oauthtoken`; on a 401, refreshes once (single-flight), retries once."""

    requires_request_body = True  # buffered, so the retry can send the same body again

    def __init__(self, tokens: TokenManager) -> None:
        self._tokens = tokens

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("ZohoAuth works only with an AsyncClient")
        yield request  # pragma: no cover

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        await request.aread()
        access_token = await self._tokens.access_token()
        request.headers["Authorization"] = f"{AUTH_SCHEME} {access_token}"
        response = yield request
        if response.status_code != 401:
            return
        await self._tokens.invalidate(access_token)
        request.headers["Authorization"] = f"{AUTH_SCHEME} {await self._tokens.access_token()}"
        yield request  # a second 401 goes back to the caller: refreshing did not help (e.g. a missing scope)
