"""The config file on disk: where it is, reading it, and zbmcp's home folder beside it.

The CLI builds the one config object here and passes it on; zbmcp.core.config_parse does the rest, purely.

    the file:                 --config PATH, else $ZBMCP_CONFIG, else zbmcp.yaml in the platform's user
                              config folder (on Linux ~/.config/zbmcp)
    tokens and local state:   $ZBMCP_HOME, else that same folder
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from zbmcp.core.access import Change, compare_texts
from zbmcp.core.config import HOME_ENV, LoadedConfig
from zbmcp.core.config_parse import parse_config
from zbmcp.core.yamlsource import Placeholders
from zbmcp.calls.catalog import load_manifests
from zbmcp.errors import ConfigError

APP_NAME = "zbmcp"
CONFIG_ENV = "ZBMCP_CONFIG"

EXAMPLE_CONFIG = """\
connections:
  main:
    region: eu                          # com | eu | in | com.au | jp | ca | com.cn | sa
    client_id: ${ZOHO_CLIENT_ID}
    client_secret: ${ZOHO_CLIENT_SECRET}
    refresh_token: ${ZOHO_REFRESH_TOKEN}
agents:
  bookkeeper:
    connection: main
    organizations: ["10234695"]
    tools: [list_invoices, get_invoice, create_invoice, list_contacts]
audit:
  path: ./zbmcp-audit.jsonl
"""


def default_home(environ: Mapping[str, str]) -> Path:
    if environ.get(HOME_ENV):
        return Path(environ[HOME_ENV]).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME))


def default_config_path(environ: Mapping[str, str]) -> Path:
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "zbmcp.yaml"


class UnsetAsPlaceholders(Placeholders):
    """The environment of a command that contacts nothing (`tools`, `scopes`, `claude-config`, `agent key`):
    a ${VARIABLE} that is set reads as itself, one that is not as a placeholder, since only a request to
    Zoho would need its value."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def __getitem__(self, name: str) -> str:
        return self._environ[name] if name in self._environ else super().__getitem__(name)


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None, *,
                offline: bool = False) -> LoadedConfig:
    """`offline`: for a command that contacts nothing, the ${VARIABLES} that are not set do not matter."""
    environ = os.environ if environ is None else environ
    path = path or default_config_path(environ)
    if not path.is_file():
        raise ConfigError(
            f"no config file at {path}. Write one (example below), pass --config PATH or set {CONFIG_ENV}; "
            f"or try zbmcp on the embedded sandbox with `zbmcp serve --sandbox`.\n\n{EXAMPLE_CONFIG}"
        )
    expand = UnsetAsPlaceholders(environ) if offline else environ
    return parse_config(read_config_text(path), str(path), expand, default_home(environ))


def read_config_text(path: Path) -> str:
    """The config's text, or a ConfigError that says what is wrong with the file (never a traceback)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the config: {exc.strerror or exc}", file=str(path)) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"the config is not UTF-8 text (byte {exc.start}); save it as UTF-8",
                          file=str(path), line=line) from None


def compare_files(old: Path, new: Path) -> list[Change]:
    """`zbmcp access compare OLD NEW`: what replacing the config `old` with `new` would grant or take away."""
    specs = load_manifests()
    return compare_texts((str(old), read_config_text(old)), (str(new), read_config_text(new)), specs)
