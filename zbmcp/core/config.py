"""The config's sections as typed, validated models, and the LoadedConfig the rest of zbmcp is given.

    connections:            # how to reach Zoho: region, OAuth client, refresh token, limits
    agents:                 # who may do what: connection, organizations, tools, exclude, read_only, ...
    audit:                  # where the audit log goes
    http:                   # the hosted transport: allowed hosts and origins
    oauth:                  # zbmcp as the OAuth server of remote MCP clients (docs/connectors.md)
    state:                  # where processes and replicas share limits, tokens, approvals (local | redis)
    operators:              # the people who may sign in to the console (hashed secrets)
    console:                # the operator's console: sessions, how long approvals wait, a webhook
    hooks:                  # Zoho Books webhooks zbmcp receives, and agents read as events (docs/webhooks.md)

A mistake anywhere fails at start-up with the file, the line and the fix; the server never starts
half-configured. The sections of a hosted server (http, oauth, state, console) are in
zbmcp.core.config_hosting; zbmcp.core.config_parse turns a config's text into a LoadedConfig (checks across
sections, errors explained); zbmcp.cli.config_file finds and reads the file. Tool selectors are checked
against the manifests by zbmcp.core.policy.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from zbmcp.core.config_hooks import Hook, check_hook_names
from zbmcp.core.idempotency import CUSTOM_FIELD, UPSERT_MODULES
from zbmcp.core.config_hosting import Console, Http, OAuth, Section, StateSettings
from zbmcp.errors import ConfigError
from zbmcp.core.yamlsource import SourceMap
from zbmcp.core.regions import REGIONS, Region

PER_USER = "per_user"  # agents.NAME.connection: each signed-in person's own Zoho token
HOME_ENV = "ZBMCP_HOME"


class Limits(Section):
    """What zbmcp allows itself per organization, below Zoho's own limits (../shared/zoho-books-api.md §7)."""

    # Zoho blocks an organization at 100 requests a minute. Just under it: a request holds its place until a
    # window after its answer, which already leaves room, and a 429 from Zoho (other integrations count
    # too) holds every call to the organization back.
    requests_per_minute: int = Field(default=98, ge=1)
    # The window requests_per_minute counts over. Zoho's is a minute; shorter only for tests and benchmarks.
    window_seconds: float = Field(default=60.0, gt=0, le=3600)
    concurrency: int = Field(default=5, ge=1, le=50)
    daily_budget: int | None = Field(default=None, ge=1)
    max_wait_seconds: float = Field(default=30.0, ge=0)


class Quota(Section):
    per_minute: int | None = Field(default=None, ge=1)
    per_day: int | None = Field(default=None, ge=1)


class Connection(Section):
    region: Region = "com"
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    refresh_token: SecretStr | None = None
    api_base_url: str | None = None
    accounts_url: str | None = None
    limits: Limits = Limits()
    # file | keyring | memory | state (encrypted in the State); unset with state.backend redis: state
    token_store: str = Field(default="file", pattern="^(file|keyring|memory|state)$")
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    # module -> the API name of a custom field that refuses duplicates, for Zoho's upsert
    # (docs/exactly-once.md)
    unique_fields: dict[str, str] = {}

    @field_validator("unique_fields")
    @classmethod
    def _upsert_modules(cls, value: dict[str, str]) -> dict[str, str]:
        for module, api_name in value.items():
            if module not in UPSERT_MODULES:
                raise ValueError(f"{module!r}: Zoho updates or creates by a unique custom field in these "
                                 f"modules only: {', '.join(UPSERT_MODULES)}")
            if not CUSTOM_FIELD.fullmatch(api_name):
                raise ValueError(f"{module}: {api_name!r} is not a custom field's API name, such as "
                                 "cf_zbmcp_key (Settings > Preferences > the module > Field Customization)")
        return value

    @field_validator("region", mode="before")
    @classmethod
    def _known_region(cls, value: Any) -> Any:
        if value not in REGIONS:
            raise ValueError(f"unknown region {value!r}; use one of: {', '.join(REGIONS)}")
        return value

    @field_validator("api_base_url", "accounts_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/") if value else value


class Rule(Section):
    """One argument rule: exactly one of deny, approve or allow, holding a CEL expression (docs/policy.md)."""

    deny: str | None = Field(default=None, min_length=1)
    approve: str | None = Field(default=None, min_length=1)
    allow: str | None = Field(default=None, min_length=1)
    name: str | None = Field(default=None, min_length=1, max_length=80)
    tools: list[str] = []  # selectors, as in `tools`; empty: every tool the agent has
    reason: str | None = None  # told to the agent with a refusal, and to the person asked

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        kinds = [kind for kind in ("deny", "approve", "allow") if getattr(self, kind) is not None]
        if len(kinds) != 1:
            raise ValueError("a rule has exactly one of deny, approve or allow, holding a CEL expression, "
                             'e.g. {approve: "amount > 5000.0", name: big-amounts}')
        return self

    @property
    def kind(self) -> str:
        return "deny" if self.deny is not None else "approve" if self.approve is not None else "allow"

    @property
    def expression(self) -> str:
        return self.deny or self.approve or self.allow or ""


