"""The reviewed overlay of scripts/sandbox_routes.py: what Zoho's paths do not say about its operations, each
entry with its reason. A new Zoho module needs an entry here only where its paths are not like the others'."""

from __future__ import annotations

from typing import Any

# Paths Zoho spells two ways for one collection: the singular (`/invoice/{id}/customfields`) and underscores
# (`/recurring_bills/{id}`) are found by rule; these are the rest.
PATH_ALIASES = {
    "/banktransactions/uncategorized/{}": "/banktransactions/{}",  # statement lines are bank transactions
    "/contacts/contactpersons": "/contacts/{}/contactpersons",  # the contact is named in the body
}

# A status action's path word -> the status it sets.
STATUS_WORDS = {
    "approve": "approved", "submit": "pending_approval", "reject": "rejected", "active": "active",
    "inactive": "inactive", "sent": "sent", "void": "void", "draft": "draft", "open": "open",
    "accepted": "accepted", "declined": "declined", "billed": "billed", "cancelled": "cancelled",
    "cancel": "cancelled", "publish": "published", "stop": "stopped", "resume": "active", "sell": "sold",
    "writeoff": "written_off", "exclude": "excluded", "restore": "uncategorized", "match": "matched",
    "unmatch": "unmatched", "categorize": "categorized", "uncategorize": "uncategorized",
}

# A patch's path (after the record) -> the record field it sets, and from what: "body" (the body, as an
# object), "param" (the path's last parameter), a field of the body, or a fixed value.
PATCHES: dict[str, tuple[str, Any]] = {
    "address/billing": ("billing_address", "body"),
    "address/shipping": ("shipping_address", "body"),
    "customfields": ("custom_fields", "body.custom_fields"),
    "templates/{}": ("template_id", "param"),
    "substatus/{}": ("current_sub_status", "param"),
    "paymentreminder/enable": ("payment_reminder_enabled", True),
    "paymentreminder/disable": ("payment_reminder_enabled", False),
    "track1099": ("track_1099", True),
    "untrack1099": ("track_1099", False),
    "attachment": ("can_send_in_email", "query.can_send_in_email"),
    "markasprimary": ("is_primary", True),
}

# Operations whose path does not say what they do: operationId -> kind (and what it needs).
KINDS: dict[str, dict[str, Any]] = {
    "list_credit_note_refunds GET /creditnotes/refunds": {"kind": "list_all",
                                                          "resource": "/creditnotes/{}/refunds"},
    "list_vendor_credit_refunds GET /vendorcredits/refunds": {"kind": "list_all",
                                                              "resource": "/vendorcredits/{}/refunds"},
    "get_current_user": {"kind": "me", "resource": "/users"},
    "get_running_timer": {"kind": "timer_running", "resource": "/projects/timeentries"},
    "stop_entry_timer": {"kind": "timer_stop", "resource": "/projects/timeentries"},
    "start_entry_timer": {"kind": "timer_start"},
    "clone_project": {"kind": "clone"},
    "get_opening_balance": {"kind": "singleton_get", "resource": "/settings/openingbalances"},
    "create_opening_balance": {"kind": "singleton_put", "resource": "/settings/openingbalances"},
    "update_opening_balance": {"kind": "singleton_put", "resource": "/settings/openingbalances"},
    "delete_opening_balance": {"kind": "singleton_delete", "resource": "/settings/openingbalances"},
    "get_bill_attachment": {"kind": "attachment"},
    "get_invoice_attachment": {"kind": "attachment"},
    "get_purchase_order_attachment": {"kind": "attachment"},
    "get_retainer_invoice_attachment": {"kind": "attachment"},
    "get_sales_order_attachment": {"kind": "attachment"},
    "get_expense_receipt": {"kind": "attachment"},
    "add_bill_attachment": {"kind": "attach"},
    "add_invoice_attachment": {"kind": "attach"},
    "add_purchase_order_attachment": {"kind": "attach"},
    "add_retainer_invoice_attachment": {"kind": "attach"},
    "add_sales_order_attachment": {"kind": "attach"},
    "add_journal_attachment": {"kind": "attach"},
    "add_expense_attachment": {"kind": "attach"},
    "create_expense_receipt": {"kind": "attach"},
    "delete_bill_attachment": {"kind": "detach"},
    "delete_invoice_attachment": {"kind": "detach"},
    "delete_purchase_order_attachment": {"kind": "detach"},
    "delete_sales_order_attachment": {"kind": "detach"},
    "delete_expense_receipt": {"kind": "detach"},
    "invite_project_user": {"kind": "create", "resource": "/projects/{}/users", "invitation": True},
    "add_project_user": {"kind": "create_many", "resource": "/projects/{}/users", "items": "users",
                         "id_from": "user_id"},
    "delete_invoice_expense_receipt": {"kind": "detach", "resource": "/expenses"},
    "list_item_details": {"kind": "by_ids", "resource": "/items", "query": "item_ids"},
    "import_bank_statements": {"kind": "create", "resource": "/bankaccounts/{}/statement",
                               "parent_from_body": "account_id"},
    "get_last_imported_bank_statement": {"kind": "latest", "resource": "/bankaccounts/{}/statement"},
    "create_user": {"kind": "create", "invitation": True},
    "delete_custom_module": {"kind": "bulk_delete", "all": True},  # "to delete a custom module": its records
    "bulk_update_custom_module_records": {"kind": "bulk_update", "ids_field": "module_record_id"},
    "invite_user": {"kind": "email", "invitation": True},
}

