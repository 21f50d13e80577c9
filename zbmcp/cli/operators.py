"""Operators: the people who sign in to the console. The config holds only a slow hash of each secret.

    operators:
      alice:
        secret: "scrypt$16384$8$1$<salt>$<hash>"      # `zbmcp operator add alice` writes this

Agent keys are long random strings, so a fast hash suffices for them; an operator may choose a password, so
secrets are hashed with scrypt (in Python's standard library), which makes guessing a stolen hash slow.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from pathlib import Path

from zbmcp.core.config import OPERATOR_NAME, OPERATOR_SECRET, default_config_path
from zbmcp.errors import ConfigError
from zbmcp.cli.keys import rewrite_config
from zbmcp.core.yamlsource import load_yaml

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # about 50 ms and 16 MiB per check
MIN_SECRET_LENGTH = 12
_MAX_MEMORY = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_MAX_MEMORY)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    if not OPERATOR_SECRET.match(stored):
        return False
    _, n, r, p, salt, expected = stored.split("$")
    if int(n) > 2**20 or int(r) > 16 or int(p) > 4:  # a hostile config must not make each check cost minutes
        return False
    digest = hashlib.scrypt(secret.encode(), salt=base64.urlsafe_b64decode(salt), n=int(n), r=int(r), p=int(p),
                            maxmem=_MAX_MEMORY)
    return hmac.compare_digest(digest, base64.urlsafe_b64decode(expected))


# A check that always takes as long as a real one: a sign-in with an unknown name must not answer faster.
DUMMY_HASH = hash_secret("not a real operator secret", salt=b"\0" * 16)


def new_secret() -> str:
    return secrets.token_urlsafe(18)


def add_operator(config_path: Path | None, name: str, environ: Mapping[str, str],
                 secret: str | None = None) -> tuple[Path, str]:
    """Write the hash of a new secret for operator `name` into the config; returns (file, secret)."""
    if not OPERATOR_NAME.match(name):
        raise ConfigError(f"operator name {name!r}: use letters, digits and _ . @ - (at most 64)")
    if secret is not None and len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"the secret must have at least {MIN_SECRET_LENGTH} characters")
    path = config_path or default_config_path(environ)
    if not path.is_file():
        raise ConfigError(f"no config file at {path}; pass --config PATH")
    secret = secret or new_secret()
    digest = hash_secret(secret)
    rewrite_config(path, lambda text: with_operator(text, str(path), name, digest, environ), environ)
    return path, secret


def with_operator(text: str, file: str, name: str, digest: str, environ: Mapping[str, str]) -> str:
    """The config text with operator `name` added, comments and layout kept."""
    raw, source = load_yaml(text, file, environ)
    operators = raw.get("operators") if isinstance(raw, dict) else None
    entry = f'{name}: {{secret: "{digest}"}}'
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if operators is None:
        return "".join(lines) + f"operators:\n  {entry}\n"
    if not isinstance(operators, dict):
        raise ConfigError("operators must be a mapping of names to {secret: ...}", file=file,
                          line=source.line_of(("operators",)))
    header = source.lines[("operators",)] - 1
    if not operators:  # `operators: {}` or `operators:` with nothing under it
        lines[header] = f"operators:\n  {entry}\n"
        return "".join(lines)
    if name in operators:
        raise ConfigError(f"operator {name!r} exists; to give them a new secret, delete their entry from {file} "
                          "first, then add them again", file=file, line=source.lines[("operators", name)])
    first = next(iter(operators))
    first_line = source.lines[("operators", first)] - 1
    if first_line == header:
        raise ConfigError("write operators in block style (one name per line) so zbmcp can add one", file=file,
                          line=header + 1)
    indent = lines[first_line][: len(lines[first_line]) - len(lines[first_line].lstrip())]
    lines.insert(first_line, f"{indent}{entry}\n")
    return "".join(lines)
