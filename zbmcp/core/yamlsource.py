"""YAML with line numbers and ${ENV} references: so every config mistake can name its file and line."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from zbmcp.errors import ConfigError

Path_ = tuple[str | int, ...]
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# The validation context of a config read with Placeholders (zbmcp.core.config_parse)
WITHOUT_VARIABLES = "read without its variables"


class Placeholders(Mapping[str, str]):
    """The environment for a config read only to check or compare it: every ${VARIABLE} reads as written, so
    the reading never needs, nor shows, a secret."""

    def __getitem__(self, name: str) -> str:
        return "${" + name + "}"

    def __contains__(self, name: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def unexpanded(value: str, context: Any) -> bool:
    """A ${VARIABLE} left as written in a config read with Placeholders (`context` is pydantic's validation
    context): no check of the value's shape applies to it. A running server never gets here with one: its
    variables are read, and a value that merely looks like a reference is checked like any other."""
    return isinstance(context, dict) and bool(context.get(WITHOUT_VARIABLES)) \
        and ENV_REFERENCE.fullmatch(value) is not None


@dataclass
class SourceMap:
    """Where each value of a parsed YAML document came from."""

    file: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of the value at `path`, or of its nearest parent that has one."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None

    def error(self, message: str, path: Path_) -> ConfigError:
        return ConfigError(message, file=self.file, line=self.line_of(path))


def load_yaml(text: str, file: str, environ: Mapping[str, str]) -> tuple[Any, SourceMap]:
    """Parse YAML, expanding `${VAR}` from `environ`; refuse duplicate keys (a silent overwrite hides
    typos)."""
    source = SourceMap(file)
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=file,
                          line=mark.line + 1 if mark else None) from None
    if node is None:
        return {}, source
    return _construct(node, (), source, environ), source


def _construct(node: yaml.Node, path: Path_, source: SourceMap, environ: Mapping[str, str]) -> Any:
    source.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in result:
                raise ConfigError(f"key {key!r} appears twice", file=source.file,
                                  line=key_node.start_mark.line + 1)
            result[key] = _construct(value_node, (*path, key), source, environ)
            source.lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), source, environ) for i, item in enumerate(node.value)]
    value = yaml.SafeLoader(" ").construct_object(node) if node.tag != "tag:yaml.org,2002:str" else node.value
    if isinstance(value, str):
        return _expand(value, path, source, environ)
    return value


def _expand(value: str, path: Path_, source: SourceMap, environ: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise source.error(
                f"environment variable {name} is not set; export it before starting zbmcp, "
                "or write the value in the file",
                path,
            )
        return environ[name]

    return ENV_REFERENCE.sub(replace, value)
