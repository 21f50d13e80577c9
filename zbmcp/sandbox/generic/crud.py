"""The generic emulation's records: list, create, get, update, delete, and their bulk and singleton kin.

Every write validates the whole request (body.py) before it changes anything, so a refused write leaves no
trace; an unknown id, or an id under another parent, is 404 code 1002 "<Thing> does not exist.".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from zbmcp.sandbox import filters
from zbmcp.sandbox.errors import ZohoError, already_exists, invalid_value, not_found, required
from zbmcp.sandbox.fields import parse_bool, parse_id
from zbmcp.sandbox.filters import Filterable, ListSpec, Predicate
from zbmcp.sandbox.generic import answers, body, records
from zbmcp.sandbox.generic.data import RESOURCES, Resource, Route
from zbmcp.sandbox.records import OutboxEmail
from zbmcp.sandbox.rules.base import Call, Reply
from zbmcp.sandbox.store import OrgStore, Record


def of(route: Route) -> Resource:
    assert route.resource is not None, f"{route.method} {route.path} has no resource"
    return route.resource


def parents(route: Route, call: Call) -> tuple[str, ...] | None:
    """The parent ids the path names (None: it names none, so a record is found by its id alone)."""
    if route.parent_params is None:
        return None
    return tuple(call.params[name] for name in route.parent_params)


def record_id(route: Route, call: Call) -> str:
    assert route.id_param is not None, f"{route.method} {route.path} names no record"
    return call.params[route.id_param]


def target(route: Route, call: Call) -> Record:
    """The record a route below one acts on (404 code 1002 when it or a parent does not exist)."""
    return records.find(call.org, of(route), record_id(route, call), parents(route, call))


# -- lists ----------------------------------------------------------------------------------------------


class _AnyStatus(Mapping[str, Predicate]):
    """status=<value> keeps the records in that status, whatever the value (Zoho's files list few)."""

    def __getitem__(self, status: str) -> Predicate:
        return lambda record: str(record.get("status", "")).lower() == status

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _status_filter(value: str) -> Predicate:
    wanted = value.removeprefix("Status.").lower()
    return lambda record: str(record.get("status", "")).replace("_", "").lower() == wanted


def _always(record: Record) -> bool:
    return True


def _spec(route: Route, resource: Resource) -> ListSpec:
    """The list's filters from what Zoho's file documents for it: its query parameters, sort columns and
    filter_by values (Status.* filter by status; the others are accepted and not applied)."""
    documented = route.extra.get("filter_by") or []
    filter_by: dict[str, Predicate] = {"Status.All": _always}
    for value in documented:
        if value.startswith("Status.") and value != "Status.All":
            filter_by[value] = _status_filter(value)
        else:
            filter_by.setdefault(value, _always)
    return ListSpec(
        key=route.key or resource.list_key,
        report_name=(route.key or resource.list_key).replace("_", " ").title(),
        fields={name: Filterable(kind) for name, kind in route.extra.get("filters", {}).items()},
        sort_columns=frozenset({*route.extra.get("sort_columns", []), "created_time", "last_modified_time"}),
        default_sort="created_time",
        statuses=_AnyStatus(),
        filter_by=filter_by,
        search=resource.search,
    )


def list_records(route: Route, call: Call) -> Reply:
    resource, under = of(route), parents(route, call)
    if under:
        records.check_parents(call.org, resource, under)
    if route.kind == "list_all":
        under = None
    page = filters.run(_spec(route, resource), records.records(call.org, resource, under), call.query)
    return Reply(200, route.message, route.key or resource.list_key, page.rows, page.page_context)


def latest(route: Route, call: Call) -> Reply:
    """The last record under its parent: the last imported statement of a bank account."""
    resource, under = of(route), parents(route, call)
    if under:
        records.check_parents(call.org, resource, under)
    found = records.records(call.org, resource, under)
    if not found:
        raise not_found(resource.thing)
    return answers.record(route, resource, found[-1])


def by_ids(route: Route, call: Call) -> Reply:
    """Several records named in the query (`item_ids=1,2`), each of which must exist."""
    name = route.extra["query"]
    wanted = [part.strip() for part in call.query.get(name, "").split(",") if part.strip()]
    if not wanted:
        raise required(name)
    rows = [answers.shown(records.find(call.org, of(route), parse_id(item, name), None)) for item in wanted]
    context = {"page": 1, "per_page": len(rows), "has_more_page": False}
    return Reply(200, route.message, route.key or of(route).list_key, rows,
                 context if route.extra.get("paged") else None)


# -- writes ---------------------------------------------------------------------------------------------


def new_record(store: OrgStore, resource: Resource, under: tuple[str, ...], values: dict[str, Any]) -> Record:
    now = store.timestamp()
    record: Record = {resource.id_field: store.new_id(), **_parent_fields(resource, under), **values,
                      "created_time": now, "last_modified_time": now, "_parents": list(under)}
    if resource.status is not None and "status" not in values:
        record["status"] = resource.status
    return record


def _parent_fields(resource: Resource, under: tuple[str, ...]) -> dict[str, str]:
    """A record names its parents as Zoho's do: a task has its project_id."""
    named: dict[str, str] = {}
    current = resource
    for parent_id in reversed(under):
        if current.parent is None or current.parent not in RESOURCES:
            break
        current = RESOURCES[current.parent]
        named[current.id_field] = parent_id
    return named


def _create_parents(route: Route, call: Call) -> tuple[str, ...]:
    """The parents of a new record: from the path, or from a body field where Zoho puts it there."""
    from_body = route.extra.get("parent_from_body")
    if from_body is not None:
        value = call.data.get(from_body)
        if value in (None, ""):
            raise required(from_body)
        under: tuple[str, ...] = (parse_id(value, from_body),)
    else:
        under = parents(route, call) or ()
    if under:
        records.check_parents(call.org, of(route), under)
    return under


def create(route: Route, call: Call) -> Reply:
    resource = of(route)
    under = _create_parents(route, call)
    values = body.clean(route, call.org, call.body, creating=True)
    record = new_record(call.org, resource, under, values)
    if route.extra.get("invitation"):
        call.env.outbox.append(invitation(call, record))
    call.org.add_generic(resource.path, record[resource.id_field], record)
    return answers.record(route, resource, record)


def create_many(route: Route, call: Call) -> Reply:
    """One record per element of a body list (users assigned to a project), keyed by the id each names."""
    resource, key, id_from = of(route), route.extra["items"], route.extra["id_from"]
    under = _create_parents(route, call)
    values = body.clean(route, call.org, call.body, creating=True)
    elements = values.pop(key, [])
    taken = {record[resource.id_field] for record in records.records(call.org, resource, under)}
    made = []
    for index, element in enumerate(elements):
        name = f"{key}[{index}].{id_from}"
        if not isinstance(element, dict):
            raise invalid_value(f"{key}[{index}]")
        new_id = parse_id(element.get(id_from), name)
        source = _referenced(call.org, id_from, new_id, name)
        if new_id in taken:
            raise already_exists(f"{resource.thing} {new_id}")
        taken.add(new_id)
        record = new_record(call.org, resource, under, {**values, **source, **element})
        record[resource.id_field] = new_id
        made.append(record)
    for record in made:
        call.org.add_generic(resource.path, record[resource.id_field], record)
    return Reply(route.status, route.message, route.key, [answers.shown(record) for record in made])


def _referenced(store: OrgStore, name: str, value: str, path: str) -> dict[str, Any]:
    """The fields a project user copies from the organization's user: name, email."""
    if name not in records.REFERENCES:
        return {}
    try:
        found = records.find(store, RESOURCES[records.REFERENCES[name][0]], value, None)
    except ZohoError:
        raise invalid_value(path) from None
    return {key: found[key] for key in ("name", "email") if key in found}


def get(route: Route, call: Call) -> Reply:
    return answers.record(route, of(route), target(route, call))


def update(route: Route, call: Call) -> Reply:
    record = target(route, call)
    values = body.clean(route, call.org, call.body, creating=False)
    record.update(values, last_modified_time=call.org.timestamp())
    return answers.record(route, of(route), record)


def delete(route: Route, call: Call) -> Reply:
    record = target(route, call)
    remove(call.org, of(route), [record])
    return Reply(route.status, route.message)


def remove(store: OrgStore, resource: Resource, doomed: list[Record]) -> None:
    """Delete records and every record below them (a project's tasks, users and comments)."""
    for record in doomed:
        record_id = record[resource.id_field]
        store.generic.get(resource.path, {}).pop(record_id, None)
        for path, children in store.generic.items():
            if path.startswith(resource.path + "/{}/"):
                for child_id in [key for key, child in children.items()
                                 if len(child["_parents"]) > resource.depth
                                 and child["_parents"][resource.depth] == record_id]:
                    del children[child_id]


def bulk_delete(route: Route, call: Call) -> Reply:
    """Every record named in the query (all of them first, so an unknown one deletes none), or, where
    Zoho's file says so, every record of the collection."""
    resource, under = of(route), parents(route, call)
    if route.extra.get("all"):
        doomed = records.records(call.org, resource, under)
    else:
        name = route.extra["ids_param"]
        wanted = [part.strip() for part in call.query.get(name, "").split(",") if part.strip()]
        if not wanted:
            raise required(name)
        doomed = [records.find(call.org, resource, parse_id(item, name), under) for item in wanted]
    remove(call.org, resource, doomed)
    return Reply(route.status, route.message)


def bulk_update(route: Route, call: Call) -> Reply:
    """Update by a custom field's unique value (X-Unique-Identifier-Key and -Value; X-Upsert: true creates
    when none has it), or the records whose ids the body names."""
    resource, under = of(route), parents(route, call) or ()
    ids_field = route.extra.get("ids_field")
    if ids_field is not None:
        return _update_listed(route, call, ids_field)
    key = call.headers.get("x-unique-identifier-key", "").strip()
    value = call.headers.get("x-unique-identifier-value", "").strip()
    if not key:
        raise required("X-Unique-Identifier-Key")
    if not value:
        raise required("X-Unique-Identifier-Value")
    found = next((record for record in records.records(call.org, resource, under)
                  if _custom_value(record, key) == value), None)
    if found is None:
        if not parse_bool(call.headers.get("x-upsert", "false"), "X-Upsert"):
            raise not_found(resource.thing)
        reply = create(route, call)
        made = records.records(call.org, resource, under)[-1]  # it carries the value it was found by
        made.setdefault("custom_fields", []).append({"api_name": key, "value": value})
        return answers.record(route, resource, made) if route.key else reply
    found.update(body.clean(route, call.org, call.body, creating=False),
                 last_modified_time=call.org.timestamp())
    return answers.record(route, resource, found)


def _custom_value(record: Record, key: str) -> str | None:
    if record.get(key) is not None:
        return str(record[key])
    for custom in record.get("custom_fields") or []:
        if isinstance(custom, dict) and key in (custom.get("api_name"), custom.get("customfield_id")):
            return str(custom.get("value"))
    return None


def _update_listed(route: Route, call: Call, ids_field: str) -> Reply:
    raw = call.data.get(ids_field)
    wanted = raw if isinstance(raw, list) else [part for part in str(raw or "").split(",") if part.strip()]
    if not wanted:
        raise required(ids_field)
    resource, under = of(route), parents(route, call)
    found = [records.find(call.org, resource, parse_id(item, ids_field), under) for item in wanted]
    values = body.clean(route, call.org, call.body, creating=False)
    values.pop(ids_field, None)
    for record in found:
        record.update(values, last_modified_time=call.org.timestamp())
    return Reply(route.status, route.message, route.key, [answers.shown(record) for record in found])


def invitation(call: Call, user: Record) -> OutboxEmail:
    """The email Zoho sends a user invited to the organization (kept in the outbox, never sent)."""
    org = call.org.organization
    address = str(user.get("email") or "")
    if not address:
        raise required("email")
    return OutboxEmail(
        organization_id=org.organization_id, document_type="user_invitation",
        document_id=str(user.get("user_id", "")), document_number=str(user.get("name") or address),
        to=[address], subject=f"Invitation to join {org.name} in Zoho Books",
        body=f"{org.contact_name} has invited you to {org.name} in Zoho Books.", at=call.env.clock())


# -- one record per organization ------------------------------------------------------------------------


def _only(store: OrgStore, resource: Resource) -> Record | None:
    found = records.records(store, resource, ())
    return found[0] if found else None


def singleton_get(route: Route, call: Call) -> Reply:
    found = _only(call.org, of(route))
    if found is None:
        raise not_found(of(route).thing)
    return answers.record(route, of(route), found)


def singleton_put(route: Route, call: Call) -> Reply:
    resource = of(route)
    found = _only(call.org, resource)
    values = body.clean(route, call.org, call.body, creating=found is None)
    if found is None:
        found = new_record(call.org, resource, (), values)
        call.org.add_generic(resource.path, found[resource.id_field], found)
    else:
        found.update(values, last_modified_time=call.org.timestamp())
    return answers.record(route, resource, found)


def singleton_delete(route: Route, call: Call) -> Reply:
    found = _only(call.org, of(route))
    if found is None:
        raise not_found(of(route).thing)
    remove(call.org, of(route), [found])
    return Reply(route.status, route.message)
