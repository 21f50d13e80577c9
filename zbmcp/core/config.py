"""The config file (YAML) + environment -> one typed, validated Config. Built once, passed explicitly.

    connections:            # how to reach Zoho: region, OAuth client, refresh token, limits
    agents:                 # who may do what: connection, organizations, tools, exclude, read_only, ...
    audit:                  # where the audit log goes
    http:                   # the hosted transport: allowed hosts and origins
    oauth:                  # zbmcp as an OAuth authorization server for remote MCP clients (docs/connectors.md)
    state:                  # where processes and replicas share limits, tokens, approvals (local | redis)
    operators:              # the people who may sign in to the console (hashed secrets)
    console:                # the operator's console: sessions, how long approvals wait, a webhook

A mistake anywhere fails at start-up with the file, the line and the fix; the server never starts
half-configured. Tool selectors are checked against the manifests by zbmcp.core.policy.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from zbmcp.errors import ConfigError
from zbmcp.core.yamlsource import SourceMap, load_yaml
from zbmcp.core.regions import REGIONS, Region

APP_NAME = "zbmcp"
PER_USER = "per_user"  # agents.NAME.connection: each signed-in person's own Zoho token
CONFIG_ENV = "ZBMCP_CONFIG"
HOME_ENV = "ZBMCP_HOME"

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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Strict):
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


class Quota(_Strict):
    per_minute: int | None = Field(default=None, ge=1)
    per_day: int | None = Field(default=None, ge=1)


class Connection(_Strict):
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


class Rule(_Strict):
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


class Agent(_Strict):
    connection: str
    organizations: list[str] = Field(min_length=1)
    tools: list[str] = []
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
    users: list[str] = []  # Zoho users who may sign in as this agent (remote connectors): email or Zoho user id

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
            if not key.startswith("sha256:") or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
                raise ValueError(
                    "api_keys holds hashes, not keys: \"sha256:<64 hex digits>\"; create one with `zbmcp agent key NAME`"
                )
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
                raise ValueError(f"{user!r} is neither an email address nor a Zoho user id (digits, the ZUID)")
            user = user.strip()
            if not (user.isdigit() or _EMAIL.fullmatch(user)):
                raise ValueError(f"{user!r} is neither an email address nor a Zoho user id (digits, the ZUID)")
            users.append(user.lower())
        return users


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class Audit(_Strict):
    path: str | None = None  # None: JSON lines on stderr
    argument_values: list[str] = []  # argument names whose values are recorded, e.g. [customer_id, invoice_id]
    # What is flushed to disk (fsync) before zbmcp goes on: the records of write tools (the default: the
    # record of a write is on disk before the request leaves), every record, or none (the OS decides).
    sync: Literal["writes", "all", "none"] = "writes"


class Http(_Strict):
    allowed_hosts: list[str] = []
    allowed_origins: list[str] = []
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Hostile clients (zbmcp.transports.http_guard): slow senders cut off, connections and per-agent sessions capped.
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    max_connections: int = Field(default=1000, ge=2)
    max_sessions_per_agent: int = Field(default=20, ge=1)
    idle_seconds: float = Field(default=600.0, gt=0, le=86400)
    # Shared by replicas behind a load balancer, so an approval asked by one is accepted by another.
    approval_secret: SecretStr | None = None


class ClientMetadataDocuments(_Strict):
    """OAuth clients identified by the URL of their metadata (CIMD): which of those URLs zbmcp will fetch."""

    enabled: bool = True
    allowed_hosts: list[str] = []  # trust policy: only clients hosted here (empty: any public https host)
    # Fetch documents from loopback and private addresses too. Off: a client_id URL could otherwise make zbmcp
    # reach into its own network (SSRF). Only for tests and closed labs.
    allow_private_networks: bool = False
    ca_file: str | None = None  # extra CA certificates to trust when fetching them (relative to this file)


class OAuth(_Strict):
    """zbmcp as the authorization server of remote MCP clients; people sign in with Zoho."""

    issuer: str  # the public origin zbmcp is served at, e.g. https://zbmcp.example.com
    connection: str | None = None  # the Zoho OAuth client people sign in through (default: the only connection)
    access_token_seconds: int = Field(default=600, ge=60, le=3600)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    dynamic_registration: bool = True  # RFC 7591, for clients older than Client ID Metadata Documents
    client_metadata_documents: ClientMetadataDocuments = ClientMetadataDocuments()
    # Signs enrollment links; replicas must share it. Unset: a key file under $ZBMCP_HOME/oauth.
    enrollment_secret: SecretStr | None = None

    @field_validator("issuer")
    @classmethod
    def _origin(cls, value: str) -> str:
        match = re.fullmatch(r"(https?)://([^/?#@\s]+)/?", value.strip())
        if match is None:
            raise ValueError(f"{value!r} is not an origin; write the URL zbmcp is served at, with no path, "
                             "e.g. https://zbmcp.example.com")
        scheme, host = match.groups()
        if scheme == "http" and not _loopback(host):
            raise ValueError(f"{value!r}: OAuth needs https (plain http only on 127.0.0.1 or localhost, for tests)")
        return f"{scheme}://{host.lower()}"

    @property
    def public_hosts(self) -> list[str]:
        """The Host headers people and clients reach zbmcp with, through the issuer's origin (any port)."""
        host = self.issuer.split("://", 1)[1]
        return [host, host + ":*"]


