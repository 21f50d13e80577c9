"""The uvicorn internals zbmcp's HTTP server relies on, named in one place and checked before it serves.

uvicorn's public API (Config, Server.serve, should_exit) offers no hook for two things zbmcp needs:
  * deadlines for a client's request headers and body (http_guard.py): uvicorn has only a keep-alive timeout,
    so GuardedH11Protocol subclasses uvicorn's H11Protocol, extends connection_made, data_received,
    on_response_complete and connection_lost, and reads conn (h11's state), transport, loop and client;
  * a graceful drain between "stop accepting" and "wait for the connections to close" (http.py): _Uvicorn
    subclasses Server, extends startup and shutdown, and reads servers, server_state.connections and each
    connection's shutdown().
(`zbmcp console`, console/serve.py, reads Server.servers too, for the port it got.)
pyproject.toml pins uvicorn to the versions these were tested with. Should another be installed anyway, the
check below stops the server before it starts, naming what is missing, rather than letting a deadline or the
drain silently never happen.
"""

from __future__ import annotations

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from zbmcp.errors import ZbmcpError

TESTED = ">=0.31.1,<0.56"  # the uvicorn versions pyproject.toml allows

# (class, method the subclass extends or calls, attributes that method sets or reads)
_RELIED_ON: list[tuple[type, str, tuple[str, ...]]] = [
    (H11Protocol, "__init__", ("conn", "loop")),
    (H11Protocol, "connection_made", ("transport", "client")),
    (H11Protocol, "data_received", ()),
    (H11Protocol, "on_response_complete", ()),
    (H11Protocol, "connection_lost", ()),
    (H11Protocol, "shutdown", ()),
    (uvicorn.Server, "startup", ("servers",)),
    (uvicorn.Server, "shutdown", ("servers", "server_state", "connections")),
]


class UvicornUnsupported(ZbmcpError):
    """The installed uvicorn lacks an internal zbmcp's HTTP server relies on."""


def missing_internals() -> list[str]:
    missing = []
    for owner, method, attributes in _RELIED_ON:
        code = getattr(getattr(owner, method, None), "__code__", None)
        if code is None:
            missing.append(f"{owner.__name__}.{method}()")
            continue
        # co_names lists the attributes a method's own code sets or reads: the hook still does that work
        missing += [f"{owner.__name__}.{attribute} (in {method})" for attribute in attributes
                    if attribute not in code.co_names]
    return missing


def require_uvicorn_internals() -> None:
    missing = missing_internals()
    if missing:
        raise UvicornUnsupported(
            f"uvicorn {uvicorn.__version__} lacks what zbmcp's HTTP server relies on ({', '.join(missing)}); "
            f"install a uvicorn version zbmcp was tested with (pip install 'uvicorn{TESTED}')")
