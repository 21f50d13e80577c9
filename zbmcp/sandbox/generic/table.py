"""The generic routes as operations of the sandbox's route table (zbmcp/sandbox/routing.py puts them behind
the rule modules' own), each with its scope from Zoho's file and its kind's handler.

On a record a rule module keeps, the generic emulation only does what cannot reach the books: set the
status of an estimate, an order, an item, a contact or an account; set addresses, custom fields, templates
and flags; email; attach; and keep sub-records (comments, addresses). Anything else there, and what
routes.json marks not_emulated, answers 400 code 9998 saying what and why, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from zbmcp.sandbox.errors import ZohoError
from zbmcp.sandbox.generic import actions, crud
from zbmcp.sandbox.generic.data import ROUTES, Route
from zbmcp.sandbox.generic.records import OWNED
from zbmcp.sandbox.operations import Body, Operation
from zbmcp.sandbox.rules.base import Call, Handler, Reply

NOT_EMULATED_CODE = 9998

KINDS: dict[str, Callable[[Route, Call], Reply]] = {
    "list": crud.list_records, "list_all": crud.list_records, "latest": crud.latest, "by_ids": crud.by_ids,
    "create": crud.create, "create_many": crud.create_many, "get": crud.get, "update": crud.update,
    "delete": crud.delete, "bulk_update": crud.bulk_update, "bulk_delete": crud.bulk_delete,
    "singleton_get": crud.singleton_get, "singleton_put": crud.singleton_put,
    "singleton_delete": crud.singleton_delete,
    "status": actions.set_status, "patch": actions.patch, "email": actions.email,
    "email_content": actions.email_content, "view": actions.view, "action": actions.action,
    "attach": actions.attach, "detach": actions.detach, "attachment": actions.attachment,
    "clone": actions.clone, "me": actions.me, "timer_start": actions.timer_start,
    "timer_stop": actions.timer_stop, "timer_running": actions.timer_running,
}
# What the generic emulation may do on a record a rule module keeps.
ON_OWNED = frozenset({"status", "patch", "email", "email_content", "view", "attach", "detach", "attachment",
                      "by_ids"})
# Custom modules' API names start with cm_ (Zoho's example: cm_debtor); anything else is an unknown URL.
_CUSTOM_MODULE = ("module_name", "cm_[a-z0-9_]+")


def refusal(route: Route) -> str | None:
    """Why the generic emulation does not answer this route, or None when it does."""
    if route.kind == "not_emulated":
        return str(route.extra["reason"])
    own = OWNED.get(route.resource.path) if route.resource is not None else None
    if own is None:
        return None
    module = route.resource.path.strip("/") if route.resource is not None else ""
    if route.kind not in ON_OWNED:
        return f"the sandbox models {module} by rule, and its rules do not cover this operation yet"
    if route.kind == "status" and own.status_field is None:
        article = "an" if own.thing[0].lower() in "aeiou" else "a"
        return f"{article} {own.thing.lower()}'s status is the {module} rules' to change: the books read it"
    return None


def _handler(route: Route) -> Handler:
    reason = refusal(route)
    handle = KINDS[route.kind] if route.kind in KINDS else None

    def answer(call: Call) -> Reply:
        if reason is not None or handle is None:
            raise ZohoError(400, NOT_EMULATED_CODE,
                            f"The sandbox does not emulate {route.operation} yet: {reason}.")
        return handle(route, call)

    return answer


def _body(route: Route) -> Body:
    # Missing required fields are the handlers' to name ("<field> is required."), so none is "required" here.
    return "none" if route.body == "none" else "list" if route.body == "list" else "optional"


def operation(route: Route) -> Operation:
    patterns = (_CUSTOM_MODULE,) if "{module_name}" in route.path else ()
    return Operation(route.method, route.path, route.scope, _handler(route), _body(route),
                     param_patterns=patterns)


OPERATIONS: tuple[Operation, ...] = tuple(operation(route) for route in ROUTES)
