"""Reaching Redis the way a hosted fleet does: a password and TLS, both through the state.url."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import own_redis_server
from tests.redis_server import Tls
from zbmcp.state import StateUnavailable
from zbmcp.state.redis import RedisState


def certificates(directory: Path) -> Tls:
    """A throwaway CA and a certificate for 127.0.0.1 signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "zbmcp test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + dt.timedelta(1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                                                   "redis")]))
              .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now).not_valid_after(now + dt.timedelta(1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    tls = Tls(directory / "redis.crt", directory / "redis.key", directory / "ca.crt")
    tls.certificate.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    tls.authority.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    tls.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return tls


async def test_a_password_in_the_url_is_used_and_a_wrong_one_is_a_clear_error(tmp_path: Path):
    with own_redis_server(tmp_path / "redis", password="s3cret-pass") as redis:
        state = RedisState(redis.url)
        wrong = RedisState(redis.url.replace("s3cret-pass", "not-the-password"))
        try:
            await state.put("sessions", "s", "v", ttl=60)
            assert await state.get("sessions", "s") == "v"
            with pytest.raises(StateUnavailable) as refused:
                await wrong.get("sessions", "s")
            assert "cannot be reached" in str(refused.value) and "pass" not in str(refused.value)
        finally:
            await state.aclose()
            await wrong.aclose()


async def test_tls_through_a_rediss_url(tmp_path: Path):
    tls = certificates(tmp_path / "tls")
    with own_redis_server(tmp_path / "redis", tls=tls) as redis:
        state = RedisState(redis.url)
        plain = RedisState(redis.url.replace("rediss://", "redis://").split("?")[0], timeout=1)
        try:
            await state.put("sessions", "s", {"over": "tls"}, ttl=60)
            assert await state.get("sessions", "s") == {"over": "tls"}
            with pytest.raises(StateUnavailable):  # the server speaks only TLS
                await plain.get("sessions", "s")
        finally:
            await state.aclose()
            await plain.aclose()
