"""An https server on 127.0.0.1 for client metadata documents, with a certificate made for the test."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import ipaddress
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zbmcp.listen import bind_listener


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 (its own CA, so the test can trust exactly it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class MetadataHost:
    """Serves whatever a test puts in `documents` (path -> JSON value, a Response, or an anyio.Event to wait
    for before answering); counts the fetches."""

    base_url: str
    ca_file: Path
    documents: dict[str, Any] = field(default_factory=dict)
    fetches: list[str] = field(default_factory=list)

    def client_id(self, path: str = "/client.json") -> str:
        return self.base_url + path

    def publish(self, path: str, **metadata: Any) -> str:
        """A valid client metadata document at `path`, overridden by `metadata`; returns its client_id."""
        client_id = self.client_id(path)
        self.documents[path] = {"client_id": client_id, "client_name": "Metadata Desk",
                                "redirect_uris": ["http://127.0.0.1:9/callback"],
                                "grant_types": ["authorization_code", "refresh_token"],
                                "response_types": ["code"], "token_endpoint_auth_method": "none", **metadata}
        return client_id


@contextlib.asynccontextmanager
async def _serving(config: uvicorn.Config, sock: socket.socket) -> AsyncIterator[None]:
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(server.serve, sockets=[sock]))
        with anyio.fail_after(10):
            while not server.started:  # uvicorn offers no event for it
                await anyio.sleep(0.01)
        try:
            yield
        finally:
            server.should_exit = True


@contextlib.asynccontextmanager
async def metadata_host(folder: Path) -> AsyncIterator[MetadataHost]:
    cert, key = self_signed(folder)
    sock = bind_listener("127.0.0.1", 0)  # bound now: a port picked and bound later could be taken first
    host = MetadataHost(f"https://localhost:{sock.getsockname()[1]}", cert)

    async def serve(request: Request) -> Response:
        host.fetches.append(request.url.path)
        document = host.documents.get(request.url.path)
        if document is None:
            return Response(status_code=404)
        if isinstance(document, Response):
            return document
        if isinstance(document, anyio.Event):  # a host that does not answer until the test lets it
            await document.wait()
            return Response(status_code=503)
        return Response(json.dumps(document), media_type="application/json")

    app = Starlette(routes=[Route("/{path:path}", serve)])
    config = uvicorn.Config(app, ssl_certfile=str(cert), ssl_keyfile=str(key), log_level="warning",
                            log_config=None, lifespan="off")
    with sock:
        async with _serving(config, sock):
            yield host
