"""The generic emulation's actions: status actions and patches stick (on a rule module's record only where
the books do not read them), emails and invitations go to the outbox, attachments, timers, bulk writes, custom
modules, the seeds; and the small rules for contact persons and an organization by its id."""

from __future__ import annotations

import httpx2

from tests.sandbox.conftest import ORG, OTHER_ORG, error, ok
from tests.sandbox.zoho_calls import seeded_project
from zbmcp.sandbox import Sandbox

ALICE = "700000000000003"


async def test_a_status_action_sets_the_status_its_path_says(books: httpx2.AsyncClient,
                                                             sandbox: Sandbox) -> None:
    project_id, project = next(iter(sandbox.store(ORG).generic("/projects").items()))
    assert project["status"] == "active"
    answer = ok(await books.post(f"projects/{project_id}/inactive"))
    assert answer == {"code": 0, "message": "The selected projects have been marked as inactive."}
    assert ok(await books.get(f"projects/{project_id}"))["project"]["status"] == "inactive"
    retainer = ok(await books.post("retainerinvoices", json={"customer_id": sandbox.store(ORG).contact_id(
        "Acme Corporation"), "line_items": [{"item_id": sandbox.store(ORG).item_id("Consulting"),
                                             "rate": 150}]}), 201)["retainerinvoice"]
    path = f"retainerinvoices/{retainer['retainerinvoice_id']}"
    for action, status in (("submit", "pending_approval"), ("approve", "approved"), ("status/void", "void")):
        ok(await books.post(f"{path}/{action}"))
        assert ok(await books.get(path))["retainerinvoice"]["status"] == status


