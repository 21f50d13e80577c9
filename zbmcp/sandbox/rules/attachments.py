"""Files on a record (expenses.yml, invoices.yml, bills.yml): an expense's receipt, an invoice's or a bill's
attachment, uploaded as multipart/form-data (`receipt` or `attachment`).

The file's type is its extension, which must be one Zoho's file allows for the record; its size at most
MAX_BYTES (Zoho's files name no size: 10 MB is the sandbox's pick). Each kept file is listed on the record
(`documents`, `has_attachment`) and kept, bytes and all, where the generic GET of the record's attachment
finds it. Refused with nothing stored: no file (code 4), another type or a larger file (code 2), naming the
field.
"""

from __future__ import annotations

from dataclasses import dataclass

from zbmcp.sandbox.errors import ZohoError, not_found, required
from zbmcp.sandbox.generic import crud, records
from zbmcp.sandbox.generic.data import RESOURCES
from zbmcp.sandbox.rules.base import Call, Reply, existing
from zbmcp.sandbox.store import Record

MAX_BYTES = 10 * 1024 * 1024
IMAGES_AND_PDF = ("gif", "png", "jpeg", "jpg", "bmp", "pdf")
OFFICE = (*IMAGES_AND_PDF, "xls", "xlsx", "doc", "docx")


@dataclass(frozen=True)
class Place:
    collection: str  # the store's
    resource: str  # the generic resource whose documents these are
    id_param: str
    thing: str
    field: str  # the multipart field
    types: tuple[str, ...]
    attached: str  # Zoho's message
    removed: str
    status: int = 200  # the attach's, as Zoho's file answers it


EXPENSE = Place("expenses", "/expenses", "expense_id", "Expense", "receipt", OFFICE,
                "The expense receipt has been attached.", "The attached expense receipt has been deleted.")
INVOICE = Place("invoices", "/invoices", "invoice_id", "Invoice", "attachment", IMAGES_AND_PDF,
                "Your file has been successfully attached to the invoice.",
                "Your file is no longer attached to the invoice.")
BILL = Place("bills", "/bills", "bill_id", "Bill", "attachment", IMAGES_AND_PDF,
             "The document has been attached.", "The attachment has been deleted.", 201)


def attach(place: Place, call: Call) -> Reply:
    store = call.org
    record = existing(store.collection(place.collection), call.params[place.id_param], place.thing)
    upload = call.files.get(place.field)
    if upload is None:
        raise required(place.field)
    extension = upload.file_name.rsplit(".", 1)[-1].lower() if "." in upload.file_name else ""
    if extension not in place.types:
        raise ZohoError(400, 2, f"Invalid value passed for {place.field}: a .{extension or '?'} file; "
                                f"Zoho takes {', '.join(place.types)}.")
    if len(upload.data) > MAX_BYTES:
        raise ZohoError(400, 2, f"Invalid value passed for {place.field}: {len(upload.data):,} bytes, more "
                                f"than {MAX_BYTES:,}.")
    documents = records.documents_of(RESOURCES[place.resource])
    document = crud.new_record(store, documents, (record[place.id_param],), {
        "file_name": upload.file_name, "file_type": extension, "file_size": len(upload.data),
        "file_size_formatted": _size(len(upload.data)), "uploaded_on": store.today().isoformat(),
        "_data": upload.data, "_content_type": upload.content_type})
    store.add_generic(documents.path, document[documents.id_field], document)
    _list(call, place, record)
    return Reply(place.status, place.attached)


def detach(place: Place, call: Call) -> Reply:
    store = call.org
    record = existing(store.collection(place.collection), call.params[place.id_param], place.thing)
    documents = records.documents_of(RESOURCES[place.resource])
    kept = records.records(store, documents, (record[place.id_param],))
    if not kept:
        raise not_found("Attachment")
    del store.generic[documents.path][kept[-1][documents.id_field]]
    _list(call, place, record)
    return Reply(200, place.removed)


def _list(call: Call, place: Place, record: Record) -> None:
    documents = records.documents_of(RESOURCES[place.resource])
    kept = records.records(call.org, documents, (record[place.id_param],))
    record["documents"] = [{"document_id": doc[documents.id_field], "file_name": doc["file_name"],
                            "file_type": doc["file_type"], "file_size": doc["file_size"]} for doc in kept]
    record["has_attachment"] = bool(kept)
    record["last_modified_time"] = call.org.timestamp()


def _size(count: int) -> str:
    return f"{count / 1024:.1f} KB" if count < 1024 * 1024 else f"{count / 1024 / 1024:.1f} MB"


def attach_receipt(call: Call) -> Reply:
    return attach(EXPENSE, call)


def delete_receipt(call: Call) -> Reply:
    return detach(EXPENSE, call)


def attach_to_invoice(call: Call) -> Reply:
    return attach(INVOICE, call)


def delete_invoice_attachment(call: Call) -> Reply:
    return detach(INVOICE, call)


def attach_to_bill(call: Call) -> Reply:
    return attach(BILL, call)


def delete_bill_attachment(call: Call) -> Reply:
    return detach(BILL, call)
