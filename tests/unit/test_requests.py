"""Arguments -> the exact request Zoho gets; bad arguments -> a refusal naming each field,
before anything is sent."""

from __future__ import annotations

import pytest

from zbmcp.errors import InvalidArguments
from zbmcp.calls.catalog import load_manifests
from zbmcp.core.requests import ZohoRequest, build_request

SPECS = load_manifests()


def refusal(tool: str, arguments: dict, organizations=("10234695",)) -> InvalidArguments:
    with pytest.raises(InvalidArguments) as info:
        build_request(SPECS[tool], arguments, list(organizations))
    assert "Nothing was sent to Zoho" in str(info.value)
    return info.value


def test_a_create_puts_its_declared_fields_in_the_body_and_send_in_the_query():
    lines = [{"item_id": "4600001", "rate": 150, "quantity": 3, "description": "Consulting",
              "discount": "10%"}]
    request = build_request(
        SPECS["create_invoice"],
        {"customer_id": "460000000026049", "line_items": lines, "date": "2026-11-25",
         "reference_number": "PO-7", "send": True},
        ["10234695"],
    )
    assert request == ZohoRequest(
        "POST", "/invoices", (("organization_id", "10234695"), ("send", "true")),
        {"customer_id": "460000000026049", "line_items": lines, "date": "2026-11-25",
         "reference_number": "PO-7"},
        "10234695",
    )


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"place_of_supply": "TN"}, "place_of_supply"),  # a real Zoho field, but not offered
        ({"Send": True}, "Send"),  # case tricks are other names
        ({"line_items": [{"item_id": "1", "rate": 1, "send": True}]}, "line_items[0].send"),
        ({"line_items": [{"item_id": "1", "rate": 1, "expense_id": "2"}]}, "line_items[0].expense_id"),
        ({"contact_persons": ["460000000000001"]}, "contact_persons"),
    ],
)
def test_undeclared_fields_are_refused_at_any_depth_naming_the_accepted_ones_closest_first(arguments, field):
    base = {"customer_id": "460000000026049", "line_items": [{"item_id": "1", "rate": 1}]}
    error = refusal("create_invoice", {**base, **arguments})
    assert error.fields == [field]
    accepted = str(error).split("it takes: ", 1)[1]
    if field == "Send":
        assert accepted.startswith("send, ")
    if field == "line_items[0].send":
        assert "is not a field of line_items[]" in str(error) and "item_id" in accepted
        assert "customer_id" not in accepted  # a line's own fields, not the tool's
    if field == "line_items[0].expense_id":
        assert "Zoho's line_items.expense_id changes other records; zbmcp does not offer it" in str(error)
    if field == "contact_persons":
        assert "Zoho's contact_persons chooses who Zoho emails; zbmcp does not offer it" in str(error)


def test_send_must_be_a_real_boolean():
    base = {"customer_id": "460000000026049", "line_items": [{"item_id": "1", "rate": 1}]}
    assert refusal("create_invoice", {**base, "send": "true"}).fields == ["send"]
    assert refusal("create_estimate", {**base, "send": 1}).fields == ["send"]


def test_a_payment_cannot_ask_zoho_for_a_thank_you_email():
    error = refusal("create_customer_payment", {
        "customer_id": "1", "payment_mode": "cash", "amount": 10, "date": "2026-11-25",
        "invoices": [{"invoice_id": "2", "amount_applied": 10}], "contact_persons": ["3"]})
    assert error.fields == ["contact_persons"] and "makes Zoho email someone" in str(error)


def test_cc_addresses_are_checked_like_to_addresses():
    error = refusal("email_invoice", {"invoice_id": "1", "to_mail_ids": ["a@acme.example"],
                                      "cc_mail_ids": ["boss@acme.example", "not an address"]})
    assert error.fields == ["cc_mail_ids[1]"] and "must be a valid email" in str(error)
    assert refusal("email_invoice", {"invoice_id": "1", "to_mail_ids": []}).fields == ["to_mail_ids"]


def test_a_list_sends_filters_as_query_and_the_single_organization_by_default():
    request = build_request(SPECS["list_invoices"], {"status": "draft", "invoice_number_startswith": "INV",
                                                     "page": 2, "per_page": 200, "date_start": "2026-01-01"},
                            ["10234695"])
    assert request.method == "GET" and request.body is None
    assert request.query() == {"organization_id": "10234695", "status": "draft",
                               "invoice_number_startswith": "INV", "page": "2", "per_page": "200",
                               "date_start": "2026-01-01"}


def test_a_filter_zoho_does_not_document_for_that_list_is_refused_with_the_ones_it_does():
    error = refusal("list_invoices", {"invoice_number_startwith": "INV"})
    assert error.fields == ["invoice_number_startwith"]
    assert str(error).split("it takes: ", 1)[1].startswith("invoice_number_startswith, ")


def test_path_ids_are_substituted_and_list_organizations_takes_no_organization():
    request = build_request(SPECS["mark_invoice_sent"], {"invoice_id": "4600"}, ["1", "2"] and ["1"])
    assert request.path == "/invoices/4600/status/sent"
    assert build_request(SPECS["list_organizations"], {}, ["1", "2"]).params == ()


@pytest.mark.parametrize("bad_id", ["../1", "1/2", "1?x=2", "12 ", "", "١٢"])
def test_ids_that_are_not_zoho_ids_are_refused(bad_id):
    error = refusal("get_invoice", {"invoice_id": bad_id})
    assert error.fields == ["invoice_id"]
    assert "digits only" in str(error) or "must not be empty" in str(error)


def test_every_problem_is_named_with_its_fix():
    error = refusal("create_invoice", {"line_items": [{"item_id": "1", "rate": "ten"}]})
    assert set(error.fields) == {"customer_id", "line_items[0].rate"}
    assert "customer_id: is required" in str(error)
    assert "line_items[0].rate: must be a number" in str(error)
    error = refusal("list_invoices", {"date_start": "25/11/2026", "status": "unpaid-ish"})
    assert "date_start: must be a date as yyyy-mm-dd" in str(error)
    assert "status: must be one of: draft" in str(error)


def test_several_organizations_make_organization_id_required_and_bounded():
    assert refusal("list_invoices", {}, ["1", "2"]).fields == ["organization_id"]
    assert "must be one of: 1, 2" in str(refusal("list_invoices", {"organization_id": "3"}, ["1", "2"]))


def test_unknown_arguments_are_refused_where_zoho_takes_no_extras():
    error = refusal("get_invoice", {"invoice_id": "1", "accept": "pdf"})
    assert error.fields == ["accept"] and "it takes: " in str(error)
    assert set(str(error).split("it takes: ", 1)[1].split(". ")[0].split(", ")) \
        == {"organization_id", "invoice_id"}


def test_list_filters_must_be_plain_values_with_plain_names():
    assert refusal("list_estimates", {"total_greater_than": {"$gt": 1}}).fields == ["total_greater_than"]
    assert refusal("list_invoices", {"Authorization": "x"}).fields == ["Authorization"]


def test_numbers_must_be_finite_because_json_cannot_carry_nan():
    error = refusal("list_estimates", {"total_greater_than": float("nan")})
    assert error.fields == ["total_greater_than"] and "finite" in str(error)
    assert refusal("create_expense", {"account_id": "1", "paid_through_account_id": "2", "date": "2026-11-25",
                                      "amount": float("inf")}).fields == ["amount"]
