"""The sandbox's route data (zbmcp/sandbox/generic/routes.json) is what scripts/sandbox_routes.py makes of
Zoho's OpenAPI files, covers every operation in them, and agrees with the rule modules' own route table."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.zoho_calls import EXTRACT, route_of, shape
from zbmcp.sandbox import routing, scopes
from zbmcp.sandbox.errors import ZohoError
from zbmcp.sandbox.generic.data import ROUTES, ROUTES_FILE
from zbmcp.sandbox.generic.table import refusal
from zbmcp.sandbox.operations import OPERATIONS as RULE_OPERATIONS

REPO = Path(__file__).resolve().parent.parent.parent


def _generator() -> Any:
    path = REPO / "scripts" / "sandbox_routes.py"
    spec = importlib.util.spec_from_file_location("sandbox_routes", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_route_data_is_as_the_script_writes_it() -> None:
    text = ROUTES_FILE.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=1, sort_keys=True) + "\n", \
        "run: python scripts/sandbox_routes.py"


def test_the_route_data_is_current() -> None:
    """Regenerated from Zoho's files when they are here (CI allows this skip: SKIPS_ALLOWED_IN_CI)."""
    generator = _generator()
    if not any(generator.DEFAULT_OAS_DIR.glob("*.yml")):
        pytest.skip(f"Zoho's OpenAPI files are not at {generator.DEFAULT_OAS_DIR}")
    fresh = json.dumps(generator.finish(generator.build(generator.DEFAULT_OAS_DIR)), indent=1, sort_keys=True)
    assert fresh + "\n" == ROUTES_FILE.read_text(encoding="utf-8"), "run: python scripts/sandbox_routes.py"


def test_every_operation_in_zohos_files_has_one_route_with_its_scope() -> None:
    named = [name for route in ROUTES for name in route.operations]
    assert sorted(named) == sorted(EXTRACT)  # each once
    for name, facts in EXTRACT.items():
        route = route_of(name)
        assert name in route.operations
        if facts["scopes"]:
            assert route.scope == facts["scopes"][0], name
        else:  # Zoho's file names none (POST /bankstatements): its module's, at its method's access
            assert route.extra["scope_inferred"] and route.scope == "ZohoBooks.banking.CREATE", name


def test_every_scope_in_zohos_files_is_one_the_sandbox_knows() -> None:
    """A token can be minted for every operation's scope (custom modules and fixed assets included)."""
    assert scopes.invalid({route.scope for route in ROUTES}) == []


def test_the_rule_modules_routes_are_zohos_and_take_precedence() -> None:
    """Every route a rule module answers is in Zoho's files with the same scope (but the reports and the
    webhooks, which Zoho documents only on its pages), and the request reaches the rule, not the generic
    route."""
    generic = {(route.method, shape(route.path)): route for route in ROUTES}
    for operation in RULE_OPERATIONS:
        if operation.template.startswith(("/reports/", "/settings/webhooks")):
            continue
        route = generic[(operation.method, shape(operation.template))]
        assert operation.scope == route.scope, operation.key
        path = re.sub(r"\{\w+\}", "460000000000001", operation.template)
        assert routing.match(operation.method, path)[0] is operation, operation.key


@pytest.mark.parametrize("method, path, template", [
    ("GET", "/users/me", "/users/me"),
    ("GET", "/bankaccounts/rules", "/bankaccounts/rules"),
    ("GET", "/bankaccounts/460000000000001", "/bankaccounts/{account_id}"),
    ("GET", "/projects/timeentries", "/projects/timeentries"),
    ("GET", "/projects/460000000000001", "/projects/{project_id}"),
    ("GET", "/creditnotes/refunds", "/creditnotes/refunds"),
    ("GET", "/invoices/templates", "/invoices/templates"),
    ("GET", "/cm_debtor", "/{module_name}"),
    ("PUT", "/invoices/460000000000001/templates/460000000000002",
     "/invoices/{invoice_id}/templates/{template_id}"),
])
def test_a_literal_path_beats_a_parameter(method: str, path: str, template: str) -> None:
    assert routing.match(method, path)[0].template == template


@pytest.mark.parametrize("path", ["/widgets", "/CM_upper", "/cm_debtor/1/2", "/invoicez/1"])
def test_a_path_no_route_has_is_still_an_unknown_url(path: str) -> None:
    """Custom modules' /{module_name} takes only Zoho's cm_ names: it does not swallow every typo."""
    with pytest.raises(ZohoError, match="Invalid URL Passed"):
        routing.match("GET", path)


def test_the_docs_list_every_operation_the_sandbox_does_not_emulate() -> None:
    """docs/sandbox.md names each operation that answers 9998, and no other."""
    rule = {(operation.method, shape(operation.template)) for operation in RULE_OPERATIONS}
    refused = {name for route in ROUTES if (route.method, shape(route.path)) not in rule and refusal(route)
               for name in route.operations}
    docs = (REPO / "docs" / "sandbox.md").read_text(encoding="utf-8")
    section = docs.split("### Not emulated yet", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([A-Z]+ /[^`]+|[a-z_0-9]+)`", section))
    assert refused - listed == set(), "add to docs/sandbox.md"
    assert {name for name in listed if name in EXTRACT} - refused == set(), "remove from docs/sandbox.md"
