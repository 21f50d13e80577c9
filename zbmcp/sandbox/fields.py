"""Reading values out of a request body the way Zoho does: each bad value is a 400 naming the field.

Every function takes the body (a dict), the key and the field's display path, and either returns a clean
Python value or raises ZohoError. Nothing here mutates state, so a handler can validate a whole body before
it changes anything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from zbmcp.sandbox.errors import ZohoError, invalid_value, required

_ID = re.compile(r"^[0-9]{1,30}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CENT = Decimal("0.01")
MAX_NUMBER = 1e12  # larger than any real amount, rate or quantity; keeps sums exact in Decimal


def money(value: float | Decimal) -> float:
    """Round half up to 2 decimals, as an invoice shows it (binary floats would round 1.005 down)."""
    with localcontext() as context:
        context.prec = 60
        return float(Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP))


def dec(value: float) -> Decimal:
    return Decimal(str(value))


def _present(body: Mapping[str, Any], key: str) -> bool:
    return key in body and body[key] is not None


def text(body: Mapping[str, Any], key: str, *, path: str | None = None, need: bool = False,
         max_len: int | None = None) -> str | None:
    name = path or key
    if not _present(body, key) or (isinstance(body[key], str) and not body[key].strip() and need):
        if need:
            raise required(name)
        return None
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise invalid_value(name)
    value = str(value)
    if max_len is not None and len(value) > max_len:
        raise _too_long(name, max_len)
    return value


def _too_long(name: str, max_len: int) -> ZohoError:
    # §4.1: Zoho's length error is code 15 with this wording.
    return ZohoError(400, 15, f"Please ensure that the {name} has less than {max_len} characters.")


def number(body: Mapping[str, Any], key: str, *, path: str | None = None, need: bool = False,
           minimum: float | None = None, positive: bool = False) -> float | None:
    name = path or key
    if not _present(body, key) or body[key] == "":
        if need:
            raise required(name)
        return None
    return parse_number(body[key], name, minimum=minimum, positive=positive)


def parse_number(value: Any, name: str, *, minimum: float | None = None, positive: bool = False) -> float:
    if isinstance(value, bool):
        raise invalid_value(name)
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(Decimal(value.strip()))
        except (InvalidOperation, ValueError):
            raise invalid_value(name) from None
    else:
        raise invalid_value(name)
    if not math.isfinite(result) or abs(result) > MAX_NUMBER:
        raise invalid_value(name)
    if positive and result <= 0:
        raise invalid_value(name)
    if minimum is not None and result < minimum:
        raise invalid_value(name)
    return result


def integer(body: Mapping[str, Any], key: str, *, path: str | None = None, minimum: int | None = None,
            maximum: int | None = None) -> int | None:
    """An integer, as Zoho wants payment_terms (§4.1: "Net 15" is refused); "15" and 15.0 are accepted."""
    name = path or key
    if not _present(body, key) or body[key] == "":
        return None
    value = body[key]
    if isinstance(value, bool):
        raise invalid_value(name)
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        result = int(value.strip())
    else:
        raise invalid_value(name)
    if (minimum is not None and result < minimum) or (maximum is not None and result > maximum):
        raise invalid_value(name)
    return result


def boolean(body: Mapping[str, Any], key: str, *, path: str | None = None) -> bool | None:
    name = path or key
    if not _present(body, key):
        return None
    return parse_bool(body[key], name)


def parse_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid_value(name)


def day(body: Mapping[str, Any], key: str, *, path: str | None = None, need: bool = False) -> str | None:
    name = path or key
    if not _present(body, key) or body[key] == "":
        if need:
            raise required(name)
        return None
    return parse_date(body[key], name)


def parse_date(value: Any, name: str) -> str:
    """yyyy-mm-dd and a real calendar day (§2)."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise invalid_value(name)
    try:
        date.fromisoformat(value)
    except ValueError:
        raise invalid_value(name) from None
    return value


def ident(body: Mapping[str, Any], key: str, *, path: str | None = None, need: bool = False) -> str | None:
    """A Zoho id: digits, sent as a string or (as the OAS examples print them) a bare number (§2)."""
    name = path or key
    if not _present(body, key) or body[key] == "":
        if need:
            raise required(name)
        return None
    return parse_id(body[key], name)


def parse_id(value: Any, name: str) -> str:
    if isinstance(value, bool):
        raise invalid_value(name)
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not _ID.match(value.strip()):
        raise invalid_value(name)
    return value.strip()


def email(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise invalid_value(name)
    return value.strip()


def emails(body: Mapping[str, Any], key: str) -> list[str] | None:
    if not _present(body, key):
        return None
    value = body[key]
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise invalid_value(key)
    return [email(entry, key) for entry in value]


def objects(body: Mapping[str, Any], key: str, *, need: bool = False,
            non_empty: bool = False) -> list[dict[str, Any]] | None:
    """A list of JSON objects (line_items, invoices, contact_persons)."""
    if not _present(body, key):
        if need:
            raise required(key)
        return None
    value = body[key]
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        raise invalid_value(key)
    if non_empty and not value:
        raise required(key)
    return value


def obj(body: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    if not _present(body, key):
        return None
    if not isinstance(body[key], dict):
        raise invalid_value(key)
    return body[key]


def choice(body: Mapping[str, Any], key: str, allowed: tuple[str, ...], *,
           default: str | None = None) -> str | None:
    value = text(body, key)
    if value is None:
        return default
    if value not in allowed:
        raise invalid_value(key)
    return value
