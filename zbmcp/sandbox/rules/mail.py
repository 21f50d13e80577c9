"""The email endpoints: they never send anything, they append to the sandbox's outbox (§4.1, §4.3 "Email")."""

from __future__ import annotations

from zbmcp.sandbox import fields
from zbmcp.sandbox.errors import required
from zbmcp.sandbox.records import OutboxEmail
from zbmcp.sandbox.rules.base import Call, primary_email
from zbmcp.sandbox.store import Record


def compose(call: Call, document_type: str, document: Record, number_field: str, *,
            custom: bool = False) -> OutboxEmail:
    """Validate the email body and build the outbox entry; nothing is recorded until the caller commits it.

    to_mail_ids is required in the OAS, while the endpoint description says an empty body uses the default
    template (§4.1). The sandbox takes the middle way: without to_mail_ids it writes to the customer's
    primary contact email, and refuses only when there is none.

    custom: the email a create with send=true makes. Its body is the document, so it has no to_mail_ids;
    custom_subject and custom_body, when given, are the email's subject and text (Zoho's files list them
    without a description; the sandbox reads them so).
    """
    store = call.org
    if custom:
        data = call.data
        body = {own: data[key] for key, own in (("custom_subject", "subject"), ("custom_body", "body"))
                if key in data}
    else:
        body = call.data
    to = fields.emails(body, "to_mail_ids") or []
    cc = fields.emails(body, "cc_mail_ids") or []
    if not to:
        contact = store.contacts.get(str(document["customer_id"]))
        fallback = primary_email(contact) if contact else None
        if fallback is None:
            raise required("to_mail_ids")
        to = [fallback]
    number = str(document[number_field])
    org_name = store.organization.name
    label = document_type.capitalize()
    return OutboxEmail(
        organization_id=store.organization_id,
        document_type=document_type,
        document_id=str(document[f"{document_type}_id"]),
        document_number=number,
        to=to,
        cc=cc,
        subject=fields.text(body, "subject") or f"{label} - {number} from {org_name}",
        body=fields.text(body, "body")
        or f"Dear {document['customer_name']},\n\nPlease find attached {document_type} "
           f"{number}.\n\n{org_name}",
        at=call.env.clock(),
    )
