"""(ToolSpec, arguments) -> a validated ZohoRequest (pure: no network, no disk).

Validation happens here, before anything is sent: every problem names the field and says how to fix it.
Besides each tool's schema, every call is held to bounds no legitimate call comes near (a hostile one would
otherwise fill Zoho's fields, the audit log or memory): see the MAX_* constants.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from zbmcp.errors import InvalidArguments
from zbmcp.manifest import ARGUMENT_NAME_PATTERN, ZOHO_ID_PATTERN, ToolSpec
from zbmcp.tools import takes_organization, validation_schema

if TYPE_CHECKING:
    import jsonschema
    from jsonschema import Draft202012Validator

_ARGUMENT_NAME = re.compile(ARGUMENT_NAME_PATTERN)
MAX_FILTER_CHARS = 500  # a query value: a search text, a filter
MAX_TEXT_CHARS = 10_000  # a body string: notes, terms, an email's body
MAX_ITEMS = 500  # an array: line items, email addresses
MAX_DEPTH = 8  # objects and arrays within each other
MAX_ARGUMENT_BYTES = 512 * 1024  # all the arguments of one call, as JSON
_JSON_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
                    float: "a number", type(None): "null"}


@dataclass(frozen=True)
class ZohoRequest:
    method: str
    path: str  # relative to the Books API base, e.g. /invoices/460000000026049
    params: tuple[tuple[str, str], ...]
    body: Mapping[str, Any] | None = None
    organization_id: str | None = None
    tool: str = field(default="", compare=False)
    scope: str = field(default="", compare=False)

    def query(self) -> dict[str, str]:
        return dict(self.params)


def build_request(spec: ToolSpec, arguments: Mapping[str, Any], organization_ids: Sequence[str]) -> ZohoRequest:
    """Validate the arguments an agent sent and turn them into the request Zoho will get."""
    if not isinstance(arguments, Mapping):
        raise InvalidArguments([("arguments", "must be an object of named arguments")])
    validate(spec, arguments, organization_ids)
    arguments = dict(arguments)
    organization_id = _organization(spec, arguments, organization_ids)

    path = spec.path
    for name in spec.path_params:
        path = path.replace("{" + name + "}", str(arguments.pop(name)))

    params: list[tuple[str, str]] = []
    if organization_id is not None:
        params.append(("organization_id", organization_id))
    body: dict[str, Any] | None = {} if spec.body is not None else None
    for name, value in arguments.items():
        if name in spec.query or (spec.extra_arguments == "query" and name not in (spec.body or {})):
            params.append((name, _query_value(value)))
        elif body is not None:
            body[name] = value
    return ZohoRequest(spec.method, path, tuple(params), body, organization_id, tool=spec.name, scope=spec.scope)


def validate(spec: ToolSpec, arguments: Mapping[str, Any], organization_ids: Sequence[str]) -> None:
    too_big = _too_big(arguments)
    if too_big:  # checked first: nothing else should spend time on a call this size
        raise InvalidArguments([too_big])
    validator = _validator(spec, tuple(organization_ids))
    problems = [problem for error in validator.iter_errors(dict(arguments)) for problem in _explain(error, spec)]
    declared = set(validator.schema["properties"])
    for name in arguments:
        if name not in declared and not _ARGUMENT_NAME.fullmatch(name):
            problems.append((_short_name(name), "is not a valid argument name (lowercase letters, digits and _, "
                                                "at most 64)"))
    problems.extend((path, "must be a finite number (JSON has no NaN or Infinity)") for path in _non_finite(arguments))
    problems.extend(_out_of_bounds(arguments, spec))
    if problems:
        raise InvalidArguments(sorted(set(problems)))


@lru_cache(maxsize=1024)
def _validator(spec: ToolSpec, organization_ids: tuple[str, ...]) -> Draft202012Validator:
    # Imported on first use: jsonschema costs ~100 ms, and start-up (spawn to tools/list) needs none of it.
    from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

    def pattern(validator: Any, regex: str, instance: Any, schema: Any) -> Any:
        # JSON Schema patterns are ECMA-262, where `$` is the end of the text; Python's `$` also matches before
        # a final newline, which let "123\n" pass as a Zoho id. The end anchor is made strict here.
        if isinstance(instance, str) and not _strict_pattern(regex).search(instance):
            yield ValidationError(f"{instance!r} does not match {regex!r}")

    strict = validators.extend(Draft202012Validator, {"pattern": pattern})
    return strict(validation_schema(spec, organization_ids), format_checker=FormatChecker())


@lru_cache(maxsize=256)
def _strict_pattern(regex: str) -> re.Pattern[str]:
    if regex.endswith("$") and not regex.endswith("\\$"):
        regex = regex[:-1] + r"\Z"
    return re.compile(regex)


def _organization(spec: ToolSpec, arguments: dict[str, Any], organization_ids: Sequence[str]) -> str | None:
    if not takes_organization(spec):
        arguments.pop("organization_id", None)
        return None
    given = arguments.pop("organization_id", None)
    if given is not None:
        return str(given)
    if len(organization_ids) == 1:
        return organization_ids[0]
    raise InvalidArguments([("organization_id", f"is required; choose one of: {', '.join(organization_ids)}")])


def _non_finite(value: Any, path: str = "") -> list[str]:
    if isinstance(value, float) and not math.isfinite(value):
        return [path or "arguments"]
    if isinstance(value, Mapping):
        return [p for key, item in value.items() for p in _non_finite(item, _join(path, str(key)))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _non_finite(item, f"{path}[{index}]")]
    return []


def _too_big(arguments: Mapping[str, Any]) -> tuple[str, str] | None:
    try:
        size = len(json.dumps(arguments, ensure_ascii=False, default=str).encode())
    except (ValueError, RecursionError):
        return ("arguments", f"are nested too deeply (at most {MAX_DEPTH} levels)")
    if size > MAX_ARGUMENT_BYTES:
        return ("arguments", f"are {size:,} bytes of JSON; a call takes at most {MAX_ARGUMENT_BYTES:,}")
    return None


def _out_of_bounds(arguments: Mapping[str, Any], spec: ToolSpec) -> list[tuple[str, str]]:
    """Texts, arrays and nesting beyond what any legitimate call needs, each named by its field."""
    problems: list[tuple[str, str]] = []

    def walk(value: Any, path: str, depth: int, limit: int) -> None:
        if depth > MAX_DEPTH:
            problems.append((path, f"is nested too deeply (at most {MAX_DEPTH} levels)"))
        elif isinstance(value, str) and len(value) > limit:
            problems.append((path, f"is {len(value):,} characters long; at most {limit:,} are accepted"))
        elif isinstance(value, list):
            if len(value) > MAX_ITEMS:
                problems.append((path, f"has {len(value):,} items; at most {MAX_ITEMS} are accepted"))
            for index, item in enumerate(value[:MAX_ITEMS]):
                walk(item, f"{path}[{index}]", depth + 1, limit)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, _join(path, _short_name(str(key))), depth + 1, limit)

    for name, value in arguments.items():
        in_query = name in spec.query or name == "organization_id" or name in spec.path_params or (
            spec.extra_arguments == "query" and name not in (spec.body or {}))
        walk(value, _short_name(name), 1, MAX_FILTER_CHARS if in_query else MAX_TEXT_CHARS)
    return problems


def _short_name(name: str) -> str:
    return name if len(name) <= 64 else name[:61] + "..."


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _explain(error: jsonschema.ValidationError, spec: ToolSpec) -> list[tuple[str, str]]:
    if error.validator == "required":
        field_path = _field_path(error.absolute_path)
        missing = [n for n in error.validator_value if n not in (error.instance or {})]
        return [(_join(field_path, name), "is required") for name in missing]
    return [_explain_one(error, spec)]


def _explain_one(error: jsonschema.ValidationError, spec: ToolSpec) -> tuple[str, str]:
    field_path = _field_path(error.absolute_path)
    kind = error.validator
    value = error.instance
    if kind == "additionalProperties":
        extra = sorted(set(value) - set(error.schema.get("properties", {})))
        takes = ", ".join(error.schema.get("properties", {})) or "no arguments"
        if error.schema.get("additionalProperties") is False:
            name = extra[0] if extra else field_path
            return (_join(field_path, name), f"is not an argument of {spec.name}; it takes: {takes}")
        name = extra[0] if extra else field_path
        return (_join(field_path, name) if extra else field_path, "extra filters must be a string, number or boolean")
    if kind == "type":
        expected = error.validator_value
        expected_text = " or ".join(expected) if isinstance(expected, list) else expected
        return (field_path, f"must be {_article(expected_text)}, got {_JSON_TYPE_NAMES.get(type(value), 'something else')}")
    if kind == "pattern" and error.validator_value == ZOHO_ID_PATTERN:
        return (field_path, f"must be a Zoho id (digits only, as returned by the list tools), got {_short(value)}")
    if kind == "enum":
        return (field_path, f"must be one of: {', '.join(map(str, error.validator_value))}; got {_short(value)}")
    if kind == "format":
        if error.validator_value == "date":
            return (field_path, f"must be a date as yyyy-mm-dd, got {_short(value)}")
        return (field_path, f"must be a valid {error.validator_value}, got {_short(value)}")
    if kind in ("minimum", "exclusiveMinimum"):
        return (field_path, f"must be at least {error.validator_value}, got {value}")
    if kind == "maximum":
        return (field_path, f"must be at most {error.validator_value}, got {value}")
    if kind == "minItems":
        return (field_path, f"needs at least {error.validator_value} item(s)")
    if kind == "minLength":
        return (field_path, "must not be empty")
    if kind == "maxLength":
        return (field_path, f"must be at most {error.validator_value} characters")
    return (field_path or "arguments", error.message)


def _field_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _article(type_name: str) -> str:
    return {"integer": "an integer", "object": "an object", "array": "an array"}.get(type_name, f"a {type_name}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
