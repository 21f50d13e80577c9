"""The uvicorn internals the HTTP server extends are checked before it serves: a uvicorn without one stops
the server with a sentence naming it, instead of letting a deadline or the graceful drain silently never
happen."""

from __future__ import annotations

import pytest
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from tests.conftest import agent, running
from zbmcp.transports.http import HttpServer
from zbmcp.transports.uvicorn_internals import UvicornUnsupported, missing_internals


def test_the_installed_uvicorn_has_every_internal_relied_on() -> None:
    assert missing_internals() == []


async def test_a_uvicorn_without_one_stops_the_server_before_it_serves(make_config, sandbox, monkeypatch):
    monkeypatch.delattr(H11Protocol, "on_response_complete")
    monkeypatch.setattr(uvicorn.Server, "startup", lambda self, sockets=None: None)
    async with running(make_config({"bob": agent(["invoices:read"])}), sandbox) as runtime:
        with pytest.raises(UvicornUnsupported) as refused:
            HttpServer(runtime, host="127.0.0.1", port=0)
    assert "H11Protocol.on_response_complete()" in str(refused.value)
    assert "Server.servers (in startup)" in str(refused.value)
    assert "pip install 'uvicorn>=" in str(refused.value)
