"""`zbmcp agent key NAME`: create an API key for a hosted agent and store only its hash in the config.

The config is edited as text, line by line, so the user's comments and layout survive; the result is parsed
again before it replaces the file (atomically, through zbmcp.files), and a failure leaves the file as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from zbmcp.cli.config_file import UnsetAsPlaceholders, default_config_path, read_config_text
from zbmcp.core.config_parse import parse_config
from zbmcp.core.credentials import new_api_key
from zbmcp.errors import ConfigError
from zbmcp.files import replace_file
from zbmcp.core.policy import unknown_agent
from zbmcp.core.yamlsource import load_yaml

def add_api_key(config_path: Path | None, agent: str, environ: Mapping[str, str]) -> tuple[Path, str]:
    path = config_path or default_config_path(environ)
    if not path.is_file():
        raise ConfigError(f"no config file at {path}; pass --config PATH")
    key, digest = new_api_key()
    offline = UnsetAsPlaceholders(environ)  # a key is made here, on the operator's machine: no Zoho secret
    rewrite_config(path, lambda text: with_key_hash(text, str(path), agent, digest, offline), offline)
    return path, key


def rewrite_config(path: Path, edit: Callable[[str], str], environ: Mapping[str, str]) -> None:
    """Replace the config file with edit(its text), only if the result loads; atomic, keeping the mode."""
    target = path.resolve()  # a config kept elsewhere and linked here is edited where it lives
    updated = edit(read_config_text(target))
    parse_config(updated, str(path), environ)  # never write a config that would not load
    try:
        replace_file(target, updated.encode("utf-8"), mode=target.stat().st_mode & 0o777)
    except OSError as exc:
        raise ConfigError(f"could not write {path}: {exc.strerror or exc}; the file is unchanged") from None


def with_key_hash(text: str, file: str, agent: str, digest: str, environ: Mapping[str, str]) -> str:
    raw, source = load_yaml(text, file, environ)
    agents = raw.get("agents") if isinstance(raw, dict) else None
    if not isinstance(agents, dict) or agent not in agents:
        raise unknown_agent(agent, agents or {})
    lines = text.splitlines(keepends=True)
    entry = agents[agent]
    if not isinstance(entry, dict) or not entry:
        raise ConfigError(f"agents.{agent} must be a mapping (connection, organizations, tools...)",
                          file=file)
    first_child = next(iter(entry))
    child_line = source.lines[("agents", agent, first_child)] - 1
    indent = lines[child_line][: len(lines[child_line]) - len(lines[child_line].lstrip())]
    quoted = f'"{digest}"'
    if "api_keys" not in entry:
        lines.insert(child_line, f"{indent}api_keys: [{quoted}]\n")
        return "".join(lines)
    key_line = source.lines[("agents", agent, "api_keys")] - 1
    existing = entry["api_keys"] or []
    line = lines[key_line]
    if "[" in line and "]" in line:  # flow style: api_keys: ["sha256:...", ...]
        head, _, _ = line.partition("[")
        items = ", ".join([f'"{h}"' for h in existing] + [quoted])
        lines[key_line] = f"{head}[{items}]\n"
        return "".join(lines)
    last_item_line = key_line
    if existing:
        last_item_line = source.lines[("agents", agent, "api_keys", len(existing) - 1)] - 1
    item_indent = indent + "  "
    if existing:
        item_text = lines[last_item_line]
        item_indent = item_text[: len(item_text) - len(item_text.lstrip())]
    lines.insert(last_item_line + 1, f"{item_indent}- {quoted}\n")
    return "".join(lines)
