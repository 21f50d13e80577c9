"""Bind a listening TCP socket before anything is printed, so a busy port is one clear line, not a traceback
after a banner that said "serving"."""

from __future__ import annotations

import errno
import socket

from zbmcp.errors import ZbmcpError


class CannotListen(ZbmcpError):
    """The address or port cannot be listened on: the message says which and what to do."""


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); port 0 picks a free one. Raises OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, so asyncio sets TCP_NODELAY on accepted sockets: without it, Nagle and delayed ACKs add
    # ~40 ms to every answer on loopback
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def listen(host: str, port: int) -> socket.socket:
    """bind_listener, with every failure turned into a sentence that names the address and the fix."""
    try:
        return bind_listener(host, port)
    except socket.gaierror:
        raise CannotListen(f"cannot listen on {host}: no such host name; give --host an address of "
                           "this machine (e.g. 127.0.0.1)") from None
    except OverflowError:
        raise CannotListen(f"cannot listen on port {port}: a port is a number from 0 to 65535") from None
    except OSError as exc:
        raise CannotListen(_explain(exc, host, port)) from None


def _explain(exc: OSError, host: str, port: int) -> str:
    where = f"{host}:{port}" if ":" not in host else f"[{host.strip('[]')}]:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (f"cannot listen on {where}: the port is already in use (another zbmcp, or another server); "
                f"stop it or choose another port with --port")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (f"cannot listen on {where}: not allowed (ports below 1024 need privileges); "
                "choose --port 1024 or above")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: {host} is not an address of this machine; check --host"
    return f"cannot listen on {where}: {exc.strerror or exc}"
