"""A receipt attached to an expense through a real MCP client (#24.5): the tool takes the file's bytes in
base64, never a path; Zoho's types and the size bound are checked before anything is sent; the sandbox keeps
the very bytes and lists the file on the expense; the audit record never holds the bytes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.conftest import ORG, AuditCapture, agent, mcp_client, running
from zbmcp.calls.catalog import load_catalog
from zbmcp.core.uploads import MAX_BYTES

CATALOG = load_catalog()
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def clerk(make_config):
    return make_config({"clerk": agent(["expenses:*", "invoices:*"], catalog="whole")})


async def test_a_receipt_reaches_the_expense_byte_for_byte(clerk, sandbox):
    schema = CATALOG["create_expense_receipt"].advertised_schema
    assert {"file_name", "file_content_base64"} <= set(schema["required"])
    assert "receipt" not in schema["properties"]  # Zoho's file field: zbmcp fills it from the bytes
    audit = AuditCapture()
    expense = sandbox.store(ORG).find("expenses", description="Stationery")
    assert expense is not None
    async with running(clerk, sandbox, specs=CATALOG, audit=audit) as runtime, \
            mcp_client(runtime, "clerk") as client:
        result = await client.call_tool("create_expense_receipt", {
            "expense_id": expense["expense_id"], "file_name": "stationery.pdf",
            "file_content_base64": base64.b64encode(PDF).decode()})
    assert not result.is_error, result.content[0].text
    [kept] = sandbox.org_store(ORG).generic["/expenses/{}/documents"].values()
    assert kept["_data"] == PDF and kept["file_name"] == "stationery.pdf"
    shown = sandbox.store(ORG).expenses[expense["expense_id"]]
    assert [doc["file_name"] for doc in shown["documents"]] == ["stationery.pdf"]
    written = json.dumps(audit.lines)
    assert "file_content_base64" in written and base64.b64encode(PDF).decode() not in written


@pytest.mark.parametrize("name, content, field, says", [
    ("/etc/passwd.pdf", base64.b64encode(PDF).decode(), "file_name", "not a path"),
    ("..\\secrets.pdf", base64.b64encode(PDF).decode(), "file_name", "not a path"),
    ("tool.exe", base64.b64encode(b"MZ").decode(), "file_name", "is a .exe file; Zoho takes gif, png"),
    ("receipt.pdf", "not base64!", "file_content_base64", "is not valid base64"),
    ("receipt.pdf", "", "file_content_base64", "is empty"),
    ("huge.pdf", base64.b64encode(b"0" * (MAX_BYTES + 1)).decode(), "file_content_base64",
     f"is {MAX_BYTES + 1:,} bytes; at most {MAX_BYTES:,} are sent"),
])
async def test_a_bad_file_is_refused_before_anything_is_sent(clerk, sandbox, name: str, content: str,
                                                              field: str, says: str) -> None:
    expense = sandbox.store(ORG).find("expenses", description="Office rent")
    assert expense is not None
    async with running(clerk, sandbox, specs=CATALOG) as runtime, mcp_client(runtime, "clerk") as client:
        before = len(sandbox.api_requests)
        result = await client.call_tool("create_expense_receipt", {
            "expense_id": expense["expense_id"], "file_name": name, "file_content_base64": content})
    assert result.is_error
    error: dict[str, Any] = result.structured_content["error"]
    assert error["fields"] == [field] and says in result.content[0].text
    assert len(sandbox.api_requests) == before  # nothing reached Zoho
    assert "/expenses/{}/documents" not in sandbox.org_store(ORG).generic


async def test_an_invoice_takes_an_image(clerk, sandbox):
    invoice = sandbox.store(ORG).invoice_id("INV-000002")
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    async with running(clerk, sandbox, specs=CATALOG) as runtime, mcp_client(runtime, "clerk") as client:
        result = await client.call_tool("add_invoice_attachment", {
            "invoice_id": invoice, "file_name": "purchase-order.png",
            "file_content_base64": base64.b64encode(png).decode()})
    assert not result.is_error, result.content[0].text
    [kept] = sandbox.org_store(ORG).generic["/invoices/{}/documents"].values()
    assert kept["_data"] == png and kept["_content_type"] == "image/png"
