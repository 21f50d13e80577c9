"""The Starlette app: the Books API under /books/v3 and Zoho Accounts' OAuth endpoints on the same host."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.routing import Mount

from zbmcp.sandbox.api import BooksApi
from zbmcp.sandbox.oauth import OAuthEndpoints

if TYPE_CHECKING:
    from zbmcp.sandbox.sandbox import Sandbox


def build_app(sandbox: Sandbox) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with sandbox.webhooks.running():  # served over HTTP: its workflow rules fire webhooks
            yield

    return Starlette(routes=[Mount("/books/v3", app=BooksApi(sandbox)), *OAuthEndpoints(sandbox).routes()],
                     lifespan=lifespan)