_BOOKS = "it would change the books, which the sandbox derives from its rule modules; rules come in #24"
_DERIVED = "its answer is derived from the books, which only the sandbox's rule modules keep"
# Operations the generic emulation cannot do without pretending: operationId -> why. Each answers
# 400 code 9998 "The sandbox does not emulate <operation> yet: <why>."
NOT_EMULATED: dict[str, str] = {
    "delete_invoice_payment": _BOOKS,
    "delete_bill_payment": _BOOKS,
    "categorize_bank_transaction_as_payment_refund": _BOOKS,
    "categorize_as_vendor_payment_refund": _BOOKS,
    "create_invoice_from_salesorder": _BOOKS,
    "map_invoice_with_salesorder": "it links invoices to sales orders, which the invoice rules do not model",
    "delete_chart_of_account_transaction": _BOOKS,
    "list_invoice_payments": _DERIVED,
    "list_bill_payments": _DERIVED,
    "list_chart_of_account_transactions": _DERIVED,
    "list_contact_refunds": _DERIVED,
    "get_unused_retainer_payments": _DERIVED,
    "list_project_invoices": _DERIVED,
    "convert_purchase_order_to_bill": _DERIVED,
    "list_base_currency_adjustment_accounts": _DERIVED,
    "enable_contact_portal": "portal invitations are the contacts rules': set enable_portal with PUT "
                             "/contacts/{contact_id}",
    "email_invoices": "emailing an invoice marks it sent, which the invoice rules do: use POST "
                      "/invoices/{invoice_id}/email",
    "bulk_invoice_reminder": "the invoice rules do not model payment reminders",
    "email_multiple_estimates": "emailing an estimate marks it sent, which the estimate rules do: use POST "
                                "/estimates/{estimate_id}/email",
    "import_customer_using_crm_account_id": "the sandbox has no Zoho CRM to import from",
    "import_customer_using_crm_contact_id": "the sandbox has no Zoho CRM to import from",
    "import_vendor_using_crm_vendor_id": "the sandbox has no Zoho CRM to import from",
    "POST /crm/item/{crm_product_id}/import": "the sandbox has no Zoho CRM to import from",
    "create_organization": "the sandbox's organizations are fixed (its seed data)",
    "update_organization": "the sandbox's organizations are fixed (its seed data)",
}

# Record keys and list keys where Zoho's files slip (the key the API is known to answer with, and why).
KEY_FIXES = {
    # ../shared/zoho-oas/README.md: it is customerpayments, as Zoho's Java wrapper and clients read it
    "customer_payments": "customerpayments",
    "fissed-asset": "fixed_asset",  # get_fixed_asset's typo: every other answer says fixed_asset
}
# Names for "<Thing> does not exist." (read from the id's name) where Zoho's names run words together.
THINGS = {
    "creditnote": "Credit note", "retainerinvoice": "Retainer invoice", "reatinerinvoice": "Retainer invoice",
    "vendorpayment_refund": "Refund", "creditnote_refund": "Refund", "creditnote_invoice": "Credited invoice",
    "vendor_credit_bill": "Credited bill", "module_record": "Record", "recurring_bill": "Recurring bill",
    "opening_balance": "Opening balance", "salesorder": "Sales Order", "purchaseorder": "Purchase Order",
}
# Id fields Zoho's records carry under another name than their path's parameter.
ID_FIELDS = {"/{}": "module_record_id"}  # a custom module's record; its path says {module_id}
