"""Files on records: an expense's receipt, an invoice's or a bill's attachment, uploaded as Zoho takes them
(multipart/form-data), kept and listed on the record; a missing file, another type or a file over the limit is
refused with nothing stored."""

from __future__ import annotations

import httpx2
import pytest

from tests.sandbox.conftest import ORG, error, ok
from zbmcp.sandbox import Sandbox
from zbmcp.sandbox.rules.attachments import MAX_BYTES

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"


async def test_a_receipt_is_kept_and_listed_on_its_expense(books: httpx2.AsyncClient,
                                                           sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    expense = view.find("expenses", description="Stationery")
    assert expense is not None and not expense.get("documents")
    path = f"expenses/{expense['expense_id']}/receipt"
    answer = ok(await books.post(path, files={"receipt": ("stationery.pdf", PDF, "application/pdf")}))
    assert answer["message"] == "The expense receipt has been attached."
    shown = ok(await books.get(f"expenses/{expense['expense_id']}"))["expense"]
    assert shown["has_attachment"] is True
    assert [(doc["file_name"], doc["file_type"], doc["file_size"]) for doc in shown["documents"]] \
        == [("stationery.pdf", "pdf", len(PDF))]
    [kept] = sandbox.org_store(ORG).generic["/expenses/{}/documents"].values()
    assert kept["_data"] == PDF  # the bytes themselves
    ok(await books.get(path))
    ok(await books.delete(path))
    assert ok(await books.get(f"expenses/{expense['expense_id']}"))["expense"]["documents"] == []


@pytest.mark.parametrize("files, message", [
    ({}, "receipt is required."),
    ({"attachment": ("a.pdf", PDF, "application/pdf")}, "receipt is required."),  # the wrong field
    ({"receipt": ("tool.exe", b"MZ", "application/octet-stream")},
     "Invalid value passed for receipt: a .exe file; Zoho takes gif, png, jpeg, jpg, bmp, pdf, xls, xlsx, "
     "doc, docx."),
    ({"receipt": ("huge.pdf", b"0" * (MAX_BYTES + 1), "application/pdf")},
     f"Invalid value passed for receipt: {MAX_BYTES + 1:,} bytes, more than {MAX_BYTES:,}."),
])
async def test_a_bad_upload_is_refused_and_nothing_is_kept(books: httpx2.AsyncClient, sandbox: Sandbox,
                                                           files: dict[str, tuple[str, bytes, str]],
                                                           message: str) -> None:
    view = sandbox.store(ORG)
    expense = view.find("expenses", description="Office rent")
    assert expense is not None
    response = await books.post(f"expenses/{expense['expense_id']}/receipt", files=files or None)
    assert error(response, 400, 4 if "required" in message else 2) == message
    assert "/expenses/{}/documents" not in sandbox.org_store(ORG).generic
    assert view.expenses[expense["expense_id"]].get("documents", []) == []


async def test_invoices_and_bills_take_images_and_pdfs(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    invoice = view.invoice_id("INV-000002")
    bill = view.find("bills", bill_number="CH-1001")
    assert bill is not None
    ok(await books.post(f"invoices/{invoice}/attachment",
                        files={"attachment": ("po.png", b"\x89PNG", "image/png")}))
    assert ok(await books.get(f"invoices/{invoice}"))["invoice"]["has_attachment"] is True
    ok(await books.post(f"bills/{bill['bill_id']}/attachment", files={"attachment": ("bill.pdf", PDF, "x")}),
       201)
    refused = await books.post(f"bills/{bill['bill_id']}/attachment",
                               files={"attachment": ("sheet.xlsx", b"PK", "application/zip")})
    assert error(refused, 400, 2).startswith("Invalid value passed for attachment: a .xlsx file")
    shown = ok(await books.get(f"bills/{bill['bill_id']}"))["bill"]
    assert [doc["file_name"] for doc in shown["documents"]] == ["bill.pdf"]
