"""Credentials as zbmcp keeps them: agents' API keys and operators' secrets, and their hashes (pure).

    operators:
      alice:
        secret: "scrypt$16384$8$1$<salt>$<hash>"      # `zbmcp operator add alice` writes this

Agent keys are long random strings, so a fast hash suffices for them; an operator may choose a password, so
secrets are hashed with scrypt (in Python's standard library), which makes guessing a stolen hash slow. The
config holds only the hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from zbmcp.core.config import OPERATOR_SECRET

KEY_PREFIX = "zbmcp_"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # about 50 ms and 16 MiB per check
_MAX_MEMORY = 64 * 1024 * 1024


def new_api_key() -> tuple[str, str]:
    """A fresh key for an agent, and the hash to store in the config."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key_hash(key)


def key_hash(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=_MAX_MEMORY)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    if not OPERATOR_SECRET.match(stored):
        return False
    _, n, r, p, salt, expected = stored.split("$")
    # a hostile config must not make each check cost minutes
    if int(n) > 2**20 or int(r) > 16 or int(p) > 4:
        return False
    digest = hashlib.scrypt(secret.encode(), salt=base64.urlsafe_b64decode(salt), n=int(n), r=int(r),
                            p=int(p), maxmem=_MAX_MEMORY)
    return hmac.compare_digest(digest, base64.urlsafe_b64decode(expected))


# A check that always takes as long as a real one: a sign-in with an unknown name must not answer faster.
# It is hash_secret("not a real operator secret", salt=16 zero bytes), written out: computing it cost every
# start of zbmcp a scrypt (tests/unit/test_credentials.py recomputes it).
DUMMY_HASH = ("scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$"
              "XNr5MWvpPVNOtm2IA91rF3-r8th6PZgX_Jvv1qQ0GUzjwq-Faed7Usrw_hTN_Ww0kome7cWpRt_Ps4yBVcu-RQ==")


def new_secret() -> str:
    return secrets.token_urlsafe(18)
