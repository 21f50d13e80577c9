"""Result shaping, pure: Zoho payloads in, what an agent reads out. No sandbox, no fakes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from zbmcp.errors import InvalidArguments
from zbmcp.calls.catalog import load_manifests
from zbmcp.core.shaping import DEFAULT_PAGE_SIZE, View, compact, shape, split_view

SPECS = load_manifests()


def _invoice_row(number: int, **overrides: Any) -> dict[str, Any]:
    row = {"invoice_id": f"46000000000{number:04d}", "invoice_number": f"INV-{number:06d}",
           "customer_id": "4601", "customer_name": "Acme Corporation", "status": "sent", "date": "2026-10-01",
           "due_date": "2026-10-31", "due_days": "", "total": 100.1, "balance": 0.2, "currency_code": "GBP",
           "currency_id": "4699", "reference_number": "", "is_emailed": False, "custom_fields": [],
           "salesperson_name": "", "write_off_amount": 0.0, "exchange_rate": 1.0,
           "created_time": "2026-10-01T09:00:00+0000"}
    return row | overrides


def _page(*rows: dict[str, Any], more: bool = False) -> dict[str, Any]:
    return {"code": 0, "message": "success", "invoices": list(rows),
            "page_context": {"page": 1, "per_page": 50, "has_more_page": more, "report_name": "Invoices",
                             "applied_filter": "Status.All", "sort_column": "created_time",
                             "sort_order": "D"}}


def test_list_rows_keep_what_an_agent_acts_on_and_the_page_adds_up_exactly() -> None:
    shaped = shape(SPECS["list_invoices"], {}, _page(_invoice_row(1), _invoice_row(2, balance=0.1,
                                                                                   total=200.2),
                                                     more=True))
    first = shaped.structured["invoices"][0]
    assert list(first) == ["invoice_id", "invoice_number", "customer_id", "customer_name", "date", "due_date",
                           "status", "total", "balance"]
    assert shaped.structured["sums"] == {"total": 300.3, "balance": 0.3}  # not 300.29999999999995
    assert shaped.structured["currency_code"] == "GBP"  # once, not on every row
    assert shaped.structured["page_context"] == {"page": 1, "per_page": 50, "has_more_page": True}
    assert shaped.structured["summary"] == "Listed 2 invoices (page 1; more on page 2)."


def test_fields_adds_to_the_row_and_star_keeps_every_field_but_the_empty_ones() -> None:
    row = _invoice_row(1, reference_number="PO-7")
    more = shape(SPECS["list_invoices"], {}, _page(row), View(extra=("reference_number", "no_such_field")))
    assert more.structured["invoices"][0]["reference_number"] == "PO-7"
    assert "no_such_field" not in more.structured["invoices"][0]
    everything = shape(SPECS["list_invoices"], {}, _page(row),
                       View(every_field=True)).structured["invoices"][0]
    assert everything["exchange_rate"] == 1.0 and everything["is_emailed"] is False
    assert "salesperson_name" not in everything and "custom_fields" not in everything \
        and "due_days" not in everything


def test_the_text_is_the_structured_content_as_compact_json() -> None:
    shaped = shape(SPECS["list_invoices"], {}, _page(_invoice_row(1, customer_name="Café Ünïcode")))
    assert shaped.text == json.dumps(shaped.structured, ensure_ascii=False, separators=(",", ":"))
    assert "Café Ünïcode" in shaped.text and ", " not in shaped.text.replace("Listed 1 invoice", "")


def test_a_default_page_of_invoices_costs_about_two_hundred_bytes_a_row() -> None:
    rows = [_invoice_row(n) for n in range(DEFAULT_PAGE_SIZE)]
    assert len(shape(SPECS["list_invoices"], {}, _page(*rows)).text) < DEFAULT_PAGE_SIZE * 220


def test_a_record_loses_only_its_empty_values() -> None:
    payload = {"code": 0, "message": "The invoice has been created.",
               "invoice": {"invoice_id": "4601", "invoice_number": "INV-000009", "status": "draft",
                           "notes": "", "line_items": [{"name": "Consulting", "tax_id": "", "discount": 0}],
                           "taxes": [], "billing_address": {}, "total": 450.0, "is_emailed": False}}
    shaped = shape(SPECS["create_invoice"], {}, payload).structured
    assert shaped["invoice"] == {"invoice_id": "4601", "invoice_number": "INV-000009", "status": "draft",
                                 "line_items": [{"name": "Consulting", "discount": 0}], "total": 450.0,
                                 "is_emailed": False}
    assert shaped["summary"] == ("Created invoice INV-000009 (status draft, total 450.0). "
                                 "Zoho: The invoice has been created.")


def test_an_action_answers_with_its_summary_alone() -> None:
    shaped = shape(SPECS["mark_invoice_sent"], {"invoice_id": "4601"},
                   {"code": 0, "message": "Invoice status has been changed to Sent."})
    assert shaped.structured == {"summary": "Marked invoice 4601 as sent. Zoho: Invoice status has "
                                            "been changed to Sent."}


def test_an_aging_report_becomes_one_row_per_contact() -> None:
    intervals = lambda current, late: [  # noqa: E731
        {"interval": "current", "interval_formatted": "Current", "amount": current},
        {"interval": "1-15", "interval_formatted": "1 - 15 Days", "amount": late}]
    payload = {"code": 0, "message": "success", "invoice": {
        "total": 150.0, "intervals": intervals(100.0, 50.0),
        "group_list": [{"name": "none", "total": 150.0, "intervals": intervals(100.0, 50.0), "group_list": [
            {"name": "Acme", "id": "4601", "total": 100.0, "intervals": intervals(100.0, 0.0)},
            {"name": "Globex", "id": "4602", "total": 50.0, "intervals": intervals(0.0, 50.0)}]}]},
        "page_context": {"report_name": "AR Aging Summary", "as_of_date": "2026-11-29"}}
    report = SPECS["get_aged_receivables"]
    shaped = shape(report, {}, payload).structured
    assert shaped["aged_receivables"] == {"total": 150.0, "buckets": {"current": 100.0, "1-15": 50.0},
                                          "customers": [
        {"name": "Acme", "id": "4601", "total": 100.0, "current": 100.0},
        {"name": "Globex", "id": "4602", "total": 50.0, "1-15": 50.0}]}
    assert shaped["page_context"] == {"report_name": "AR Aging Summary", "as_of_date": "2026-11-29"}
    assert shaped["summary"] == ("Receivables as of 2026-11-29: 150.00 (currency unknown) owed to us "
                                 "(current 100.00 (currency unknown), 1-15 days 50.00 (currency unknown)).")
    assert shape(report, {}, payload, currency="GBP").structured["summary"].startswith(
        "Receivables as of 2026-11-29: 150.00 GBP owed to us (current 100.00 GBP, 1-15 days 50.00 GBP)")


def test_split_view_takes_fields_out_and_sets_the_default_page_size() -> None:
    to_send, view = split_view(SPECS["list_invoices"],
                               {"status": "unpaid", "fields": ["reference_number", "*"]})
    assert to_send == {"status": "unpaid", "per_page": DEFAULT_PAGE_SIZE}
    assert view == View(extra=("reference_number",), every_field=True)
    assert split_view(SPECS["list_invoices"], {"per_page": 200, "fields": "email, due_days"}) == (
        {"per_page": 200}, View(extra=("email", "due_days")))
    assert split_view(SPECS["get_invoice"], {"invoice_id": "4601"}) == ({"invoice_id": "4601"}, View())


@pytest.mark.parametrize(("tool", "fields", "says"), [
    ("get_invoice", ["total"], "list tools only"),
    ("list_invoices", {"total": True}, "comma-separated"),
    ("list_invoices", [1, 2], "comma-separated"),
    ("list_invoices", ["Total; DROP"], "is not a field name"),
    ("list_invoices", ["../secret"], "is not a field name"),
    ("list_invoices", ["f"] * 51, "at most 50"),
])
def test_bad_fields_are_refused_naming_the_argument(tool: str, fields: Any, says: str) -> None:
    with pytest.raises(InvalidArguments) as refused:
        split_view(SPECS[tool], {"fields": fields})
    assert refused.value.fields == ["fields"] and says in str(refused.value)


def test_compact_drops_empty_values_at_any_depth_and_keeps_zero_and_false() -> None:
    assert compact({"a": "", "b": None, "c": [], "d": {}, "e": [{"f": ""}], "g": 0, "h": False,
                    "i": [0, ""]}) == {
        "g": 0, "h": False, "i": [0]}


def test_one_row_is_counted_in_the_singular() -> None:
    assert shape(SPECS["list_invoices"], {}, _page(_invoice_row(1))).structured["summary"] == \
        "Listed 1 invoice (page 1; no more pages)."
    payments = {"code": 0, "customerpayments": [{"payment_id": "4602", "amount": 5.0}]}
    assert shape(SPECS["list_customer_payments"], {}, payments).structured["summary"] \
        == "Listed 1 customer payment."


def test_a_date_filter_zoho_did_not_apply_is_said_in_the_summary() -> None:
    # bills' due-date filters are not in Zoho's file: if Zoho ignores one, the agent must not read the page
    # as filtered
    asked = {"due_date_start": "2026-10-01", "due_date_end": "2026-10-31"}
    rows = [_invoice_row(1, due_date="2026-10-15"), _invoice_row(2, due_date="2026-12-01"),
            _invoice_row(3, due_date="2026-09-30")]
    ignored = shape(SPECS["list_invoices"], asked, _page(*rows)).structured["summary"]
    applied = shape(SPECS["list_invoices"], asked, _page(rows[0])).structured["summary"]
    assert ("Zoho did not apply every date filter (1 outside due_date_end=2026-10-31, 1 outside "
            "due_date_start=2026-10-01)") in ignored
    assert "did not apply" not in applied