def _loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class StateSettings(_Strict):
    """Where what must be one across processes lives: windows, quotas, day counts, tokens, approvals, sessions."""

    backend: Literal["local", "redis"] = "local"  # local: files under ZBMCP_HOME, one machine
    url: SecretStr | None = None  # redis://[user:password@]host:6379/0, rediss:// for TLS (may hold a password)
    key_prefix: str = Field(default="zbmcp:", pattern=r"^[A-Za-z0-9_.:{}-]{0,64}$")
    # Encrypts Zoho tokens kept in Redis (at least 32 characters, e.g. ${ZBMCP_STATE_KEY}).
    encryption_key: SecretStr | None = None
    timeout_seconds: float = Field(default=2.0, gt=0, le=30)

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("not a Redis URL: use redis://[user:password@]host:6379/0 (rediss:// for TLS)")
        return value

    @field_validator("encryption_key")
    @classmethod
    def _long_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("needs at least 32 characters; generate one with "
                             "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`")
        return value

    @model_validator(mode="after")
    def _redis_needs(self) -> StateSettings:
        if self.backend == "redis" and self.url is None:
            raise ValueError("backend redis needs url: redis://[user:password@]host:6379/0")
        if self.backend == "redis" and self.encryption_key is None:
            raise ValueError("backend redis needs encryption_key (Zoho tokens are kept in Redis encrypted with "
                             "it): at least 32 random characters, e.g. ${ZBMCP_STATE_KEY}")
        return self


OPERATOR_SECRET = re.compile(r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+={0,2}\$[A-Za-z0-9_-]+={0,2}$")
OPERATOR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class Operator(_Strict):
    secret: str  # "scrypt$n$r$p$salt$hash", written by `zbmcp operator add NAME`

    @field_validator("secret")
    @classmethod
    def _hashed(cls, value: str) -> str:
        if not OPERATOR_SECRET.match(value):
            raise ValueError("holds a hash, not a password: \"scrypt$...\"; create one with `zbmcp operator add NAME`")
        return value


class Console(_Strict):
    session_minutes: int = Field(default=480, ge=5, le=7 * 24 * 60)  # a sign-in lasts this long, then ends
    approval_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)  # a held call waits this long for a decision
    # How long one tool call waits in place for the decision before answering "pending, call again".
    hold_seconds: float = Field(default=20.0, ge=0, le=120)
    # Pending approvals are announced here (a chat channel's incoming webhook; its URL is a secret).
    webhook_url: SecretStr | None = None
    public_url: str | None = None  # how operators reach the console, for links in announcements
    # Reverse proxies (addresses or networks) whose X-Forwarded-Proto and X-Forwarded-For are believed: TLS
    # ends at the proxy, so the console learns from it that cookies must be Secure, and who is signing in.
    # (A proxy on the same machine, at 127.0.0.1, is believed by the HTTP server itself.)
    trusted_proxies: list[str] = []

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)") from None
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("https://", "http://")):
            raise ValueError("is not an http(s) URL")
        return value

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/") if value else value


class Config(_Strict):
    connections: dict[str, Connection] = {}
    agents: dict[str, Agent] = {}
    audit: Audit = Audit()
    http: Http = Http()
    oauth: OAuth | None = None
    state: StateSettings = StateSettings()
    operators: dict[str, Operator] = {}
    console: Console = Console()

    @field_validator("operators")
    @classmethod
    def _operator_names(cls, value: dict[str, Operator]) -> dict[str, Operator]:
        for name in value:
            if not OPERATOR_NAME.match(name):
                raise ValueError(f"operator name {name!r}: use letters, digits and _ . @ - (at most 64)")
        return value


