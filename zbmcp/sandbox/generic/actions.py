"""What the generic emulation does to one record: status actions, field patches, emails, attachments, a
project's clone, a time entry's timer; and reads of what it does not keep (views)."""

from __future__ import annotations

from typing import Any

from zbmcp.sandbox import fields
from zbmcp.sandbox.bodies import LIST
from zbmcp.sandbox.errors import invalid_value, not_found, required, rule
from zbmcp.sandbox.generic import answers, body, crud, records
from zbmcp.sandbox.generic.crud import of, target
from zbmcp.sandbox.generic.data import Resource, Route
from zbmcp.sandbox.records import OutboxEmail
from zbmcp.sandbox.rules.base import Call, Reply, primary_email
from zbmcp.sandbox.store import OrgStore, Record

def set_status(route: Route, call: Call) -> Reply:
    """POST .../status/void, /approve, /submit, /active...: the record takes the status the path says."""
    record = target(route, call)
    value = route.extra["value"]
    own = records.OWNED.get(of(route).path)
    if own is not None and own.status_field == "is_active":
        record["is_active"] = value == "active"
    else:
        if own is None:  # a void's reason, a match's transactions: kept on the record as sent
            record.update(body.clean(route, call.org, call.body, creating=False))
        record["status"] = value
    record["last_modified_time"] = call.org.timestamp()
    return answers.record(route, of(route), record if route.key else None)


def patch(route: Route, call: Call) -> Reply:
    """Set one field: an address, the custom fields, the template, a flag; `markasprimary` unmarks the
    record's siblings."""
    record = target(route, call)
    name, source = route.extra["field"], route.extra["source"]
    value = _patch_value(route, call, source)
    if value is True and name.startswith("is_primary"):
        for sibling in records.records(call.org, of(route), tuple(record.get("_parents", ()))):
            sibling[name] = False
    record[name] = value
    record["last_modified_time"] = call.org.timestamp()
    if route.key == name:
        return Reply(route.status, route.message, route.key, value)
    return answers.record(route, of(route), record if route.key else None)


def _patch_value(route: Route, call: Call, source: Any) -> Any:
    if not isinstance(source, str):
        return source
    if source == "body":
        return body.clean(route, call.org, call.body, creating=False)
    if source == "param":
        return call.params[route.path.rsplit("{", 1)[1].rstrip("}")]
    if source.startswith("query."):
        name = source.removeprefix("query.")
        value = call.query.get(name)
        if value in (None, ""):
            raise required(name)
        return fields.parse_bool(value, name)
    name = source.removeprefix("body.")
    value = call.data.get(LIST, call.data.get(name))
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        raise invalid_value(name) if value is not None else required(name)
    return value


def email(route: Route, call: Call) -> Reply:
    """An email about the record (to_mail_ids, else its contact's primary address), or the invitation of a
    user; kept in the sandbox's outbox, never sent."""
    record = target(route, call)
    if route.extra.get("invitation"):
        call.env.outbox.append(crud.invitation(call, record))
        return Reply(route.status, route.message)
    data = body.clean(route, call.org, call.body, creating=False)
    to = fields.emails(data, "to_mail_ids") or []
    if not to:
        fallback = _contact_email(call.org, record)
        if fallback is None:
            raise required("to_mail_ids")
        to = [fallback]
    resource = of(route)
    subject, text = _default_message(call.org, resource, record)
    call.env.outbox.append(OutboxEmail(
        organization_id=call.org.organization_id, document_type=_document_type(route, resource),
        document_id=records.id_of(resource, record), document_number=_number(resource, record), to=to,
        cc=fields.emails(data, "cc_mail_ids") or [], subject=fields.text(data, "subject") or subject,
        body=fields.text(data, "body") or text, at=call.env.clock()))
    return Reply(route.status, route.message)


def _document_type(route: Route, resource: Resource) -> str:
    """What the email is about: a payment reminder or a statement, else the record itself ("salesorder")."""
    if route.path.endswith("/paymentreminder"):
        return "payment_reminder"
    if route.path.endswith("/statements/email"):
        return "statement"
    return resource.record_key


def email_content(route: Route, call: Call) -> Reply:
    """GET .../email: the email the sandbox would write (recipient, subject, text) in Zoho's shape."""
    record = target(route, call)
    subject, text = _default_message(call.org, of(route), record)
    address = _contact_email(call.org, record)
    contacts = [{"email": address, "selected": True}] if address else []
    return answers.nothing(route, {"subject": subject, "body": text, "to_contacts": contacts,
                                   "from_emails": [{"email": call.org.organization.email,
                                                    "user_name": call.org.organization.contact_name}]})


