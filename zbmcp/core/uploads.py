"""Files an agent attaches (pure): an expense's receipt, an invoice's or a bill's attachment.

Zoho takes these as multipart/form-data; its files name the field and the types each takes. A tool for one
of these operations offers two arguments in place of Zoho's file field: `file_name` (a name, not a path:
zbmcp never reads the server's disk) and `file_content_base64` (the file's bytes). Before anything is sent,
the name's extension must be a type Zoho's file lists for the operation, the bytes valid base64, and the file
at most MAX_BYTES (Zoho's files name no size; 10 MB is zbmcp's bound, as the sandbox's). The request then
carries the file apart from its body (ZohoRequest.files); the body names it by file name, size and SHA-256,
which is what the audit record, a dry run and an idempotency key's fingerprint see.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zbmcp.core.manifest import ToolSpec
from zbmcp.errors import InvalidArguments

MAX_BYTES = 10 * 1024 * 1024
MAX_BASE64_CHARS = 4 * ((MAX_BYTES + 2) // 3)
NAME, CONTENT = "file_name", "file_content_base64"
IMAGES_AND_PDF = ("gif", "png", "jpeg", "jpg", "bmp", "pdf")
OFFICE = (*IMAGES_AND_PDF, "xls", "xlsx", "doc", "docx")
CONTENT_TYPES = {"gif": "image/gif", "png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg",
                 "bmp": "image/bmp", "pdf": "application/pdf", "xls": "application/vnd.ms-excel",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "doc": "application/msword",
                 "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
# Zoho's file field and the types its files list, by operation
UPLOADS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("POST", "/expenses/{expense_id}/receipt"): ("receipt", OFFICE),
    ("POST", "/invoices/{invoice_id}/attachment"): ("attachment", IMAGES_AND_PDF),
    ("POST", "/bills/{bill_id}/attachment"): ("attachment", IMAGES_AND_PDF),
}


@dataclass(frozen=True)
class Upload:
    field: str  # Zoho's multipart field: receipt, attachment
    file_name: str
    content_type: str
    data: bytes = dataclasses.field(repr=False)

    def describe(self) -> dict[str, Any]:
        """What the body, the audit record and a fingerprint say of the file (never its bytes)."""
        return {"file_name": self.file_name, "bytes": len(self.data),
                "sha256": hashlib.sha256(self.data).hexdigest()}


def upload_of(spec: ToolSpec) -> tuple[str, tuple[str, ...]] | None:
    return UPLOADS.get((spec.method, spec.path))


def offering(spec: ToolSpec) -> ToolSpec:
    """The tool with file_name and file_content_base64 in place of Zoho's file field, for an operation
    zbmcp uploads for; any other tool as it is."""
    upload = upload_of(spec)
    if upload is None or upload[0] not in spec.withheld:
        return spec
    field, types = upload
    arguments = {
        NAME: {"type": "string", "maxLength": 200, "description": f"The file's name, with its type: "
                                                                  f"{', '.join(types)}"},
        CONTENT: {"type": "string", "maxLength": MAX_BASE64_CHARS,
                  "description": f"The file's bytes, base64 (at most {MAX_BYTES // 1024 // 1024} MB)"},
    }
    # Zoho's field stays withheld as a field: it is never taken from the agent, only filled from the bytes.
    return dataclasses.replace(spec, body={**(spec.body or {}), **arguments},
                               required=(*spec.required, NAME, CONTENT))


def take(spec: ToolSpec, body: dict[str, Any] | None) -> tuple[dict[str, Any] | None, tuple[Upload, ...]]:
    """The body without the file's arguments, and the file, checked; a tool that uploads nothing as it is."""
    upload = upload_of(spec)
    if upload is None or body is None or NAME not in body:
        return body, ()
    field, types = upload
    body = dict(body)
    name, content = body.pop(NAME), body.pop(CONTENT, None)
    problems = []
    if not isinstance(name, str) or not name.strip() or any(c in name for c in "/\\\0") \
            or name in (".", ".."):
        problems.append((NAME, "must be a file's name, not a path (zbmcp sends the bytes it is given; it "
                               "reads no file)"))
    extension = name.rsplit(".", 1)[-1].lower() if isinstance(name, str) and "." in name else ""
    if not problems and extension not in types:
        problems.append((NAME, f"is a .{extension or '(no extension)'} file; Zoho takes {', '.join(types)} "
                               "here"))
    data = _decoded(content, problems)
    if data is not None and len(data) > MAX_BYTES:
        problems.append((CONTENT, f"is {len(data):,} bytes; at most {MAX_BYTES:,} are sent"))
    if data is not None and not data:
        problems.append((CONTENT, "is empty"))
    if problems or data is None:
        raise InvalidArguments(problems)
    file = Upload(field, name, CONTENT_TYPES[extension], data)
    body[field] = file.describe()
    return body, (file,)


def _decoded(content: Any, problems: list[tuple[str, str]]) -> bytes | None:
    if not isinstance(content, str):
        problems.append((CONTENT, "must be the file's bytes in base64"))
        return None
    try:
        return base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError):
        problems.append((CONTENT, "is not valid base64 (A-Z, a-z, 0-9, + and /, padded with =)"))
        return None


def without_content(arguments: Mapping[str, Any]) -> Mapping[str, Any]:
    """The arguments as the general size checks see them: the file's bytes have their own bound."""
    if CONTENT not in arguments:
        return arguments
    return {name: value for name, value in arguments.items() if name != CONTENT}


def multipart_rest(body: Mapping[str, Any] | None, files: tuple[Upload, ...]) -> dict[str, Any] | None:
    """What goes beside the files, as Zoho's JSONString form field: the body less the files' descriptions."""
    if body is None:
        return None
    fields = {file.field for file in files}
    rest = {name: value for name, value in body.items() if name not in fields}
    return rest or None
