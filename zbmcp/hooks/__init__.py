"""Zoho Books webhooks in: the intake at /hooks/<name> (an edge, like the console), which takes a delivery
only when it proves it knows the hook's secret, keeps each event once in the State, and audits every delivery,
taken or refused. Agents read the events through zbmcp.calls (docs/webhooks.md).
"""

from zbmcp.hooks.intake import PREFIX, HookIntake

__all__ = ["PREFIX", "HookIntake"]
