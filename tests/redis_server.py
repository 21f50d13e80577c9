"""A real redis-server (Debian's package) for tests and benchmarks: a free loopback port, a
temporary folder, stopped after. (No pytest here: bench/ starts it too; tests/conftest.py turns a
missing server into a skip.)"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_SECONDS = 10.0


class RedisNotInstalled(RuntimeError):
    pass


@dataclass(frozen=True)
class Tls:
    certificate: Path
    key: Path
    authority: Path  # the CA file clients verify the certificate with


class RedisServer:
    """`password` makes clients authenticate; `tls` makes it speak only TLS."""

    def __init__(self, directory: Path, *, password: str | None = None, tls: Tls | None = None) -> None:
        self.directory = directory
        self.password = password
        self.tls = tls
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        if self.tls:
            return f"rediss://{auth}127.0.0.1:{self.port}/0?ssl_ca_certs={self.tls.authority}"
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def _options(self) -> list[str]:
        options = ["--requirepass", self.password] if self.password else []
        if self.tls:
            options += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file",
                        str(self.tls.certificate), "--tls-key-file", str(self.tls.key), "--tls-ca-cert-file",
                        str(self.tls.authority), "--tls-auth-clients", "no"]
        else:
            options += ["--port", str(self.port)]
        return options

    def start(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RedisNotInstalled("redis-server is not installed (.ci/run installs Debian's redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        restart = self.port != 0
        # redis-server cannot bind port 0 and say which it got: a port picked free may be taken before it
        # binds it, so another is tried (a restart keeps its address, as a Redis restarted by its operator)
        for _ in range(1 if restart else 5):
            self.port = self.port if restart else _free_port()
            self._process = subprocess.Popen(
                [executable, *self._options(), "--bind", "127.0.0.1", "--dir", str(self.directory),
                 "--save", "", "--appendonly", "no", "--daemonize", "no",
                 "--logfile", str(self.directory / "redis.log")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            if self._answers():
                return
            self.stop()
        raise RuntimeError(f"redis-server did not start; see {self.directory / 'redis.log'}")

    def stop(self) -> None:
        """Stopped (its data goes with it: tests run it without persistence); start() brings it back."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _answers(self) -> bool:
        """Up, and ours: a neighbour's redis-server on the port picked would answer too (ours then fails to
        bind it and exits, and start() tries another port)."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                return False
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port),
                                                                        timeout=1) as raw, \
                    self._secured(raw) as s:
                auth = _command("AUTH", self.password) if self.password else b""
                s.sendall(auth + _command("INFO", "server"))
                reply = b""
                while chunk := s.recv(65536):
                    reply += chunk
                    if found := re.search(rb"\r\nprocess_id:(\d+)\r\n", reply):
                        if int(found.group(1)) == self._process.pid:
                            return True
                        break
            time.sleep(0.02)
        return False

    def _secured(self, raw: socket.socket) -> socket.socket:
        if self.tls is None:
            return raw
        context = ssl.create_default_context(cafile=str(self.tls.authority))
        return context.wrap_socket(raw, server_hostname="127.0.0.1")


@contextlib.contextmanager
def redis_server(directory: Path, *, password: str | None = None,
                 tls: Tls | None = None) -> Iterator[RedisServer]:
    server = RedisServer(directory, password=password, tls=tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _command(*words: str) -> bytes:
    encoded = [word.encode() for word in words]
    return f"*{len(encoded)}\r\n".encode() + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in encoded)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
