"""A config's text + environment -> one LoadedConfig (pure: the caller reads the file and knows the home).

Validation by the section models (zbmcp.core.config), then the checks that span sections (an agent's
connection exists, a key names one agent, people sign in only through the OAuth server); the first mistake
becomes a ConfigError with the file, the line and the fix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from zbmcp.core.config import (
    HOME_ENV,
    PER_USER,
    Agent,
    Config,
    Connection,
    LoadedConfig,
    Operator,
)
from zbmcp.core.config_hooks import Hook
from zbmcp.core.yamlsource import WITHOUT_VARIABLES, Placeholders, SourceMap, load_yaml
from zbmcp.errors import ConfigError


def parse_config(text: str, file: str, environ: Mapping[str, str], home: Path | None = None, *,
                 aliases: bool = True) -> LoadedConfig:
    """`environ` fills the ${VARIABLES}. `home` is zbmcp's folder for tokens and state, as the caller that
    reads the config knows it (zbmcp.cli.config_file); without it, ZBMCP_HOME from `environ`, else none.
    `aliases=False` for a config from a stranger (zbmcp.core.yamlsource)."""
    raw, source = load_yaml(text, file, environ, aliases=aliases)
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping with connections, agents and audit",
                          file=file, line=1)
    try:
        config = Config.model_validate(raw, context={WITHOUT_VARIABLES: isinstance(environ, Placeholders)})
    except ValidationError as exc:
        raise _explain(exc, source) from None
    if PER_USER in config.connections:
        raise source.error(f"connections.{PER_USER}: the name is reserved for agents that use each person's "
                           "own Zoho token; call the connection something else", ("connections", PER_USER))
    for name, agent in config.agents.items():
        _check_agent(config, name, agent, source)
    _check_keys_name_one_agent(config, source)
    if config.oauth is not None:
        _check_oauth(config, source)
    for name, hook in config.hooks.items():
        if hook.connection not in config.connections:
            known = ", ".join(sorted(config.connections)) or "none is defined"
            raise source.error(f"hooks.{name}.connection: no connection named {hook.connection!r} "
                               f"(connections: {known})", ("hooks", name, "connection"))
    if home is None and environ.get(HOME_ENV):
        home = Path(environ[HOME_ENV]).expanduser()
    return LoadedConfig(config, source, home, revision_of(text))


def _check_agent(config: Config, name: str, agent: Agent, source: SourceMap) -> None:
    if (agent.connection == PER_USER or agent.users) and config.oauth is None:
        key = "connection" if agent.connection == PER_USER else "users"
        raise source.error(f"agents.{name}.{key}: people sign in only through zbmcp's OAuth server; add an "
                           "`oauth:` section (see docs/connectors.md)", ("agents", name, key))
    if agent.connection == PER_USER and agent.api_keys:
        raise source.error(f"agents.{name}.api_keys: a per_user agent calls Zoho as the person who signed "
                           "in, and a key names no person; give keys to an agent with a connection",
                           ("agents", name, "api_keys"))
    if agent.connection != PER_USER and agent.connection not in config.connections:
        known = ", ".join(sorted(config.connections)) or "none is defined"
        raise source.error(
            f"agents.{name}.connection: no connection named {agent.connection!r} (connections: {known})",
            ("agents", name, "connection"),
        )


def revision_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _check_keys_name_one_agent(config: Config, source: SourceMap) -> None:
    """An API key is who the caller is: one hash under two agents would make the wider one win silently."""
    owner: dict[str, tuple[str, int]] = {}
    for name, agent in config.agents.items():
        for index, key in enumerate(agent.api_keys):
            first = owner.setdefault(key, (name, index))
            if first != (name, index):
                first_line = source.line_of(("agents", first[0], "api_keys", first[1]))
                raise source.error(
                    f"agents.{name}.api_keys: this key hash is already agent {first[0]!r}'s "
                    f"(line {first_line}); a key must name exactly one agent. Give each agent its own key "
                    "with `zbmcp agent key NAME` and remove the copy",
                    ("agents", name, "api_keys", index),
                )


def _check_oauth(config: Config, source: SourceMap) -> None:
    assert config.oauth is not None
    known = ", ".join(sorted(config.connections)) or "none is defined"
    chosen = config.oauth.connection
    if chosen is None and len(config.connections) != 1:
        raise source.error(f"oauth.connection: name the connection whose Zoho OAuth client people sign in "
                           f"with (connections: {known})", ("oauth",))
    if chosen is not None and chosen not in config.connections:
        raise source.error(f"oauth.connection: no connection named {chosen!r} (connections: {known})",
                           ("oauth", "connection"))


def _explain(exc: ValidationError, source: SourceMap) -> ConfigError:
    error = exc.errors()[0]  # the first mistake, precisely; fixing it reveals the next
    location = tuple(error["loc"])
    where = ".".join(str(p) for p in location)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        field_name = str(location[-1])
        allowed = _allowed_keys(location[:-1])
        message = f"unknown key {field_name!r}"
        if allowed:
            message += f"; expected one of: {', '.join(allowed)}"
    elif error["type"] == "missing":
        message = "is required"
    prefix = f"{where}: " if where else ""
    return ConfigError(f"{prefix}{message}", file=source.file, line=source.line_of(location))


# Sections keyed by names the user chooses: below them, the keys are those of one entry.
_ENTRIES: dict[str, type[BaseModel]] = {"connections": Connection, "agents": Agent, "operators": Operator,
                                        "hooks": Hook}


def _allowed_keys(parent: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = Config
    for part in parent:
        if model is Config and part in _ENTRIES:
            model = _ENTRIES[part]
            continue
        field_info = model.model_fields.get(str(part))
        if field_info is None:
            continue
        annotation = field_info.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if nested:
            model = nested[0]
    return sorted(model.model_fields)
