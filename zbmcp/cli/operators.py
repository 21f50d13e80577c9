"""`zbmcp operator add NAME`: a console operator's secret, of which the config keeps only a slow hash
(zbmcp.core.credentials)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from zbmcp.cli.config_file import UnsetAsPlaceholders, default_config_path
from zbmcp.core.config import OPERATOR_NAME
from zbmcp.core.credentials import hash_secret, new_secret
from zbmcp.errors import ConfigError
from zbmcp.cli.keys import rewrite_config
from zbmcp.core.yamlsource import load_yaml

MIN_SECRET_LENGTH = 12


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
    offline = UnsetAsPlaceholders(environ)  # the file is edited as text: no Zoho secret is needed
    rewrite_config(path, lambda text: with_operator(text, str(path), name, digest, offline), offline)
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
        raise ConfigError(f"operator {name!r} exists; to give them a new secret, delete their entry from "
                          f"{file} first, then add them again", file=file,
                          line=source.lines[("operators", name)])
    first = next(iter(operators))
    first_line = source.lines[("operators", first)] - 1
    if first_line == header:
        raise ConfigError("write operators in block style (one name per line) so zbmcp can add one",
                          file=file, line=header + 1)
    indent = lines[first_line][: len(lines[first_line]) - len(lines[first_line].lstrip())]
    lines.insert(first_line, f"{indent}{entry}\n")
    return "".join(lines)
