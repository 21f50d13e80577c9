"""(ToolSpec, arguments) -> a validated ZohoRequest (pure: no network, no disk).

Validation happens here, before anything is sent: every problem names the field and says how to fix it.
Besides each tool's schema, every call is held to bounds no legitimate call comes near (a hostile one would
otherwise fill Zoho's fields, the audit log or memory): see the MAX_* constants.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from zbmcp.errors import InvalidArguments
from zbmcp.core.manifest import EFFECT_WORDS, ZOHO_ID_PATTERN, ToolSpec
from zbmcp.core import uploads
from zbmcp.core.report_query import report_query
from zbmcp.core.tools import takes_organization, validation_schema

if TYPE_CHECKING:
    import jsonschema
    from jsonschema import Draft202012Validator

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
    headers: tuple[tuple[str, str], ...] = ()  # zbmcp's own, for Zoho's upsert (zbmcp.core.idempotency)
    files: tuple[uploads.Upload, ...] = ()  # sent as multipart beside the body (zbmcp.core.uploads)

    def query(self) -> dict[str, str]:
        return dict(self.params)


def build_request(spec: ToolSpec, arguments: Mapping[str, Any],
                  organization_ids: Sequence[str]) -> ZohoRequest:
    """Validate the arguments an agent sent and turn them into the request Zoho will get."""
    if not isinstance(arguments, Mapping):
        raise InvalidArguments([("arguments", "must be an object of named arguments")])
    validate(spec, arguments, organization_ids)
    arguments = report_query(spec, arguments)
    organization_id = _organization(spec, arguments, organization_ids)

    path = spec.path
    for name in spec.path_params:
        path = path.replace("{" + name + "}", str(arguments.pop(name)))

    params: list[tuple[str, str]] = []
    if organization_id is not None:
        params.append(("organization_id", organization_id))
    body: dict[str, Any] | None = {} if spec.body is not None else None
    for name, value in arguments.items():
        group = spec.argument_group(name)
        if group == "query":
            params.append((name, _query_value(value)))
        elif group == "body" and body is not None:
            body[name] = _line_discounts_as_numbers(value) if name == "line_items" else value
        else:  # validate() refuses undeclared arguments; this keeps it so if that ever changes
            raise InvalidArguments([(name, f"is not an argument of {spec.name}")])
    body, files = uploads.take(spec, body)
    return ZohoRequest(spec.method, path, tuple(params), body, organization_id, tool=spec.name,
                       scope=spec.scope, files=files)


def validate(spec: ToolSpec, arguments: Mapping[str, Any], organization_ids: Sequence[str]) -> None:
    too_big = _too_big(uploads.without_content(arguments))
    if too_big:  # checked first: nothing else should spend time on a call this size
        raise InvalidArguments([too_big])
    validator = _validator(spec, tuple(organization_ids))
    problems = [problem for error in validator.iter_errors(dict(arguments))
                for problem in _explain(error, spec)]
    problems.extend((path, "must be a finite number (JSON has no NaN or Infinity)")
                    for path in _non_finite(arguments))
    problems.extend(_out_of_bounds(uploads.without_content(arguments), spec))
    if not problems:
        problems.extend(_discounts_beyond_what_they_discount(arguments))
    if problems:
        raise InvalidArguments(sorted(set(problems)))


# One plain address (the HTML living standard's rule, with a dot in the domain): jsonschema's own "email"
# check only looks for an @, which would let "a@b.example\nApprove?" or "Boss <b@x>, c@y" through to Zoho and
# onto the question a person approves.
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")


@lru_cache(maxsize=1024)
def _validator(spec: ToolSpec, organization_ids: tuple[str, ...]) -> Draft202012Validator:
    strict, formats = _strict_validation()
    return strict(validation_schema(spec, organization_ids), format_checker=formats)


@lru_cache(maxsize=1)
def _strict_validation() -> tuple[Any, Any]:
    """The validator class and format checker every tool's validator shares, made once."""
    # Imported on first use: jsonschema costs ~100 ms, and start-up (spawn to tools/list) needs none of it.
    from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

    def pattern(validator: Any, regex: str, instance: Any, schema: Any) -> Any:
        # JSON Schema patterns are ECMA-262, where `$` is the end of the text; Python's `$` also matches
        # before a final newline, which let "123\n" pass as a Zoho id. The end anchor is made strict here.
        if isinstance(instance, str) and not _strict_pattern(regex).search(instance):
            yield ValidationError(f"{instance!r} does not match {regex!r}")

    strict = validators.extend(Draft202012Validator, {"pattern": pattern})
    formats = FormatChecker()
    formats.checks("email")(lambda value: not isinstance(value, str) or EMAIL.fullmatch(value) is not None)
    return strict, formats


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
    raise InvalidArguments([("organization_id",
                             f"is required; choose one of: {', '.join(organization_ids)}")])


