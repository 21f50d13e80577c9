"""`zbmcp audit` (the log as a table) and `zbmcp audit verify` (whether its hash chain is intact)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from zbmcp.cli.commands import CONFIG_HELP, VERBOSE_HELP, _load, add_command

if TYPE_CHECKING:
    from zbmcp.cli.commands import Commands


def add_audit(commands: Commands) -> None:
    audit = add_command(commands, "audit",
                        "Show the audit log as a table: one row per call, with its final state.", _audit)
    audit.add_argument("--agent", help="only this agent's calls")
    audit.add_argument("--since", help="e.g. 2026-11-25, 2026-11-25T10:00, 2h, 30m or 7d")
    audit.add_argument("--event", metavar="KIND", help="only this kind of record: call (tool calls), oauth, "
                       "console, approval (each a family of events) or one step, e.g. oauth.token")
    audit.add_argument("--json", action="store_true", help="the same rows as JSON, one object a line")
    # taken before the action is added: plain `zbmcp audit` takes none
    shows = audit.format_usage().removeprefix("usage: ").rstrip()
    verify = audit.add_subparsers(metavar="ACTION").add_parser(
        "verify",
        help="Check the audit log's hash chain; name the first edited, removed or reordered record.",
        description="Check the audit log's hash chain (the configured file and its rotated siblings, or the "
                    "FILES given) and name the first edited, removed or reordered record, records cut off "
                    "either end, and what the files cannot prove. Exit status 1 if it is broken (with "
                    "--anchor: or anything is missing).")
    verify.set_defaults(run=_audit_verify)
    verify.add_argument("files", nargs="*", metavar="FILE", help="audit files to check instead (any order)")
    verify.add_argument("--anchor", metavar="SEQ:HASH",
                        help="a head printed by an earlier verify, kept elsewhere: proves the log still "
                             "holds records 1 to SEQ unchanged, and fails on anything missing (the log, its "
                             "chain file, records at either end, a rotated file)")
    verify.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=CONFIG_HELP)
    verify.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    audit.usage = shows + "\n       " + verify.format_usage().removeprefix("usage: ").rstrip()


def _audit(args: argparse.Namespace) -> int:
    from zbmcp.cli.audit_view import show_audit

    loaded = _load(args)
    show_audit(loaded, agent=args.agent, since=args.since, as_json=args.json, event=args.event)
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from zbmcp.cli.audit_view import verify_audit

    files_only = args.files and not getattr(args, "config", None)  # files need no config
    loaded = None if files_only else _load(args)
    return 0 if verify_audit(loaded, args.files, anchor=args.anchor) else 1