class Agent(Section):
    connection: str
    organizations: list[str] = Field(min_length=1)
    tools: list[str] = []
    # Which tools a wildcard or module selector in `tools` (`*`, `invoices:*`, `*:read`) picks: `curated`, the
    # hand-written tools only; `whole`, also the ~400 generated from Zoho's OpenAPI files. A tool named
    # exactly is granted either way. Curated by default so that an upgrade adding tools never widens a grant.
    catalog: Literal["curated", "whole"] = "curated"
    exclude: list[str] = []
    read_only: bool = False
    require_approval: list[str] = []
    dry_run: bool = False
    api_keys: list[str] = []
    quota: Quota | None = None
    # Who answers require_approval: `client` asks through the agent's own MCP client (a person's desktop app),
    # `console` holds the call for an operator. None: console for agents over HTTP, client over stdio.
    approval: Literal["client", "console"] | None = None
    rules: list[Rule] = []
    # Zoho users who may sign in as this agent (remote connectors): email or Zoho user id
    users: list[str] = []
    # The most bytes of tools/list the agent reads (docs/context.md). A grant whose tools take more is listed
    # as its `pinned` tools (selectors, as in `tools`; empty: a default core set) beside find_tools,
    # describe_tools and call_tool, which reach every tool it may use.
    tool_list_bytes: int = Field(default=25_000, ge=8_000, le=10_000_000)
    pinned: list[str] = []

    @field_validator("organizations", mode="before")
    @classmethod
    def _organization_ids(cls, value: Any) -> Any:
        if isinstance(value, list):
            value = [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
            for v in value:
                if not isinstance(v, str) or not v.isdigit() or not v.isascii():
                    raise ValueError(f"{v!r} is not a Zoho organization id (digits only, e.g. \"10234695\")")
        return value

    @field_validator("api_keys")
    @classmethod
    def _key_hashes(cls, value: list[str]) -> list[str]:
        for key in value:
            digest = key.removeprefix("sha256:")
            if not key.startswith("sha256:") or len(digest) != 64 or not all(c in HEX for c in digest):
                raise ValueError("api_keys holds hashes, not keys: \"sha256:<64 hex digits>\"; "
                                 "create one with `zbmcp agent key NAME`")
        return value

    @field_validator("users", mode="before")
    @classmethod
    def _zoho_users(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        users = []
        for user in value:
            if isinstance(user, int) and not isinstance(user, bool):
                user = str(user)  # a Zoho user id written as a YAML number
            if not isinstance(user, str):
                raise _not_a_user(user)
            user = user.strip()
            if not (user.isdigit() or _EMAIL.fullmatch(user)):
                raise _not_a_user(user)
            users.append(user.lower())
        return users


def _not_a_user(user: object) -> ValueError:
    return ValueError(f"{user!r} is neither an email address nor a Zoho user id (digits, the ZUID)")


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
HEX = "0123456789abcdef"


class Audit(Section):
    path: str | None = None  # None: JSON lines on stderr
    # argument names whose values are recorded, e.g. [customer_id, invoice_id]
    argument_values: list[str] = []
    # What is flushed to disk (fsync) before zbmcp goes on: the records of write tools (the default: the
    # record of a write is on disk before the request leaves), every record, or none (the OS decides).
    sync: Literal["writes", "all", "none"] = "writes"


OPERATOR_SECRET = re.compile(r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+={0,2}\$[A-Za-z0-9_-]+={0,2}$")
OPERATOR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class Operator(Section):
    secret: str  # "scrypt$n$r$p$salt$hash", written by `zbmcp operator add NAME`

    @field_validator("secret")
    @classmethod
    def _hashed(cls, value: str) -> str:
        if not OPERATOR_SECRET.match(value):
            raise ValueError("holds a hash, not a password: \"scrypt$...\"; create one with "
                             "`zbmcp operator add NAME`")
        return value


class Config(Section):
    connections: dict[str, Connection] = {}
    agents: dict[str, Agent] = {}
    audit: Audit = Audit()
    http: Http = Http()
    oauth: OAuth | None = None
    state: StateSettings = StateSettings()
    operators: dict[str, Operator] = {}
    console: Console = Console()
    hooks: dict[str, Hook] = {}

    @field_validator("hooks")
    @classmethod
    def _hook_names(cls, value: dict[str, Hook]) -> dict[str, Hook]:
        return check_hook_names(value)

    @field_validator("operators")
    @classmethod
    def _operator_names(cls, value: dict[str, Operator]) -> dict[str, Operator]:
        for name in value:
            if not OPERATOR_NAME.match(name):
                raise ValueError(f"operator name {name!r}: use letters, digits and _ . @ - (at most 64)")
        return value


def sign_in_connection(config: Config) -> str | None:
    """The connection whose Zoho OAuth client signs people in (None without an oauth section)."""
    if config.oauth is None:
        return None
    return config.oauth.connection or next(iter(config.connections), None)


class LoadedConfig:
    """A validated Config, with the file it came from (for error messages and relative paths), its revision
    (the first 16 hex digits of the SHA-256 of the file as loaded, what `sha256sum` prints, so every audit
    record names the exact policy that decided it) and zbmcp's home folder (tokens, keys, local state).

    A config parsed only to be checked or compared may have no home; asking it for one is then an error."""

    def __init__(self, config: Config, source: SourceMap, home: Path | None, revision: str = "") -> None:
        self.config = config
        self.source = source
        self._home = home
        self.revision = revision

    @property
    def home(self) -> Path:
        if self._home is None:
            raise ConfigError(f"no home folder for zbmcp's tokens and state: set {HOME_ENV}",
                              file=self.source.file)
        return self._home

    @property
    def directory(self) -> Path:
        return Path(self.source.file).resolve().parent

    def resolve(self, path: str) -> Path:
        """A path from the config file, relative to the file's own folder."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.directory / candidate

    @property
    def audit_path(self) -> Path | None:
        return self.resolve(self.config.audit.path) if self.config.audit.path else None
