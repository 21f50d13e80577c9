"""A report's query as Zoho reads it (pure): dates count only with `filter_by=TransactionDate.CustomDate`, and
accounts are chosen by a `rule`.

Zoho's report endpoints ignore from_date and to_date unless filter_by names the custom period, and answer for
this month instead (integrators report it; Zoho documents no reports in its OpenAPI files). So for every tool
that takes filter_by and dates, zbmcp sends the custom period whenever dates are given, and refuses dates
beside a named period (Zoho would drop them without a word) and a custom period without its dates.

Zoho's account transactions report picks its accounts with a JSON `rule` (what its own web client and
integrators send): the tool takes a plain account_id, checked as every id is, and zbmcp writes the rule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from zbmcp.core.manifest import ToolSpec
from zbmcp.errors import InvalidArguments

FILTER = "filter_by"
CUSTOM = "TransactionDate.CustomDate"
DATES = ("from_date", "to_date")


ACCOUNT = "account_id"
RULE_PATHS = frozenset({"/reports/accounttransaction"})


def report_query(spec: ToolSpec, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments as Zoho's report reads them: the custom period with dates, an account as a rule."""
    sent = with_period(spec, arguments)
    if spec.path in RULE_PATHS and sent.get(ACCOUNT) is not None:
        rule = {"columns": [{"index": 1, "field": ACCOUNT, "group": "report", "comparator": "in",
                             "value": [str(sent.pop(ACCOUNT))]}], "criteria_string": "1"}
        sent["rule"] = json.dumps(rule, separators=(",", ":"))
    return sent


def takes_period(spec: ToolSpec) -> bool:
    return spec.argument_group(FILTER) == "query" and any(spec.argument_group(d) == "query" for d in DATES)


def with_period(spec: ToolSpec, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments with the filter_by Zoho needs to read their dates; a refusal naming the field if the
    period and the dates disagree."""
    sent = dict(arguments)
    if not takes_period(spec):
        return sent
    dates = [name for name in DATES if spec.argument_group(name) == "query"]
    given = [name for name in dates if sent.get(name) is not None]
    period = sent.get(FILTER)
    if period is None and given:
        sent[FILTER] = period = CUSTOM
    if period == CUSTOM:
        missing = [name for name in dates if name not in given]
        if missing:
            raise InvalidArguments([(name, f"is required with filter_by={CUSTOM}") for name in missing])
    elif given:
        raise InvalidArguments([(name, f"is read by Zoho only with filter_by={CUSTOM}; leave it out for "
                                       f"{period}, or give the period as dates") for name in given])
    return sent
