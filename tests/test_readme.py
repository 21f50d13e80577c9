"""The README's worked example says what each agent sees: keep that true."""

from __future__ import annotations

import re
from pathlib import Path

from zbmcp.config import parse_config
from zbmcp.manifest import load_manifests
from zbmcp.policy import policies

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def configuration_example() -> str:
    section = README.split("## Configuration", 1)[1]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)


def test_the_worked_example_gives_each_agent_what_the_readme_says():
    env = {"ZOHO_CLIENT_ID": "1000.X", "ZOHO_CLIENT_SECRET": "s", "ZOHO_REFRESH_TOKEN": "r"}
    loaded = parse_config(configuration_example(), "README.md", env)
    specs = load_manifests()
    agents = policies(loaded, specs)
    reporting, bookkeeper = agents["reporting"], agents["bookkeeper"]
    reads = {name for name, spec in specs.items() if spec.access == "read"}
    assert set(reporting.visible) == reads
    assert f"`reporting` sees the {len(reads)} read tools" in README
    assert set(bookkeeper.visible) == {"list_invoices", "get_invoice", "create_invoice", "update_invoice",
                                       "mark_invoice_sent", "mark_invoice_void", "mark_invoice_draft",
                                       "email_invoice", "list_contacts", "get_contact",
                                       "list_items"}
    assert f"`bookkeeper` sees {len(bookkeeper.visible)} tools" in README
    assert bookkeeper.needs_approval == {"email_invoice"}
    assert reporting.organizations == bookkeeper.organizations == ("10234695",)