async def test_on_a_rule_modules_record_only_what_cannot_reach_the_books(books: httpx2.AsyncClient,
                                                                        sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    item = view.item_id("Consulting")
    ok(await books.post(f"items/{item}/inactive"))
    assert item not in {row["item_id"] for row in ok(await books.get("items"))["items"]}  # the rule's filter
    estimate = view.find("estimates", status="draft")
    assert estimate is not None
    ok(await books.post(f"estimates/{estimate['estimate_id']}/status/accepted"))
    assert ok(await books.get(f"estimates/{estimate['estimate_id']}"))["estimate"]["status"] == "accepted"
    ok(await books.put(f"estimate/{estimate['estimate_id']}/customfields",
                       json=[{"customfield_id": "460000000000901", "value": "Gold"}]))
    assert view.estimates[estimate["estimate_id"]]["custom_fields"] == [
        {"customfield_id": "460000000000901", "value": "Gold"}]
    ok(await books.post(f"chartofaccounts/{view.account_id('Travel Expense')}/inactive"), 201)
    assert view.accounts[view.account_id("Travel Expense")]["is_active"] is False

    bill = view.find("bills", bill_number="CH-1001")
    assert bill is not None
    books_before = view.journal()
    refused = await books.post(f"bills/{bill['bill_id']}/status/void")
    assert error(refused, 400, 9998) == ("The sandbox does not emulate mark_bill_void yet: a bill's status "
                                         "is the bills rules' to change: the books read it.")
    update = await books.put(f"bills/{bill['bill_id']}", json={"vendor_id": bill["vendor_id"],
                                                             "bill_number": "X"})
    assert "does not emulate update_bill yet" in error(update, 400, 9998)
    assert view.bills[bill["bill_id"]] == bill and view.journal() == books_before


async def test_emails_go_to_the_outbox(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    view = sandbox.store(ORG)
    order = next(iter(view.salesorders))
    ok(await books.post(f"salesorders/{order}/email", json={"to_mail_ids": ["buyer@acme.example"],
                                                           "subject": "Your order"}), 201)
    ok(await books.post(f"contacts/{view.contact_id('Globex Ltd')}/email", json={}))
    ok(await books.post(f"contacts/{view.contact_id('Globex Ltd')}/statements/email", json={}))
    [order_email, contact_email, statement] = sandbox.outbox
    assert (contact_email.document_type, statement.document_type) == ("contact", "statement")
    assert (order_email.document_type, order_email.document_id, order_email.to, order_email.subject) == \
        ("salesorder", order, ["buyer@acme.example"], "Your order")
    assert contact_email.to == ["hank.scorpio@globex.example"]  # no to_mail_ids: the primary address
    initech = view.contact_id("Initech")  # has no email address
    assert error(await books.post(f"contacts/{initech}/email", json={}), 400, 4) == "to_mail_ids is required."
    assert error(await books.post(f"salesorders/{order}/email", json={"to_mail_ids": ["not-an-address"]}),
                 400, 2) == "Invalid value passed for to_mail_ids"
    assert len(sandbox.outbox) == 3
    content = ok(await books.get(f"invoices/{view.invoice_id('INV-000002')}/email"))["data"]
    assert content["to_contacts"] == [{"email": "hank.scorpio@globex.example", "selected": True}]
    assert "INV-000002" in content["subject"] and len(sandbox.outbox) == 3  # reading it sends nothing


async def test_inviting_a_user_emails_them(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    answer = ok(await books.post("users", json={"name": "Bob Bookkeeper", "email": "bob@sandbox.example"}))
    assert answer == {"code": 0, "message": "Your invitation has been sent."}
    [invitation] = sandbox.outbox
    assert (invitation.document_type, invitation.to) == ("user_invitation", ["bob@sandbox.example"])
    users = {row["email"]: row for row in ok(await books.get("users"))["users"]}
    assert set(users) == {"sam@sandbox-trading.example", "alice@sandbox-trading.example",
                          "bob@sandbox.example"}


async def test_users_me_is_the_tokens_user(sandbox: Sandbox, books: httpx2.AsyncClient) -> None:
    assert ok(await books.get("users/me"))["user"]["email"] == "sam@sandbox-trading.example"
    token = sandbox.mint_access_token(["ZohoBooks.settings.READ"], user_id=ALICE)
    me = ok(await books.get("users/me", headers={"Authorization": f"Zoho-oauthtoken {token}"}))
    assert me["user"]["name"] == "Alice Accountant" and me["user"]["user_role"] == "staff"


async def test_attachments_keep_their_name_not_the_file(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    order = next(iter(sandbox.store(ORG).salesorders))
    assert error(await books.get(f"salesorders/{order}/attachment"), 404, 1002) == \
        "Attachment does not exist."
    ok(await books.post(f"salesorders/{order}/attachment", params={"attachment": "po.pdf"}), 201)
    ok(await books.get(f"salesorders/{order}/attachment"))
    ok(await books.delete(f"salesorders/{order}/attachment"))
    assert error(await books.delete(f"salesorders/{order}/attachment"), 404, 1002) == \
        "Attachment does not exist."


async def test_one_timer_runs_at_a_time(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    project = seeded_project(sandbox)
    task = next(iter(sandbox.store(ORG).generic("/projects/{}/tasks", project)))
    entries = [ok(await books.post("projects/timeentries", json={
        "project_id": project, "task_id": task, "user_id": sandbox.default_user_id,
        "log_date": "2025-01-10"}), 201)["time_entry"]["time_entry_id"] for _ in range(2)]
    assert ok(await books.get("projects/timeentries/runningtimer/me"))["time_entry"] == {}
    started = ok(await books.post(f"projects/timeentries/{entries[0]}/timer/start"))["time_entry"]
    assert started["timer_started_at"]
    assert error(await books.post(f"projects/timeentries/{entries[1]}/timer/start"), 400, 9999)
    running = ok(await books.get("projects/timeentries/runningtimer/me"))["time_entry"]
    assert running["time_entry_id"] == entries[0]
    ok(await books.post("projects/timeentries/timer/stop"))
    assert error(await books.post("projects/timeentries/timer/stop"), 400, 9999) == \
        "There is no timer running."
    bad = await books.post("projects/timeentries", json={"project_id": project, "task_id": "460000999999999",
                                                         "user_id": sandbox.default_user_id,
                                                         "log_date": "2025-01-10"})
    assert error(bad, 400, 2) == "Invalid value passed for task_id"


async def test_a_bulk_delete_deletes_all_or_none(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    project = seeded_project(sandbox)
    task = next(iter(sandbox.store(ORG).generic("/projects/{}/tasks", project)))
    entry = ok(await books.post("projects/timeentries", json={
        "project_id": project, "task_id": task, "user_id": sandbox.default_user_id,
        "log_date": "2025-01-10"}), 201)["time_entry"]["time_entry_id"]
    both = f"{entry},460000999999999"
    refused = await books.delete("projects/timeentries", params={"time_entry_ids": both})
    assert error(refused, 404, 1002) == "Time entry does not exist."
    assert entry in sandbox.store(ORG).generic("/projects/timeentries")
    ok(await books.delete("projects/timeentries", params={"time_entry_ids": entry}))
    assert sandbox.store(ORG).generic("/projects/timeentries") == {}


async def test_update_by_a_custom_fields_unique_value(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    headers = {"X-Unique-Identifier-Key": "cf_code", "X-Unique-Identifier-Value": "P-7"}
    body = {"project_name": "Portal", "customer_id": sandbox.store(ORG).contact_id("Acme Corporation"),
            "billing_type": "based_on_project_hours", "user_id": sandbox.default_user_id}
    assert error(await books.put("projects", json=body, headers=headers), 404, 1002) == \
        "Project does not exist."
    made = ok(await books.put("projects", json=body, headers={**headers, "X-Upsert": "true"}), 200)["project"]
    assert made["custom_fields"] == [{"api_name": "cf_code", "value": "P-7"}]
    renamed = ok(await books.put("projects", json={"project_name": "Portal 2"}, headers=headers))["project"]
    assert renamed["project_id"] == made["project_id"] and renamed["project_name"] == "Portal 2"
    assert error(await books.put("projects", json=body), 400, 4) == "X-Unique-Identifier-Key is required."


async def test_custom_modules_keep_their_records_apart(books: httpx2.AsyncClient) -> None:
    made = ok(await books.post("cm_debtor", json={"record_name": "Alice", "cf_debt_amount": 120}))
    record = made["module_record"]
    assert made["message"] == "debtor is created successfully" and record["record_name"] == "Alice"
    assert ok(await books.get("cm_creditor"))["module_record"] == []
    rows = ok(await books.get("cm_debtor"))["module_record"]
    assert [row["module_record_id"] for row in rows] == [record["module_record_id"]]
    missing = await books.get(f"cm_creditor/{record['module_record_id']}")
    assert error(missing, 404, 1002) == "Record does not exist."
    assert error(await books.get("debtor"), 404, 5) == "Invalid URL Passed"  # cm_ only: typos stay unknown


async def test_seeds_where_a_real_organization_has_records(books: httpx2.AsyncClient,
                                                           sandbox: Sandbox) -> None:
    taxes = ok(await books.get("settings/taxes"))["taxes"]
    assert {(tax["tax_name"], tax["tax_percentage"]) for tax in taxes} == {
        ("Standard Rate", 20.0), ("Reduced Rate", 5.0), ("Zero Rate", 0.0)}
    currencies = ok(await books.get("settings/currencies"))["currencies"]
    base = [currency for currency in currencies if currency["is_base_currency"]]
    assert [(c["currency_code"], c["currency_id"]) for c in base] == [
        ("GBP", sandbox.store(ORG).organization["currency_id"])]
    [project] = ok(await books.get("projects"))["projects"]
    assert project["project_name"] == "Website redesign" and project["customer_name"] == "Acme Corporation"
    users = ok(await books.get(f"projects/{project['project_id']}/users"))["users"]
    assert [user["user_id"] for user in users] \
        == [sandbox.default_user_id]
    [journal] = ok(await books.get("journals"))["journals"]
    assert journal["status"] == "draft" and journal["total"] == 1200.0
    us_taxes = ok(await books.get("settings/taxes", params={"organization_id": OTHER_ORG}))["taxes"]
    assert [tax["tax_name"] for tax in us_taxes] == ["NY Sales Tax"]


async def test_contact_persons_are_their_contacts(books: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    acme = sandbox.store(ORG).contact_id("Acme Corporation")
    made = ok(await books.post("contacts/contactpersons", json={
        "contact_id": acme, "first_name": "Wile", "email": "wile@acme.example", "enable_portal": True}), 201)
    person = made["contact_person"]["contact_person_id"]
    assert made["message"] == "The contactperson has been Created"
    [invitation] = sandbox.outbox  # the contacts rule's portal invitation
    assert (invitation.document_type, invitation.to) == ("portal_invitation", ["wile@acme.example"])
    ok(await books.post(f"contacts/contactpersons/{person}/primary"))
    contact = ok(await books.get(f"contacts/{acme}"))["contact"]
    assert contact["email"] == "wile@acme.example"  # the primary person's, as the rule shows it
    bad = await books.put(f"contacts/contactpersons/{person}", json={"email": "nope"})
    assert error(bad, 400, 2) == "Invalid value passed for contact_persons[1].email"
    ok(await books.delete(f"contacts/contactpersons/{person}"))
    persons = ok(await books.get(f"contacts/{acme}/contactpersons"))["contact_persons"]
    assert [p["first_name"] for p in persons] == ["Jane"] and persons[0]["is_primary_contact"] is True
    assert error(await books.delete(f"contacts/contactpersons/{person}"), 404, 1002) == \
        "Contact person does not exist."


async def test_an_organization_by_its_id_only_the_callers(books: httpx2.AsyncClient) -> None:
    assert ok(await books.get(f"organizations/{ORG}"))["organization"]["name"] == "Sandbox Trading Ltd"
    assert error(await books.get("organizations/20987654"), 400, 6041) == \
        "This user is not associated with the CompanyID/CompanyName:20987654."
