"""The Starlette app: the Books API under /books/v3 and Zoho Accounts' OAuth endpoints on the same host."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.routing import Mount

from zbmcp.sandbox.api import BooksApi
from zbmcp.sandbox.oauth import OAuthEndpoints

if TYPE_CHECKING:
    from zbmcp.sandbox.sandbox import Sandbox


def build_app(sandbox: Sandbox) -> Starlette:
    return Starlette(routes=[Mount("/books/v3", app=BooksApi(sandbox)), *OAuthEndpoints(sandbox).routes()])