class LoadedConfig:
    """A validated Config, with the file it came from (for error messages and relative paths) and its revision:
    the first 16 hex digits of the SHA-256 of the file as loaded (what `sha256sum` prints), so every audit
    record names the exact policy that decided it."""

    def __init__(self, config: Config, source: SourceMap, home: Path, revision: str = "") -> None:
        self.config = config
        self.source = source
        self.home = home
        self.revision = revision

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


def default_home(environ: Mapping[str, str]) -> Path:
    if environ.get(HOME_ENV):
        return Path(environ[HOME_ENV]).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME))


def default_config_path(environ: Mapping[str, str]) -> Path:
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "zbmcp.yaml"


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    environ = os.environ if environ is None else environ
    path = path or default_config_path(environ)
    if not path.is_file():
        raise ConfigError(
            f"no config file at {path}. Write one (example below), pass --config PATH or set {CONFIG_ENV}; "
            f"or try zbmcp on the embedded sandbox with `zbmcp serve --sandbox`.\n\n{EXAMPLE_CONFIG}"
        )
    return parse_config(read_config_text(path), str(path), environ)


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


def parse_config(text: str, file: str, environ: Mapping[str, str]) -> LoadedConfig:
    raw, source = load_yaml(text, file, environ)
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping with connections, agents and audit", file=file, line=1)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise _explain(exc, source) from None
    if PER_USER in config.connections:
        raise source.error(f"connections.{PER_USER}: the name is reserved for agents that use each person's own "
                           "Zoho token; call the connection something else", ("connections", PER_USER))
    for name, agent in config.agents.items():
        if (agent.connection == PER_USER or agent.users) and config.oauth is None:
            key = "connection" if agent.connection == PER_USER else "users"
            raise source.error(f"agents.{name}.{key}: people sign in only through zbmcp's OAuth server; add an "
                               "`oauth:` section (see docs/connectors.md)", ("agents", name, key))
        if agent.connection == PER_USER and agent.api_keys:
            raise source.error(f"agents.{name}.api_keys: a per_user agent calls Zoho as the person who signed in, "
                               "and a key names no person; give keys to an agent with a connection",
                               ("agents", name, "api_keys"))
        if agent.connection != PER_USER and agent.connection not in config.connections:
            known = ", ".join(sorted(config.connections)) or "none is defined"
            raise source.error(
                f"agents.{name}.connection: no connection named {agent.connection!r} (connections: {known})",
                ("agents", name, "connection"),
            )
    _check_keys_name_one_agent(config, source)
    if config.oauth is not None:
        _check_oauth(config, source)
    return LoadedConfig(config, source, default_home(environ), revision_of(text))


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
                    f"agents.{name}.api_keys: this key hash is already agent {first[0]!r}'s (line {first_line}); "
                    "a key must name exactly one agent. Give each agent its own key with `zbmcp agent key NAME` "
                    "and remove the copy",
                    ("agents", name, "api_keys", index),
                )


def sign_in_connection(config: Config) -> str | None:
    """The connection whose Zoho OAuth client signs people in (None without an oauth section)."""
    if config.oauth is None:
        return None
    return config.oauth.connection or next(iter(config.connections), None)


def _check_oauth(config: Config, source: SourceMap) -> None:
    assert config.oauth is not None
    known = ", ".join(sorted(config.connections)) or "none is defined"
    chosen = config.oauth.connection
    if chosen is None and len(config.connections) != 1:
        raise source.error(f"oauth.connection: name the connection whose Zoho OAuth client people sign in with "
                           f"(connections: {known})", ("oauth",))
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
        message = f"unknown key {field_name!r}" + (f"; expected one of: {', '.join(allowed)}" if allowed else "")
    elif error["type"] == "missing":
        message = "is required"
    prefix = f"{where}: " if where else ""
    return ConfigError(f"{prefix}{message}", file=source.file, line=source.line_of(location))


def _allowed_keys(parent: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = Config
    for part in parent:
        if model is Config and part in ("connections", "agents", "operators"):
            entries: dict[str, type[BaseModel]] = {"connections": Connection, "agents": Agent, "operators": Operator}
            model = entries[part]
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
