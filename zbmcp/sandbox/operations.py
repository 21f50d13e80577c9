"""The sandbox's own route table: every /books/v3 operation, the scope Zoho requires for it, and its handler.

Scopes are copied from Zoho's OpenAPI files (§3), independently of zbmcp's tool manifests, so the sandbox is
a check on them: mark-sent and email take the module's CREATE scope; items and organizations use
ZohoBooks.settings, bank accounts ZohoBooks.banking, the chart of accounts ZohoBooks.accountants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from zbmcp.sandbox.rules import (
    accounts,
    attachments,
    bankcategorize,
    bankfeed,
    bankmatch,
    bills,
    cash_flow,
    contact_persons,
    contacts,
    creditnotes,
    estimates,
    expenses,
    invoices,
    items,
    journals,
    ledger_reports,
    orders,
    organizations,
    payments,
    reports,
    taxes,
    vendorcredits,
    vendorpayments,
    webhooks,
)
from zbmcp.sandbox.rules import excess
from zbmcp.sandbox.rules.base import Handler
from zbmcp.sandbox.rules.upsert import upsert

Body = Literal["none", "optional", "required", "list"]  # list: a JSON array (or an object)


@dataclass(frozen=True)
class Operation:
    method: str
    template: str  # relative to /books/v3, e.g. "/invoices/{invoice_id}"
    scope: str
    handler: Handler
    body: Body = "none"
    needs_org: bool = True
    param_patterns: tuple[tuple[str, str], ...] = ()  # a parameter narrower than one path segment

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        # compiled on first use: the sandbox has ~560 routes, a request tries a few of them
        narrow = dict(self.param_patterns)
        regex = re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m[1]}>{narrow.get(m[1], '[^/]+')})", self.template)
        return re.compile(f"^{regex}$")

    @property
    def key(self) -> str:
        """"POST /invoices/{invoice_id}/email": how faults and records name a route."""
        return f"{self.method} {self.template}"


def _op(method: str, template: str, scope: str, handler: Handler, body: Body = "none", *,
        needs_org: bool = True) -> Operation:
    return Operation(method, template, scope, handler, body, needs_org)


OPERATIONS: tuple[Operation, ...] = (
    _op("GET", "/organizations", "ZohoBooks.settings.READ", organizations.list_organizations,
        needs_org=False),
    _op("GET", "/organizations/{organization_id}", "ZohoBooks.settings.READ", organizations.get_organization,
        needs_org=False),
    # Invoices (§4.1)
    _op("GET", "/invoices", "ZohoBooks.invoices.READ", invoices.list_invoices),
    _op("POST", "/invoices", "ZohoBooks.invoices.CREATE", invoices.create_invoice, "required"),
    _op("GET", "/invoices/{invoice_id}", "ZohoBooks.invoices.READ", invoices.get_invoice),
    _op("PUT", "/invoices/{invoice_id}", "ZohoBooks.invoices.UPDATE", invoices.update_invoice, "required"),
    _op("DELETE", "/invoices/{invoice_id}", "ZohoBooks.invoices.DELETE", invoices.delete_invoice),
    _op("POST", "/invoices/{invoice_id}/status/sent", "ZohoBooks.invoices.CREATE", invoices.mark_sent),
    _op("POST", "/invoices/{invoice_id}/status/void", "ZohoBooks.invoices.CREATE", invoices.mark_void),
    _op("POST", "/invoices/{invoice_id}/status/draft", "ZohoBooks.invoices.CREATE", invoices.mark_draft),
    _op("POST", "/invoices/{invoice_id}/email", "ZohoBooks.invoices.CREATE", invoices.email_invoice,
        "optional"),
    # Contacts (§4.2)
    _op("GET", "/contacts", "ZohoBooks.contacts.READ", contacts.list_contacts),
    _op("POST", "/contacts", "ZohoBooks.contacts.CREATE", contacts.create_contact, "required"),
    _op("GET", "/contacts/{contact_id}", "ZohoBooks.contacts.READ", contacts.get_contact),
    _op("PUT", "/contacts/{contact_id}", "ZohoBooks.contacts.UPDATE", contacts.update_contact, "required"),
    _op("DELETE", "/contacts/{contact_id}", "ZohoBooks.contacts.DELETE", contacts.delete_contact),
    # Contact persons: on their contact, through its rule
    _op("GET", "/contacts/{contact_id}/contactpersons", "ZohoBooks.contacts.READ",
        contact_persons.list_contact_persons),
    _op("GET", "/contacts/{contact_id}/contactpersons/{contact_person_id}", "ZohoBooks.contacts.READ",
        contact_persons.get_contact_person),
    _op("POST", "/contacts/contactpersons", "ZohoBooks.contacts.CREATE",
        contact_persons.create_contact_person, "required"),
    _op("PUT", "/contacts/contactpersons/{contact_person_id}", "ZohoBooks.contacts.UPDATE",
        contact_persons.update_contact_person, "required"),
    _op("DELETE", "/contacts/contactpersons/{contact_person_id}", "ZohoBooks.contacts.DELETE",
        contact_persons.delete_contact_person),
    _op("POST", "/contacts/contactpersons/{contact_person_id}/primary", "ZohoBooks.contacts.CREATE",
        contact_persons.mark_primary),
    # Estimates (§4.3)
    _op("GET", "/estimates", "ZohoBooks.estimates.READ", estimates.list_estimates),
    _op("POST", "/estimates", "ZohoBooks.estimates.CREATE", estimates.create_estimate, "required"),
    _op("GET", "/estimates/{estimate_id}", "ZohoBooks.estimates.READ", estimates.get_estimate),
    _op("POST", "/estimates/{estimate_id}/email", "ZohoBooks.estimates.CREATE", estimates.email_estimate,
        "optional"),
    # Sales orders (§4.4) and purchase orders (§4.6)
    _op("GET", "/salesorders", "ZohoBooks.salesorders.READ", orders.list_salesorders),
    _op("POST", "/salesorders", "ZohoBooks.salesorders.CREATE", orders.create_salesorder, "required"),
    _op("GET", "/salesorders/{salesorder_id}", "ZohoBooks.salesorders.READ", orders.get_salesorder),
    _op("GET", "/purchaseorders", "ZohoBooks.purchaseorders.READ", orders.list_purchaseorders),
    _op("POST", "/purchaseorders", "ZohoBooks.purchaseorders.CREATE", orders.create_purchaseorder,
        "required"),
    _op("GET", "/purchaseorders/{purchase_order_id}", "ZohoBooks.purchaseorders.READ",
        orders.get_purchaseorder),
    # Bills (§4.5) and expenses (§4.7)
    _op("GET", "/bills", "ZohoBooks.bills.READ", bills.list_bills),
    _op("POST", "/bills", "ZohoBooks.bills.CREATE", bills.create_bill, "required"),
    _op("GET", "/bills/{bill_id}", "ZohoBooks.bills.READ", bills.get_bill),
    _op("GET", "/expenses", "ZohoBooks.expenses.READ", expenses.list_expenses),
    _op("POST", "/expenses", "ZohoBooks.expenses.CREATE", expenses.create_expense, "required"),
    _op("GET", "/expenses/{expense_id}", "ZohoBooks.expenses.READ", expenses.get_expense),
    # Customer payments (§4.8)
    _op("GET", "/customerpayments", "ZohoBooks.customerpayments.READ", payments.list_payments),
    _op("POST", "/customerpayments", "ZohoBooks.customerpayments.CREATE", payments.create_payment,
        "required"),
    _op("GET", "/customerpayments/{payment_id}", "ZohoBooks.customerpayments.READ", payments.get_payment),
    _op("DELETE", "/customerpayments/{payment_id}", "ZohoBooks.customerpayments.DELETE",
        payments.delete_payment),
    # an excess payment's refund (rules/excess.py)
    _op("GET", "/customerpayments/{customer_payment_id}/refunds", "ZohoBooks.customerpayments.READ",
        excess.list_payment_refunds),
    _op("POST", "/customerpayments/{customer_payment_id}/refunds", "ZohoBooks.customerpayments.CREATE",
        excess.create_payment_refund, "required"),
    _op("GET", "/customerpayments/{customer_payment_id}/refunds/{refund_id}",
        "ZohoBooks.customerpayments.READ", excess.get_payment_refund),
    _op("PUT", "/customerpayments/{customer_payment_id}/refunds/{refund_id}",
        "ZohoBooks.customerpayments.UPDATE", excess.update_payment_refund, "required"),
    _op("DELETE", "/customerpayments/{customer_payment_id}/refunds/{refund_id}",
        "ZohoBooks.customerpayments.DELETE", excess.delete_payment_refund),
    _op("POST", "/invoices/{invoice_id}/writeoff", "ZohoBooks.invoices.CREATE", excess.write_off),
    _op("POST", "/invoices/{invoice_id}/writeoff/cancel", "ZohoBooks.invoices.CREATE",
        excess.cancel_write_off),
    # Vendor payments (unverified: not among the OAS files the sandbox follows; see rules/vendorpayments.py)
    _op("GET", "/vendorpayments", "ZohoBooks.vendorpayments.READ", vendorpayments.list_vendor_payments),
    _op("POST", "/vendorpayments", "ZohoBooks.vendorpayments.CREATE", vendorpayments.create_vendor_payment,
        "required"),
    _op("GET", "/vendorpayments/{payment_id}", "ZohoBooks.vendorpayments.READ",
        vendorpayments.get_vendor_payment),
    _op("DELETE", "/vendorpayments/{payment_id}", "ZohoBooks.vendorpayments.DELETE",
        vendorpayments.delete_vendor_payment),
    _op("GET", "/vendorpayments/{payment_id}/refunds", "ZohoBooks.vendorpayments.READ",
        excess.list_vendor_payment_refunds),
    _op("POST", "/vendorpayments/{payment_id}/refunds", "ZohoBooks.vendorpayments.CREATE",
        excess.create_vendor_payment_refund, "required"),
    _op("GET", "/vendorpayments/{payment_id}/refunds/{vendorpayment_refund_id}",
        "ZohoBooks.vendorpayments.READ", excess.get_vendor_payment_refund),
    _op("PUT", "/vendorpayments/{payment_id}/refunds/{vendorpayment_refund_id}",
        "ZohoBooks.vendorpayments.UPDATE", excess.update_vendor_payment_refund, "required"),
    _op("DELETE", "/vendorpayments/{payment_id}/refunds/{vendorpayment_refund_id}",
        "ZohoBooks.vendorpayments.DELETE", excess.delete_vendor_payment_refund),
    # Reports (unverified: Zoho's OAS files have none; see rules/reports.py)
    _op("GET", "/reports/profitandloss", "ZohoBooks.reports.READ", reports.profit_and_loss),
    _op("GET", "/reports/balancesheet", "ZohoBooks.reports.READ", reports.balance_sheet),
    _op("GET", "/reports/aragingsummary", "ZohoBooks.reports.READ", reports.ar_aging_summary),
    _op("GET", "/reports/apagingsummary", "ZohoBooks.reports.READ", reports.ap_aging_summary),
    _op("GET", "/reports/trialbalance", "ZohoBooks.reports.READ", ledger_reports.trial_balance),
    _op("GET", "/reports/generalledger", "ZohoBooks.reports.READ", ledger_reports.general_ledger),
    _op("GET", "/reports/accounttransaction", "ZohoBooks.reports.READ", ledger_reports.account_transactions),
    _op("GET", "/reports/cashflow", "ZohoBooks.reports.READ", cash_flow.cash_flow),
    # Manual journals (journals.yml)
    _op("GET", "/journals", "ZohoBooks.accountants.READ", journals.list_journals),
    _op("POST", "/journals", "ZohoBooks.accountants.CREATE", journals.create_journal, "required"),
    _op("GET", "/journals/{journal_id}", "ZohoBooks.accountants.READ", journals.get_journal),
    _op("PUT", "/journals/{journal_id}", "ZohoBooks.accountants.UPDATE", journals.update_journal, "required"),
    _op("DELETE", "/journals/{journal_id}", "ZohoBooks.accountants.DELETE", journals.delete_journal),
    _op("POST", "/journals/{journal_id}/status/publish", "ZohoBooks.accountants.CREATE",
        journals.publish_journal),
    # Bank transactions (bank-transactions.yml) and statements (bank-accounts.yml)
    _op("GET", "/banktransactions", "ZohoBooks.banking.READ", bankfeed.list_transactions),
    _op("POST", "/banktransactions", "ZohoBooks.banking.CREATE", bankfeed.create_transaction, "required"),
    _op("GET", "/banktransactions/{bank_transaction_id}", "ZohoBooks.banking.READ", bankfeed.get_transaction),
    _op("PUT", "/banktransactions/{bank_transaction_id}", "ZohoBooks.banking.UPDATE",
        bankfeed.update_transaction, "required"),
    _op("DELETE", "/banktransactions/{bank_transaction_id}", "ZohoBooks.banking.DELETE",
        bankfeed.delete_transaction),
    _op("POST", "/banktransactions/uncategorized/{transaction_id}/exclude", "ZohoBooks.banking.CREATE",
        bankfeed.exclude),
    _op("POST", "/banktransactions/uncategorized/{transaction_id}/restore", "ZohoBooks.banking.CREATE",
        bankfeed.restore),
    _op("POST", "/banktransactions/uncategorized/{transaction_id}/categorize", "ZohoBooks.banking.CREATE",
        bankcategorize.categorize, "required"),
    _op("POST", "/banktransactions/uncategorized/{transaction_id}/categorize/expenses",
        "ZohoBooks.banking.CREATE", bankcategorize.as_expense, "required"),
    _op("POST", "/banktransactions/uncategorized/{transaction_id}/categorize/customerpayments",
        "ZohoBooks.banking.CREATE", bankcategorize.as_customer_payment, "required"),
    _op("POST", "/banktransactions/uncategorized/{transaction_id}/categorize/vendorpayments",
        "ZohoBooks.banking.CREATE", bankcategorize.as_vendor_payment, "required"),
    _op("POST", "/banktransactions/uncategorized/{transaction_id}/categorize/creditnoterefunds",
        "ZohoBooks.banking.CREATE", bankcategorize.as_credit_note_refund, "required"),
    _op("POST", "/banktransactions/uncategorized/{transaction_id}/categorize/vendorcreditrefunds",
        "ZohoBooks.banking.CREATE", bankcategorize.as_vendor_credit_refund, "required"),
    _op("POST", "/banktransactions/{transaction_id}/uncategorize", "ZohoBooks.banking.CREATE",
        bankcategorize.uncategorize),
    _op("GET", "/banktransactions/uncategorized/{transaction_id}/match", "ZohoBooks.banking.READ",
        bankmatch.suggestions),
    _op("POST", "/banktransactions/uncategorized/{transaction_id}/match", "ZohoBooks.banking.CREATE",
        bankmatch.match, "required"),
    _op("POST", "/banktransactions/{transaction_id}/unmatch", "ZohoBooks.banking.CREATE", bankmatch.unmatch),
    # Zoho's file gives this one no scope; the generic route's is banking.CREATE too
    _op("POST", "/bankstatements", "ZohoBooks.banking.CREATE", bankfeed.import_statement, "required"),
    # Files on records (expenses.yml, invoices.yml, bills.yml): multipart uploads
    _op("POST", "/expenses/{expense_id}/receipt", "ZohoBooks.expenses.CREATE", attachments.attach_receipt,
        "optional"),
    _op("DELETE", "/expenses/{expense_id}/receipt", "ZohoBooks.expenses.DELETE", attachments.delete_receipt),
    _op("POST", "/invoices/{invoice_id}/attachment", "ZohoBooks.invoices.CREATE",
        attachments.attach_to_invoice, "optional"),
    _op("DELETE", "/invoices/{invoice_id}/attachment", "ZohoBooks.invoices.DELETE",
        attachments.delete_invoice_attachment),
    _op("POST", "/bills/{bill_id}/attachment", "ZohoBooks.bills.CREATE", attachments.attach_to_bill,
        "optional"),
    _op("DELETE", "/bills/{bill_id}/attachment", "ZohoBooks.bills.DELETE",
        attachments.delete_bill_attachment),
    # Credit notes (credit-notes.yml) and an invoice's credits (invoices.yml)
    _op("GET", "/creditnotes", "ZohoBooks.creditnotes.READ", creditnotes.list_creditnotes),
    _op("POST", "/creditnotes", "ZohoBooks.creditnotes.CREATE", creditnotes.create_creditnote, "required"),
    _op("GET", "/creditnotes/refunds", "ZohoBooks.creditnotes.READ", creditnotes.list_all_refunds),
    _op("GET", "/creditnotes/{creditnote_id}", "ZohoBooks.creditnotes.READ", creditnotes.get_creditnote),
    _op("PUT", "/creditnotes/{creditnote_id}", "ZohoBooks.creditnotes.UPDATE", creditnotes.update_creditnote,
        "required"),
    _op("DELETE", "/creditnotes/{creditnote_id}", "ZohoBooks.creditnotes.DELETE",
        creditnotes.delete_creditnote),
    _op("POST", "/creditnotes/{creditnote_id}/status/open", "ZohoBooks.creditnotes.CREATE",
        creditnotes.mark_open),
    _op("POST", "/creditnotes/{creditnote_id}/status/void", "ZohoBooks.creditnotes.CREATE",
        creditnotes.mark_void),
    _op("POST", "/creditnotes/{creditnote_id}/status/draft", "ZohoBooks.creditnotes.CREATE",
        creditnotes.mark_draft),
    _op("GET", "/creditnotes/{creditnote_id}/invoices", "ZohoBooks.creditnotes.READ",
        creditnotes.invoices_credited),
    _op("POST", "/creditnotes/{creditnote_id}/invoices", "ZohoBooks.creditnotes.CREATE",
        creditnotes.apply_to_invoices, "required"),
    _op("DELETE", "/creditnotes/{creditnote_id}/invoices/{creditnote_invoice_id}",
        "ZohoBooks.creditnotes.DELETE", creditnotes.remove_from_invoice),
    _op("GET", "/creditnotes/{creditnote_id}/refunds", "ZohoBooks.creditnotes.READ",
        creditnotes.list_refunds),
    _op("POST", "/creditnotes/{creditnote_id}/refunds", "ZohoBooks.creditnotes.CREATE",
        creditnotes.create_refund, "required"),
    _op("GET", "/creditnotes/{creditnote_id}/refunds/{creditnote_refund_id}", "ZohoBooks.creditnotes.READ",
        creditnotes.get_refund),
    _op("DELETE", "/creditnotes/{creditnote_id}/refunds/{creditnote_refund_id}",
        "ZohoBooks.creditnotes.DELETE", creditnotes.delete_refund),
    _op("POST", "/invoices/{invoice_id}/credits", "ZohoBooks.invoices.CREATE",
        creditnotes.apply_credits_to_invoice, "required"),
    _op("GET", "/invoices/{invoice_id}/creditsapplied", "ZohoBooks.invoices.READ",
        creditnotes.credits_applied),
    _op("DELETE", "/invoices/{invoice_id}/creditsapplied/{creditnotes_invoice_id}",
        "ZohoBooks.invoices.DELETE", creditnotes.delete_credit_applied),
    # Vendor credits (vendor-credits.yml) and a bill's credits (bills.yml)
    _op("GET", "/vendorcredits", "ZohoBooks.debitnotes.READ", vendorcredits.list_vendorcredits),
    _op("POST", "/vendorcredits", "ZohoBooks.debitnotes.CREATE", vendorcredits.create_vendorcredit,
        "required"),
    _op("GET", "/vendorcredits/refunds", "ZohoBooks.debitnotes.READ", vendorcredits.list_all_refunds),
    _op("GET", "/vendorcredits/{vendor_credit_id}", "ZohoBooks.debitnotes.READ",
        vendorcredits.get_vendorcredit),
    _op("PUT", "/vendorcredits/{vendor_credit_id}", "ZohoBooks.debitnotes.UPDATE",
        vendorcredits.update_vendorcredit, "required"),
    _op("DELETE", "/vendorcredits/{vendor_credit_id}", "ZohoBooks.debitnotes.DELETE",
        vendorcredits.delete_vendorcredit),
    _op("POST", "/vendorcredits/{vendor_credit_id}/status/open", "ZohoBooks.debitnotes.CREATE",
        vendorcredits.mark_open),
    _op("POST", "/vendorcredits/{vendor_credit_id}/status/void", "ZohoBooks.debitnotes.CREATE",
        vendorcredits.mark_void),
    _op("GET", "/vendorcredits/{vendor_credit_id}/bills", "ZohoBooks.debitnotes.READ",
        vendorcredits.bills_credited),
    _op("POST", "/vendorcredits/{vendor_credit_id}/bills", "ZohoBooks.debitnotes.CREATE",
        vendorcredits.apply_to_bills, "required"),
    _op("DELETE", "/vendorcredits/{vendor_credit_id}/bills/{vendor_credit_bill_id}",
        "ZohoBooks.debitnotes.DELETE", vendorcredits.remove_from_bill),
    _op("GET", "/vendorcredits/{vendor_credit_id}/refunds", "ZohoBooks.debitnotes.READ",
        vendorcredits.list_refunds),
    _op("POST", "/vendorcredits/{vendor_credit_id}/refunds", "ZohoBooks.debitnotes.CREATE",
        vendorcredits.create_refund, "required"),
    _op("GET", "/vendorcredits/{vendor_credit_id}/refunds/{vendor_credit_refund_id}",
        "ZohoBooks.debitnotes.READ", vendorcredits.get_refund),
    _op("DELETE", "/vendorcredits/{vendor_credit_id}/refunds/{vendor_credit_refund_id}",
        "ZohoBooks.debitnotes.DELETE", vendorcredits.delete_refund),
    _op("POST", "/bills/{bill_id}/credits", "ZohoBooks.bills.CREATE", vendorcredits.apply_credits_to_bill,
        "required"),
    # Taxes (taxes.yml)
    # Webhooks (Zoho's API reference; not among its OpenAPI files): what workflow rules call
    _op("GET", "/settings/webhooks", "ZohoBooks.settings.READ", webhooks.list_webhooks),
    _op("POST", "/settings/webhooks", "ZohoBooks.settings.CREATE", webhooks.create_webhook, "required"),
    _op("GET", "/settings/webhooks/{webhook_id}", "ZohoBooks.settings.READ", webhooks.get_webhook),
    _op("PUT", "/settings/webhooks/{webhook_id}", "ZohoBooks.settings.UPDATE", webhooks.update_webhook,
        "required"),
    _op("DELETE", "/settings/webhooks/{webhook_id}", "ZohoBooks.settings.DELETE", webhooks.delete_webhook),
    _op("GET", "/settings/taxes", "ZohoBooks.settings.READ", taxes.list_taxes),
    _op("POST", "/settings/taxes", "ZohoBooks.settings.CREATE", taxes.create_tax, "required"),
    _op("GET", "/settings/taxes/{tax_id}", "ZohoBooks.settings.READ", taxes.get_tax),
    _op("PUT", "/settings/taxes/{tax_id}", "ZohoBooks.settings.UPDATE", taxes.update_tax, "required"),
    _op("DELETE", "/settings/taxes/{tax_id}", "ZohoBooks.settings.DELETE", taxes.delete_tax),
    # Items (§4.9), bank accounts (§4.10), chart of accounts (§4.11)
    _op("GET", "/items", "ZohoBooks.settings.READ", items.list_items),
    _op("POST", "/items", "ZohoBooks.settings.CREATE", items.create_item, "required"),
    _op("GET", "/items/{item_id}", "ZohoBooks.settings.READ", items.get_item),
    _op("GET", "/bankaccounts", "ZohoBooks.banking.READ", accounts.list_bank),
    _op("POST", "/bankaccounts", "ZohoBooks.banking.CREATE", accounts.create_bank, "required"),
    _op("GET", "/bankaccounts/{account_id}", "ZohoBooks.banking.READ", accounts.get_bank),
    _op("GET", "/chartofaccounts", "ZohoBooks.accountants.READ", accounts.list_chart),
    _op("POST", "/chartofaccounts", "ZohoBooks.accountants.CREATE", accounts.create_chart_account,
        "required"),
    _op("GET", "/chartofaccounts/{account_id}", "ZohoBooks.accountants.READ", accounts.get_chart_account),
    # Update or create by a unique custom field's value (rules/upsert.py): Zoho's scope is UPDATE's
    _op("PUT", "/invoices", "ZohoBooks.invoices.UPDATE",
        upsert("invoices", invoices.create_invoice, invoices.get_invoice, invoices.update_invoice),
        "required"),
    _op("PUT", "/contacts", "ZohoBooks.contacts.UPDATE",
        upsert("contacts", contacts.create_contact, contacts.get_contact, contacts.update_contact),
        "required"),
    _op("PUT", "/estimates", "ZohoBooks.estimates.UPDATE",
        upsert("estimates", estimates.create_estimate, estimates.get_estimate), "required"),
    _op("PUT", "/salesorders", "ZohoBooks.salesorders.UPDATE",
        upsert("salesorders", orders.create_salesorder, orders.get_salesorder), "required"),
    _op("PUT", "/purchaseorders", "ZohoBooks.purchaseorders.UPDATE",
        upsert("purchaseorders", orders.create_purchaseorder, orders.get_purchaseorder,
               id_param="purchase_order_id"), "required"),
    _op("PUT", "/bills", "ZohoBooks.bills.UPDATE", upsert("bills", bills.create_bill, bills.get_bill),
        "required"),
    _op("PUT", "/expenses", "ZohoBooks.expenses.UPDATE",
        upsert("expenses", expenses.create_expense, expenses.get_expense), "required"),
    _op("PUT", "/items", "ZohoBooks.settings.UPDATE", upsert("items", items.create_item, items.get_item),
        "required"),
    _op("PUT", "/customerpayments", "ZohoBooks.customerpayments.UPDATE",
        upsert("customerpayments", payments.create_payment, payments.get_payment), "required"),
)

