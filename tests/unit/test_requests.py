"""Arguments -> the exact request Zoho gets; bad arguments -> a refusal naming each field, before anything is sent."""

from __future__ import annotations

import pytest

from zbmcp.errors import InvalidArguments
from zbmcp.manifest import load_manifests
from zbmcp.requests import ZohoRequest, build_request

SPECS = load_manifests()


def refusal(tool: str, arguments: dict, organizations=("10234695",)) -> InvalidArguments:
    with pytest.raises(InvalidArguments) as info:
        build_request(SPECS[tool], arguments, list(organizations))
    assert "Nothing was sent to Zoho" in str(info.value)
    return info.value


def test_a_create_puts_declared_and_further_zoho_fields_in_the_body():
    request = build_request(
        SPECS["create_invoice"],
        {"customer_id": "460000000026049", "line_items": [{"item_id": "4600001", "rate": 150, "quantity": 3}],
         "place_of_supply": "TN"},
        ["10234695"],
    )
    assert request == ZohoRequest(
        "POST", "/invoices", (("organization_id", "10234695"),),
        {"customer_id": "460000000026049", "line_items": [{"item_id": "4600001", "rate": 150, "quantity": 3}],
         "place_of_supply": "TN"},
        "10234695",
    )


def test_a_list_sends_filters_as_query_and_the_single_organization_by_default():
    request = build_request(SPECS["list_invoices"], {"status": "draft", "invoice_number_startswith": "INV",
                                                     "page": 2}, ["10234695"])
    assert request.method == "GET" and request.body is None
    assert request.query() == {"organization_id": "10234695", "status": "draft",
                               "invoice_number_startswith": "INV", "page": "2"}


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
    assert error.fields == ["accept"] and "it takes: organization_id, invoice_id" in str(error)


def test_extra_list_filters_must_be_plain_values_with_plain_names():
    assert refusal("list_invoices", {"total_greater_than": {"$gt": 1}}).fields == ["total_greater_than"]
    assert refusal("list_invoices", {"Authorization": "x"}).fields == ["Authorization"]


def test_numbers_must_be_finite_because_json_cannot_carry_nan():
    error = refusal("list_invoices", {"total_greater_than": float("nan")})
    assert error.fields == ["total_greater_than"] and "finite" in str(error)
    assert refusal("create_contact", {"contact_name": "x", "credit_limit": float("inf")}).fields == ["credit_limit"]
