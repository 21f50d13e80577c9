"""Ids sent as JSON numbers: exact ones become their digits, inexact ones are refused (pure, no fakes)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zbmcp.errors import InvalidArguments
from zbmcp.core.numeric_ids import MAX_EXACT_INTEGER, ids_as_strings


def test_numeric_ids_at_any_depth_become_digit_strings_and_nothing_else_changes():
    arguments = {
        "organization_id": 10234695,
        "customer_id": 460000000026049,
        "line_items": [{"item_id": 460000000026071, "quantity": 3, "rate": 120}],
        "invoices": [{"invoice_id": 7, "amount_applied": 10}],
        "contact_ids": [1, "2"],
        "per_page": 2,
        "reference_number": 12345,
    }
    assert ids_as_strings(arguments) == {
        "organization_id": "10234695",
        "customer_id": "460000000026049",
        "line_items": [{"item_id": "460000000026071", "quantity": 3, "rate": 120}],
        "invoices": [{"invoice_id": "7", "amount_applied": 10}],
        "contact_ids": ["1", "2"],
        "per_page": 2,
        "reference_number": 12345,
    }
    assert arguments["organization_id"] == 10234695  # the caller's arguments are left as they were


def test_strings_booleans_and_other_shapes_are_left_for_validation_to_judge():
    arguments = {"organization_id": "10234695", "customer_id": True, "item_id": None, "invoice_id": {"x": 1},
                 "vendor_id": ["1"]}
    assert ids_as_strings(arguments) == arguments


@pytest.mark.parametrize("number", [2**53, 460000000026049123, -(2**53), 10**19])
def test_an_integer_beyond_what_json_keeps_exact_is_refused(number):
    with pytest.raises(InvalidArguments) as refused:
        ids_as_strings({"customer_id": number})
    assert refused.value.fields == ["customer_id"]
    assert "send ids as strings" in str(refused.value) and "Nothing was sent" in str(refused.value)


def test_what_a_javascript_client_sends_for_a_19_digit_id_is_refused_not_rounded():
    # JSON.stringify(460000000026049123) in a browser or Node: the id is already wrong when it arrives
    sent = json.loads('{"invoice_id": 460000000026049150}')
    with pytest.raises(InvalidArguments, match="send ids as strings"):
        ids_as_strings(sent)


@pytest.mark.parametrize("number", [10234695.0, 4.6e14, 1e21])
def test_a_number_with_a_fraction_or_exponent_is_refused(number):
    with pytest.raises(InvalidArguments) as refused:
        ids_as_strings({"line_items": [{"item_id": number}]})
    assert refused.value.fields == ["line_items[0].item_id"]
    assert "send ids as strings" in str(refused.value)


def test_every_inexact_id_is_named_at_once():
    with pytest.raises(InvalidArguments) as refused:
        ids_as_strings({"organization_id": 2**60, "contact_ids": [1, 2.5], "customer_id": 3})
    assert refused.value.fields == ["organization_id", "contact_ids[1]"]


@given(st.integers(min_value=-MAX_EXACT_INTEGER, max_value=MAX_EXACT_INTEGER))
def test_every_exact_integer_becomes_exactly_its_digits(number):
    assert ids_as_strings({"organization_id": number}) == {"organization_id": str(number)}


@given(st.integers(min_value=MAX_EXACT_INTEGER + 1))
def test_no_integer_past_the_safe_range_is_ever_converted(number):
    with pytest.raises(InvalidArguments):
        ids_as_strings({"bill_id": number})