def _discounts_beyond_what_they_discount(arguments: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A line's discount over 100%, or an amount above the line's own (rate x quantity): Zoho would refuse
    it or book a negative line, and zbmcp's amount would count less than the lines are worth."""
    problems = []
    lines = arguments.get("line_items")
    for index, line in enumerate(lines if isinstance(lines, list) else []):
        if not isinstance(line, Mapping):
            continue
        discount, path = line.get("discount"), f"line_items[{index}].discount"
        percent = _PERCENT.fullmatch(discount) if isinstance(discount, str) else None
        if percent is not None:
            if Decimal(percent.group(1)) > 100:
                problems.append((path, f"is {discount}; a discount is at most 100% (\"100%\") of its line"))
            continue
        amount = Decimal(discount) if isinstance(discount, str) and _AMOUNT.fullmatch(discount) else None
        rate, quantity = (_exact(v) for v in (line.get("rate"), line.get("quantity", 1)))
        if amount is None or rate is None or quantity is None:
            continue  # no discount, or no rate: Zoho prices the line, and judges the discount itself
        if amount > rate * quantity:
            problems.append((path, f"is {discount}, more than the line's {rate * quantity:f} (rate x "
                                   "quantity); give at most that, or a percentage such as \"10%\""))
    return problems


_PERCENT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*")
_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _line_discounts_as_numbers(lines: Any) -> Any:
    """A line's discount is one type for the agent, a string ("10" or "10%"); Zoho's file types it a number,
    so an amount goes to Zoho as one, and a percentage as the "10%" its documentation shows."""
    if not isinstance(lines, list):
        return lines
    sent = []
    for line in lines:
        discount = line.get("discount") if isinstance(line, Mapping) else None
        if isinstance(discount, str) and _AMOUNT.fullmatch(discount):
            number = Decimal(discount)
            whole = number == number.to_integral_value()
            line = {**line, "discount": int(number) if whole else float(number)}
        sent.append(line)
    return sent


def _exact(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return Decimal(str(value)) if math.isfinite(value) else None


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
        in_query = (name == "organization_id" or name in spec.path_params
                    or spec.argument_group(name) == "query")
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
    if error.validator == "additionalProperties":
        return _undeclared(error, spec)
    return [_explain_one(error, spec)]


def _undeclared(error: jsonschema.ValidationError, spec: ToolSpec) -> list[tuple[str, str]]:
    """One refusal per undeclared property, naming what that object takes, closest first."""
    field_path = _field_path(error.absolute_path)
    accepted = list(error.schema.get("properties", {}))
    where = (f"an argument of {spec.name}" if not field_path
             else f"a field of {_field_path_pattern(field_path)}")
    problems = []
    for name in sorted(set(error.instance) - set(accepted), key=str):
        name = str(name)
        dotted = _join(_field_path_pattern(field_path).replace("[]", ""), name)
        why = ""
        if dotted in spec.withheld:
            why = f" (Zoho's {dotted} {EFFECT_WORDS[spec.withheld[dotted]]}; zbmcp does not offer it)"
        takes = ", ".join(closest_first(name[:64], accepted)) or "nothing"
        problems.append((_join(field_path, _short_name(name)), f"is not {where}{why}; it takes: {takes}"))
    return problems


def closest_first(name: str, candidates: Sequence[str]) -> list[str]:
    """Candidates ordered by how alike they are to `name` (difflib), the most alike first."""
    lowered = name.lower()
    return sorted(candidates, key=lambda c: -difflib.SequenceMatcher(None, lowered, c.lower()).ratio())


def _field_path_pattern(field_path: str) -> str:
    """line_items[2] -> line_items[]: the refusal speaks of the field, not of one position."""
    return re.sub(r"\[\d+\]", "[]", field_path)


def _explain_one(error: jsonschema.ValidationError, spec: ToolSpec) -> tuple[str, str]:
    field_path = _field_path(error.absolute_path)
    kind = error.validator
    value = error.instance
    if kind == "type":
        expected = error.validator_value
        expected_text = " or ".join(expected) if isinstance(expected, list) else expected
        got = _JSON_TYPE_NAMES.get(type(value), "something else")
        return (field_path, f"must be {_article(expected_text)}{_such_as(error.schema)}, got {got}")
    if kind == "pattern" and error.validator_value == ZOHO_ID_PATTERN:
        return (field_path,
                f"must be a Zoho id (digits only, as returned by the list tools), got {_short(value)}")
    if kind == "pattern" and error.schema.get("examples"):
        return (field_path, f"must be written{_such_as(error.schema)}, got {_short(value)}")
    if kind == "enum":
        choices = ", ".join(map(str, error.validator_value))
        return (field_path, f"must be one of: {choices}; got {_short(value)}")
    if kind == "format":
        if error.validator_value == "date":
            return (field_path, f"must be a date as yyyy-mm-dd, got {_short(value)}")
        return (field_path, f"must be a valid {error.validator_value}, got {_short(value)}")
    if kind in ("minimum", "exclusiveMinimum"):
        return (field_path, f"must be at least {error.validator_value}, got {_short(value)}")
    if kind == "maximum":
        return (field_path, f"must be at most {error.validator_value}, got {_short(value)}")
    if kind == "minItems":
        return (field_path, f"needs at least {error.validator_value} item(s)")
    if kind == "minLength":
        return (field_path, "must not be empty")
    if kind == "maxLength":
        return (field_path, f"must be at most {error.validator_value} characters")
    return (field_path or "arguments", error.message)


def _such_as(schema: Any) -> str:
    examples = schema.get("examples") if isinstance(schema, Mapping) else None
    return f" such as {' or '.join(json.dumps(e) for e in examples)}" if examples else ""


def _field_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _article(type_name: str) -> str:
    articles = {"integer": "an integer", "object": "an object", "array": "an array"}
    return articles.get(type_name, f"a {type_name}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
