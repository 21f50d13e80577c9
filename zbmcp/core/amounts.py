"""How much money a call writes, computed as Zoho computes a document's total (pure), so that a rule such as
`approve: amount > 5000` never sees less than Zoho will book.

    each line      gross = round(rate x quantity); its discount, "10%" of the gross or an amount, rounded;
                   the line's total = gross - discount
    the document   sub_total = the lines' totals; less the document's own discount ("10%" of the sub_total
                   or an amount, rounded), plus shipping_charge and adjustment; the total rounded
    credit applied what a call applies of a credit note, a vendor credit or a payment's unused amount: the
                   sum of its `amount_applied` (top level, and in each list such as invoice_payments)
    each tax       a line's `tax_id` adds its rate (read from Zoho) of the line's total, rounded per line, or
                   once for the document when that comes to more; an expense's `tax_id` adds its rate of the
                   amount. An inclusive tax (is_inclusive_tax true) is already in the amount: nothing is
                   added. The tax is counted on the whole line, as if the document's discount came after it
                   (an upper bound when Zoho takes the discount first)
    rounding       half up, to the decimal places of the document's currency (as the sandbox does it)

Where zbmcp does not know the decimal places (nothing it read says them), the amount is the largest of the
totals at every precision a Zoho currency can have: an upper bound, never less than Zoho's total. An update
that sends its lines keeps the stored document's shipping charge and adjustment (read from Zoho), and counts
none of its stored discount (an upper bound again). What cannot be bounded makes the amount unknown, saying
why: a line without a rate (Zoho takes the item's price), or a tax whose rate could not be read.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from zbmcp.core.found import PRECISIONS, Document, Tax
from zbmcp.core.manifest import dotted_fields

Amount = tuple[Decimal | None, str | None]  # the amount, or None and why it cannot be known
EXACT_DIGITS = 400


def written_amount(fields: Collection[str], arguments: Mapping[str, Any], *, precision: int | None,
                   updates: bool, stored: Document | None, taxes: tuple[Tax, ...] = (),
                   moves_money: Collection[str] = ()) -> Amount:
    """The money a call with these body `fields` writes; `updates`: it changes an existing document, whose
    stored charges (`stored`, None when not read) it keeps; `taxes`: the rates read for its tax_ids;
    `moves_money`: the fields this call sends whose effect is to move money."""
    with localcontext() as context:
        context.prec = EXACT_DIGITS  # products and sums of JSON numbers, exactly: no rounding but Zoho's
        amount = _written_amount(fields, arguments, precision, updates, stored, taxes)
    if amount == (Decimal(0), None) and moves_money:
        # Nothing the call sends says how much, yet it moves money (a bank line matched to records it only
        # names): 0 would let `amount > 500` pass whatever the records hold.
        return None, (f"the money it moves is set by what {', '.join(sorted(moves_money))} names, which "
                      "zbmcp does not read")
    return amount


def tax_ids(fields: Collection[str], arguments: Mapping[str, Any]) -> tuple[str, ...]:
    """The taxes a call's money depends on: its lines' tax_ids, or its own (an expense's)."""
    found: list[str] = []
    if "amount" in fields and _taxed(arguments.get("tax_id")):
        found.append(str(arguments["tax_id"]))
    lines = arguments.get("line_items") if "line_items" in fields else None
    for line in lines if isinstance(lines, list) else []:
        if isinstance(line, Mapping) and _taxed(line.get("tax_id")):
            found.append(str(line["tax_id"]))
    return tuple(dict.fromkeys(found))


def takes_a_tax(body: Mapping[str, Any]) -> bool:
    """Whether a tool's body has a tax_id (its own, or its lines'), whose rate its amount depends on."""
    return any(field.split(".")[-1] == "tax_id" for field in dotted_fields(body))


def _written_amount(fields: Collection[str], arguments: Mapping[str, Any], precision: int | None,
                    updates: bool, stored: Document | None, taxes: tuple[Tax, ...]) -> Amount:
    rates, why = _rates(tax_ids(fields, arguments), taxes)
    if why is not None:
        return None, why
    inclusive = arguments.get("is_inclusive_tax") is True
    if "amount" in fields:
        if arguments.get("amount") is None:
            return None, "the call sends no amount"
        value = _decimal(arguments["amount"])
        rate = rates.get(str(arguments.get("tax_id")), Decimal(0)) if not inclusive else Decimal(0)
        return _at_precision(precision, lambda places: _round(value, places)
                             + _round(_round(value, places) * rate / 100, places)), None
    applied = _applied(fields, arguments)
    if applied and "line_items" not in fields:
        return _at_precision(precision, lambda places: sum((_round(value, places) for value in applied),
                                                           Decimal(0))), None
    if "line_items" not in fields:
        return Decimal(0), None
    lines = arguments.get("line_items")
    if not isinstance(lines, list):
        return None, "the call sends no line_items, so the total stays whatever it was"
    for index, line in enumerate(lines):
        if not isinstance(line, Mapping) or line.get("rate") is None:
            return None, (f"line_items[{index}] has no rate (Zoho would take the item's own price); give "
                          "every line a rate")
    kept: tuple[Decimal, Decimal] = (Decimal(0), Decimal(0))
    if updates:
        if stored is None or stored.unread is not None:
            why = stored.unread if stored is not None else "it was not read"
            return None, ("an update keeps the document's stored shipping charge and adjustment, which "
                          f"could not be read from Zoho ({why})")
        kept = (stored.shipping_charge, stored.adjustment)
    added = {} if inclusive else rates

    def total(places: int) -> Decimal:
        return _document_total(lines, arguments, kept, places, added)

    return _at_precision(precision, total), None


def _applied(fields: Collection[str], arguments: Mapping[str, Any]) -> list[Decimal]:
    """What a call applies of a credit or a payment: its `amount_applied`, and each `amount_applied` in its
    lists (invoices, bills, invoice_payments, apply_creditnotes...). Empty when it applies nothing."""
    found = [_decimal(arguments["amount_applied"])] if "amount_applied" in fields \
        and arguments.get("amount_applied") is not None else []
    for name in fields:
        value = arguments.get(name)
        if isinstance(value, list):
            found += [_decimal(entry["amount_applied"]) for entry in value
                      if isinstance(entry, Mapping) and entry.get("amount_applied") is not None]
    return found


def precision_matters(arguments: Mapping[str, Any]) -> bool:
    """Whether the call's money comes out differently at some precision a currency can have (a rate of
    0.005, a quantity of 1.5): only then does knowing the currency's decimal places change the amount."""
    with localcontext() as context:
        context.prec = EXACT_DIGITS
        lines = arguments.get("line_items")
        if _taxed(arguments.get("tax_id")) or isinstance(lines, list) and any(
                isinstance(line, Mapping) and _taxed(line.get("tax_id")) for line in lines):
            return True  # a tax rounds in the currency's precision, at a rate only Zoho knows
        if not isinstance(lines, list) or not all(isinstance(line, Mapping) for line in lines):
            amount = _decimal(arguments.get("amount"))
            return len({_round(amount, places) for places in PRECISIONS}) > 1
        nothing_kept = (Decimal(0), Decimal(0))
        return len({_document_total(lines, arguments, nothing_kept, places) for places in PRECISIONS}) > 1


def line_total(line: Mapping[str, Any], places: int) -> Decimal:
    gross = _round(_decimal(line.get("rate")) * _decimal(line.get("quantity", 1)), places)
    return gross - _discount(line.get("discount"), gross, places)


def _document_total(lines: list[Any], arguments: Mapping[str, Any], kept: tuple[Decimal, Decimal],
                    places: int, rates: Mapping[str, Decimal] | None = None) -> Decimal:
    totals = [line_total(line, places) for line in lines]
    sub_total = sum(totals, Decimal(0))
    shipping = _decimal(arguments["shipping_charge"]) if "shipping_charge" in arguments else kept[0]
    adjustment = _decimal(arguments["adjustment"]) if "adjustment" in arguments else kept[1]
    taxed = [total * rates[str(line.get("tax_id"))] / 100 for line, total in zip(lines, totals, strict=True)
             if rates and _taxed(line.get("tax_id"))]
    tax = max(sum((_round(amount, places) for amount in taxed), Decimal(0)), _round(sum(taxed, Decimal(0)),
                                                                                        places))
    return _round(sub_total - _discount(arguments.get("discount"), sub_total, places) + shipping + adjustment
                  + tax, places)


def _taxed(tax_id: Any) -> bool:
    return isinstance(tax_id, str | int) and not isinstance(tax_id, bool) and str(tax_id).strip() != ""


def _rates(wanted: tuple[str, ...], taxes: tuple[Tax, ...]) -> tuple[dict[str, Decimal], str | None]:
    """Each wanted tax's rate, or why the amount cannot be known without it."""
    rates: dict[str, Decimal] = {}
    for tax_id in wanted:
        tax = next((tax for tax in taxes if tax.id == tax_id), None)
        if tax is None:
            return {}, f"the rate of tax {tax_id} was not read from Zoho"
        if tax.percentage is None:
            return {}, f"the rate of tax {tax_id} could not be read from Zoho ({tax.unread})"
        rates[tax_id] = tax.percentage
    return rates, None


def _discount(raw: Any, base: Decimal, places: int) -> Decimal:
    if raw is None or raw == "":
        return Decimal(0)
    if isinstance(raw, str) and raw.strip().endswith("%"):
        return _round(base * _decimal(raw.strip()[:-1]) / 100, places)
    return _round(_decimal(raw), places)


def _at_precision(precision: int | None, total: Callable[[int], Decimal]) -> Decimal:
    if precision is not None:
        return total(precision)
    return max(total(places) for places in PRECISIONS)


def _round(value: Decimal, places: int) -> Decimal:
    with localcontext() as context:
        context.prec = max(EXACT_DIGITS, value.adjusted() + places + 2)  # exact, however large the number
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        return Decimal(0)
    try:
        number = Decimal(str(value).strip()) if isinstance(value, int | float | str) else Decimal(0)
    except InvalidOperation:  # validation let only numbers and "10%" through; be safe anyway
        return Decimal(0)
    return number if number.is_finite() else Decimal(0)
