"""The console's fixtures: a config with operators and hosted agents, a signed-in HTTP client."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import pytest

from tests.conftest import ORG, agent
from zbmcp.core.credentials import key_hash, new_api_key
from zbmcp.core.credentials import hash_secret

SECRET = "correct horse battery staple"
OLIVIA = {"secret": hash_secret(SECRET)}
MAILER_KEY = new_api_key()[0]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_in(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def console_config(make_config, tmp_path):
    """The README's agents, hosted: `bookkeeper` emails invoices with an operator's approval."""
    def make(**console: Any):
        return make_config({
            "reporting": agent(["*:read"]),
            "bookkeeper": agent(["invoices:*", "contacts:read", "list_items"], exclude=["delete_invoice"],
                                require_approval=["email_invoice"], api_keys=[key_hash(MAILER_KEY)]),
        }, operators={"olivia": OLIVIA, "oscar": OLIVIA},
            console={"hold_seconds": 0, **console}, audit={"path": str(tmp_path / "audit.jsonl")})

    return make


async def sign_in(http: httpx2.AsyncClient, base: str, name: str = "olivia",
                  secret: str = SECRET) -> httpx2.Response:
    page = await http.get(f"{base}/console/sign-in")
    return await http.post(f"{base}/console/sign-in",
                           data={"operator": name, "secret": secret, "csrf": csrf_in(page.text)})


__all__ = ["MAILER_KEY", "ORG", "SECRET", "csrf_in", "sign_in"]
