"""Request bodies as Zoho takes them (§2): raw JSON, or the legacy form field `JSONString` (urlencoded or
multipart), which clients such as Weble's PHP SDK still send.

Whatever cannot be read as one JSON object - bad JSON, JSON that is not an object, a form without JSONString,
bytes that are not UTF-8 - is HTTP 400 {"code":4,"message":"Invalid value passed for JSONString"}. Zoho maps
both encodings onto one internal JSONString parameter, hence one message for both (§2); the code number is
unverified, and 4 is what Zoho uses for a value it cannot parse (§6: "Amount -> 4").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from zbmcp.sandbox.errors import MALFORMED_BODY

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


LIST = "_list"  # where a JSON array body is handed over, for the few operations Zoho's files draw with one


@dataclass(frozen=True)
class Upload:
    """A file a multipart request carries (an attachment, a receipt)."""

    file_name: str
    content_type: str
    data: bytes


async def read(request: Request, query: Mapping[str, str], *, array: bool = False) -> dict[str, Any] | None:
    """The body as a JSON object, or None when the request carries none. With `array`, a JSON array is taken
    too, as {"_list": [...]}."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if content_type in _FORMS:
        try:
            form = await request.form()
        except HTTPException:
            raise MALFORMED_BODY from None  # a broken multipart body, or a part over 1 MB
        try:
            request.state.uploads = {
                name: Upload(part.filename or "", part.content_type or "", await part.read())
                for name, part in form.multi_items() if isinstance(part, UploadFile)}
            text = form.get("JSONString")
            if text is None:
                if not raw.strip() or request.state.uploads:
                    return None
                raise MALFORMED_BODY
            if not isinstance(text, str):
                raise MALFORMED_BODY  # an uploaded file, not a form value
            return parse(text, array=array)
        finally:
            await form.close()
    if not raw.strip():
        # Old clients also put JSONString in the query string.
        return parse(query["JSONString"], array=array) if "JSONString" in query else None
    try:
        return parse(raw.decode("utf-8"), array=array)
    except UnicodeDecodeError:
        raise MALFORMED_BODY from None


def parse(text: str, *, array: bool = False) -> dict[str, Any]:
    try:
        value = json.loads(text, parse_constant=_reject)
    except ValueError:
        raise MALFORMED_BODY from None
    if array and isinstance(value, list):
        return {LIST: value}
    if not isinstance(value, dict):
        raise MALFORMED_BODY
    return value


def _reject(constant: str) -> Any:
    raise ValueError(constant)  # NaN and Infinity are not JSON
