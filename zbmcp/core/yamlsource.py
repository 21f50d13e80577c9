"""YAML with line numbers and ${ENV} references: so every config mistake can name its file and line.

Bounded whoever wrote it: an alias that contains itself is refused, and so is a document that expands
(alias by alias: the "billion laughs") past MAX_VALUES values, so reading one takes milliseconds, never
minutes. Where the text comes from a stranger (a browser), aliases can be refused outright (`aliases=False`).
"""

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
MAX_VALUES = 20_000  # a config has hundreds


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


def load_yaml(text: str, file: str, environ: Mapping[str, str], *,
              aliases: bool = True) -> tuple[Any, SourceMap]:
    """Parse YAML, expanding `${VAR}` from `environ`; refuse duplicate keys (a silent overwrite hides
    typos). `aliases=False`: refuse `*alias` references too (YAML from someone other than the operator)."""
    source = SourceMap(file)
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=file,
                          line=mark.line + 1 if mark else None) from None
    except RecursionError:  # only without libyaml, which refuses deep nesting itself
        raise ConfigError("not valid YAML: nested too deeply", file=file) from None
    if node is None:
        return {}, source
    try:
        return _Reader(source, environ, aliases).construct(node, ()), source
    except RecursionError:
        raise ConfigError("nested too deeply to be a config", file=file) from None


class _Reader:
    def __init__(self, source: SourceMap, environ: Mapping[str, str], aliases: bool) -> None:
        self.source = source
        self.environ = environ
        self.aliases = aliases
        self.values = 0
        self.seen: set[int] = set()  # nodes read once: another visit is an alias
        self.open: set[int] = set()  # collections being read: a visit now is an alias of its own container

    def construct(self, node: yaml.Node, path: Path_) -> Any:
        line = node.start_mark.line + 1
        self.values += 1
        if self.values > MAX_VALUES:
            raise ConfigError(f"more than {MAX_VALUES} values (aliases repeating aliases?): too large to "
                              "read", file=self.source.file, line=line)
        # An alias is the node it names, met again: the line where it is used is its key's.
        if id(node) in self.open:
            raise ConfigError("an alias refers to a value that contains it, which never ends",
                              file=self.source.file, line=self.source.line_of(path))
        if id(node) in self.seen and not self.aliases:
            raise ConfigError("aliases (*name) are not accepted here: write each value out in full",
                              file=self.source.file, line=self.source.line_of(path))
        self.seen.add(id(node))
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            try:
                return _scalar(node, path, self.source, self.environ)
            except yaml.YAMLError as exc:  # a tag of no safe type (!!python/object, !custom)
                raise ConfigError(f"not a value a config holds: {getattr(exc, 'problem', exc)}",
                                  file=self.source.file, line=line) from None
        self.open.add(id(node))
        try:
            return self._collection(node, path)
        finally:
            self.open.discard(id(node))

    def _collection(self, node: yaml.Node, path: Path_) -> Any:
        source = self.source
        source.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.SequenceNode):
            return [self.construct(item, (*path, i)) for i, item in enumerate(node.value)]
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in result:
                raise ConfigError(f"key {key!r} appears twice", file=source.file,
                                  line=key_node.start_mark.line + 1)
            source.lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = self.construct(value_node, (*path, key))
            source.lines[(*path, key)] = key_node.start_mark.line + 1  # the key's line, not its value's
        return result


def _scalar(node: yaml.Node, path: Path_, source: SourceMap, environ: Mapping[str, str]) -> Any:
    source.lines[path] = node.start_mark.line + 1
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
