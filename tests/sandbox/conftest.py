"""Fixtures for the sandbox's own tests: a fresh sandbox on a controllable clock, and clients that reach it
over HTTP through httpx2.ASGITransport."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from zbmcp.sandbox import Sandbox, SandboxSettings

ORG = "10234695"  # Sandbox Trading Ltd, GBP
OTHER_ORG = "10234696"  # Sandbox Services Inc, USD: also the default user's
FOREIGN_ORG = "20987654"  # exists, but belongs to another user
FULL = "ZohoBooks.fullaccess.all"
BASE = "http://sandbox.test"


class FakeClock:
    """Starts at the real time (seeded dates are relative to today) and moves only when told."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    return Sandbox(SandboxSettings(), clock=clock)


def asgi_client(sandbox: Sandbox, **kwargs: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app), base_url=BASE, **kwargs)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Zoho-oauthtoken {token}"}


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx2.AsyncClient]:
    """No credentials, no organization: for the accounts endpoints and for auth failures."""
    async with asgi_client(sandbox) as client:
        yield client


@pytest.fixture
async def books(sandbox: Sandbox) -> AsyncIterator[httpx2.AsyncClient]:
    """Full access to the Books API of ORG, with a token that outlives any clock.advance() in a test."""
    token = sandbox.mint_access_token([FULL], lifetime_seconds=30 * 86400)
    async with asgi_client(sandbox, headers=auth(token), params={"organization_id": ORG}) as client:
        client.base_url = httpx2.URL(BASE + "/books/v3/")
        yield client


def ok(response: httpx2.Response, status: int = 200) -> dict[str, Any]:
    """The body of a successful Zoho answer."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == 0, body
    return body


def error(response: httpx2.Response, status: int, code: int) -> str:
    """The message of a Zoho error answer, after checking its status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert set(body) == {"code", "message"}, body
    message: str = body["message"]
    return message