def _contact_email(store: OrgStore, record: Record) -> str | None:
    """The primary address of the record's contact (or of the record, when it is a contact)."""
    if "contact_persons" in record and "contact_type" in record:
        return primary_email(record)
    for key in ("customer_id", "vendor_id", "contact_id"):
        contact = store.contacts.get(str(record.get(key) or ""))
        if contact is not None:
            return primary_email(contact)
    return None


def _number(resource: Resource, record: Record) -> str:
    for key in (f"{resource.record_key}_number", "contact_name", "name"):
        if record.get(key):
            return str(record[key])
    return records.id_of(resource, record)


def _default_message(store: OrgStore, resource: Resource, record: Record) -> tuple[str, str]:
    org = store.organization.name
    label = resource.thing if resource.path not in records.OWNED else records.OWNED[resource.path].thing
    number = _number(resource, record)
    return f"{label} - {number} from {org}", f"Please find attached {label.lower()} {number}.\n\n{org}"


def view(route: Route, call: Call) -> Reply:
    """A read of something the sandbox does not keep (a PDF, a history, a forecast): Zoho's shape, empty,
    once the record it is about is found."""
    if route.resource is not None and route.id_param is not None:
        target(route, call)
    return answers.nothing(route)


def action(route: Route, call: Call) -> Reply:
    """Anything else done: the record is found and the body checked; nothing the sandbox keeps changes."""
    if route.resource is not None and route.id_param is not None:
        target(route, call)
    if route.resource is not None:
        body.clean(route, call.org, call.body, creating=False)
    return answers.nothing(route)


# -- attachments: their names and ids are kept, not the files --------------------------------------------


def attach(route: Route, call: Call) -> Reply:
    record, resource = target(route, call), of(route)
    documents = records.documents_of(resource)
    name = call.query.get("file_name") or call.query.get("attachment") or "attachment"
    document = crud.new_record(call.org, documents, (records.id_of(resource, record),), {"file_name": name})
    call.org.add_generic(documents.path, document[documents.id_field], document)
    return answers.nothing(route)


def _last_document(route: Route, call: Call) -> tuple[Resource, Record]:
    record, resource = target(route, call), of(route)
    documents = records.documents_of(resource)
    attached = records.records(call.org, documents, (records.id_of(resource, record),))
    if not attached:
        raise not_found("Attachment")
    return documents, attached[-1]


def attachment(route: Route, call: Call) -> Reply:
    _last_document(route, call)
    return answers.nothing(route)


def detach(route: Route, call: Call) -> Reply:
    documents, document = _last_document(route, call)
    crud.remove(call.org, documents, [document])
    return Reply(route.status, route.message)


# -- a few of their own ------------------------------------------------------------------------------------


def clone(route: Route, call: Call) -> Reply:
    """A copy of the record with a new id; the body's fields (a new name) over the copy's."""
    record, resource = target(route, call), of(route)
    own = (resource.id_field, "created_time", "last_modified_time")
    copied = {key: value for key, value in record.items() if not key.startswith("_") and key not in own}
    values = body.clean(route, call.org, call.body, creating=False)
    made = crud.new_record(call.org, resource, tuple(record["_parents"]), {**copied, **values})
    call.org.add_generic(resource.path, made[resource.id_field], made)
    return answers.record(route, resource, made)


def me(route: Route, call: Call) -> Reply:
    """GET /users/me: the organization's user the token belongs to."""
    found = records.records(call.org, of(route), ())
    user = next((record for record in found if record.get("user_id") == call.user_id), None)
    if user is None:
        raise not_found(of(route).thing)
    return answers.record(route, of(route), user)


def timer_start(route: Route, call: Call) -> Reply:
    record = target(route, call)
    if any(entry.get("timer_started_at") for entry in records.records(call.org, of(route), None)):
        raise rule("A timer is already running. Stop it before you start another.")
    record["timer_started_at"] = call.org.timestamp()
    return answers.record(route, of(route), record)


def _running(store: OrgStore, resource: Resource) -> Record | None:
    return next((entry for entry in records.records(store, resource, None) if entry.get("timer_started_at")),
                None)


def timer_stop(route: Route, call: Call) -> Reply:
    entry = _running(call.org, of(route))
    if entry is None:
        raise rule("There is no timer running.")
    entry["timer_started_at"] = ""
    entry["last_modified_time"] = call.org.timestamp()
    return answers.record(route, of(route), entry)


def timer_running(route: Route, call: Call) -> Reply:
    entry = _running(call.org, of(route))
    return answers.record(route, of(route), entry) if entry else answers.nothing(route)
