"""A file an agent attaches, as zbmcp builds the request (pure): the bytes apart from the body, the body
naming them by size and digest, so that two files of one name are two requests (an idempotency key's
fingerprint)."""

from __future__ import annotations

import base64
import hashlib

from zbmcp.calls.catalog import load_catalog
from zbmcp.core.idempotency import fingerprint
from zbmcp.core.requests import build_request

SPEC = load_catalog()["create_expense_receipt"]
ORG = "10234695"


def request_for(data: bytes, name: str = "taxi.pdf"):
    return build_request(SPEC, {"organization_id": ORG, "expense_id": "460000000000001", "file_name": name,
                                "file_content_base64": base64.b64encode(data).decode()}, [ORG])


def test_the_bytes_travel_apart_from_the_body():
    request = request_for(b"%PDF-1.4 one")
    [file] = request.files
    assert (file.field, file.file_name, file.content_type, file.data) \
        == ("receipt", "taxi.pdf", "application/pdf", b"%PDF-1.4 one")
    assert request.body == {"receipt": {"file_name": "taxi.pdf", "bytes": 12,
                                        "sha256": hashlib.sha256(b"%PDF-1.4 one").hexdigest()}}
    assert "file_content_base64" not in str(request.body)


def test_two_files_of_one_name_are_two_requests():
    first, second = request_for(b"%PDF-1.4 one"), request_for(b"%PDF-1.4 two")
    assert fingerprint(SPEC, first) != fingerprint(SPEC, second)
    assert fingerprint(SPEC, first) == fingerprint(SPEC, request_for(b"%PDF-1.4 one"))
