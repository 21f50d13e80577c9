"""Contact persons (Zoho's contact-persons module): the persons on a contact, as their own resource.

They live on their contact (contacts.py keeps them under contact_persons), so every write here is an update
of the contact through its own rule: the same checks, and a portal invitation for a person given access.
Messages are Zoho's file's.
"""

from __future__ import annotations

from typing import Any

from zbmcp.sandbox import filters
from zbmcp.sandbox.errors import not_found, required
from zbmcp.sandbox.fields import ident
from zbmcp.sandbox.filters import ListSpec
from zbmcp.sandbox.rules import contacts
from zbmcp.sandbox.rules.base import Call, Reply, existing
from zbmcp.sandbox.store import Record

LIST = ListSpec(key="contact_persons", report_name="Contact Persons", fields={},
                sort_columns=frozenset({"first_name", "last_name", "email"}), default_sort="first_name",
                default_order="A", search=("first_name", "last_name", "email"))
_THING = "Contact person"


def _owner(call: Call, person_id: str) -> tuple[Record, Record]:
    """The contact a person is on, and the person."""
    for contact in call.org.contacts.values():
        for person in contact.get("contact_persons", []):
            if str(person["contact_person_id"]) == person_id:
                return contact, person
    raise not_found(_THING)


def _save(call: Call, contact: Record, persons: list[dict[str, Any]]) -> Record:
    """Write the contact's persons through the contacts rule (its validation, its invitations)."""
    reply = contacts.update_contact(Call(call.env, call.store, {"contact_id": contact["contact_id"]}, {},
                                         {"contact_persons": persons}))
    saved: Record = reply.value
    return saved


def list_contact_persons(call: Call) -> Reply:
    contact = existing(call.org.contacts, call.params["contact_id"], "Contact")
    page = filters.run(LIST, list(contact.get("contact_persons", [])), call.query)
    return Reply(200, "success", "contact_persons", page.rows, page.page_context)


def get_contact_person(call: Call) -> Reply:
    contact = existing(call.org.contacts, call.params["contact_id"], "Contact")
    person = next((p for p in contact.get("contact_persons", [])
                   if str(p["contact_person_id"]) == call.params["contact_person_id"]), None)
    if person is None:
        raise not_found(_THING)
    return Reply(200, "success", "contact_person", dict(person))


def create_contact_person(call: Call) -> Reply:
    contact_id = ident(call.data, "contact_id", need=True)
    assert contact_id is not None
    contact = existing(call.org.contacts, contact_id, "Contact")
    if not call.data.get("first_name"):
        raise required("first_name")  # the one field Zoho's file requires
    before = {str(person["contact_person_id"]) for person in contact.get("contact_persons", [])}
    new = {key: value for key, value in call.data.items() if key != "contact_id"}
    saved = _save(call, contact, [*contact.get("contact_persons", []), new])
    person = next(p for p in saved["contact_persons"] if str(p["contact_person_id"]) not in before)
    return Reply(201, "The contactperson has been Created", "contact_person", person)


def update_contact_person(call: Call) -> Reply:
    contact, person = _owner(call, call.params["contact_person_id"])
    changed = {**person, **{key: value for key, value in call.data.items() if key != "contact_id"}}
    persons = [changed if p is person else p for p in contact["contact_persons"]]
    saved = _save(call, contact, persons)
    updated = next(p for p in saved["contact_persons"]
                   if str(p["contact_person_id"]) == call.params["contact_person_id"])
    return Reply(200, "The contactperson details has been updated.", "contact_person", updated)


def delete_contact_person(call: Call) -> Reply:
    contact, person = _owner(call, call.params["contact_person_id"])
    _save(call, contact, [p for p in contact["contact_persons"] if p is not person])
    return Reply(200, "The contact person has been deleted.")


def mark_primary(call: Call) -> Reply:
    contact, person = _owner(call, call.params["contact_person_id"])
    _save(call, contact, [{**p, "is_primary_contact": p is person} for p in contact["contact_persons"]])
    return Reply(200, "This contact person has been marked as your primary contact person.")
