"""The generic emulation: every Zoho Books operation the rule modules (zbmcp/sandbox/rules/) do not answer,
driven by Zoho's own OpenAPI files (routes.json, written by scripts/sandbox_routes.py).

Generic means: records are kept as sent (the fields Zoho's file documents, checked against their types,
required ones and references) and read back, listed with page_context, updated, deleted, given the status a
status action names; answers carry Zoho's status, message and key. Nothing generic reaches the books:
no totals, numbering, taxes or ledger postings are computed. See docs/sandbox.md.
"""
