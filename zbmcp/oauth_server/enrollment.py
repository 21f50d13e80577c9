"""One-time enrollment links: an operator lets a person in without listing them in the config.

    zbmcp oauth enroll --agent bookkeeper [--email alice@example.com] [--hours 72]
    -> https://zbmcp.example.com/oauth/enroll?t=<invitation>.<signature>

The link is signed (HMAC-SHA256 with oauth.enrollment_secret, or a key file under $ZBMCP_HOME/oauth),
so the command needs no running server, and carries the agent, an expiry, a nonce, the State's epoch and
optionally the only Zoho email allowed to use it. It is used up when someone finishes signing in with it
(not when a link preview fetches it), and works only in the epoch it was made in: a State that lost the
record of its use (a Redis restarted empty) does not re-arm it (zbmcp.state.single_use).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zbmcp.core.config import LoadedConfig
from zbmcp.files import write_private_file

MAX_HOURS = 24 * 30


class InvalidLink(Exception):
    """Why an enrollment link cannot be used."""


@dataclass(frozen=True)
class Invitation:
    agent: str
    email: str | None
    nonce: str
    expires_at: int
    epoch: str  # the State's, when the link was made


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def enrollment_key(loaded: LoadedConfig) -> bytes:
    oauth = loaded.config.oauth
    if oauth is not None and oauth.enrollment_secret is not None:
        return hashlib.sha256(oauth.enrollment_secret.get_secret_value().encode()).digest()
    path = key_path(loaded.home)
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = b""
    if len(key) < 32:
        key = os.urandom(32)
        write_private_file(path, key)
    return key


def check_hours(hours: float) -> None:
    if not 0 < hours <= MAX_HOURS:
        raise ValueError(f"an enrollment link lasts between a minute and {MAX_HOURS} hours")


def key_path(home: Path) -> Path:
    return home / "oauth" / "enrollment.key"


class EnrollmentLinks:
    def __init__(self, key: bytes, issuer: str, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._issuer = issuer
        self._clock = clock

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def create(self, agent: str, *, epoch: str, email: str | None = None, hours: float = 72) -> str:
        check_hours(hours)
        invitation = {"a": agent, "e": int(self._clock() + hours * 3600), "n": secrets.token_urlsafe(12),
                      "s": epoch}
        if email:
            invitation["m"] = email.strip().lower()
        payload = _b64(json.dumps(invitation, separators=(",", ":")).encode())
        return f"{self._issuer}/oauth/enroll?t={payload}.{self._sign(payload)}"

    def read(self, token: str) -> Invitation:
        payload, _, signature = token.partition(".")
        if not payload or not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            raise InvalidLink("this enrollment link is not valid (mistyped, or not made by this zbmcp)")
        try:
            data = json.loads(_unb64(payload))
            if "s" not in data:
                raise InvalidLink("this enrollment link was made by an older zbmcp, whose links a restarted "
                                  "Redis could re-arm; ask your zbmcp operator for a new one")
            invitation = Invitation(agent=str(data["a"]), email=data.get("m"), nonce=str(data["n"]),
                                    expires_at=int(data["e"]), epoch=str(data["s"]))
        except (ValueError, KeyError, TypeError):
            raise InvalidLink("this enrollment link is not valid") from None
        if invitation.expires_at <= self._clock():
            raise InvalidLink("this enrollment link has expired; ask your zbmcp operator for a new one")
        return invitation
