"""The `zbmcp` commands: each parses its arguments, calls one public function of a lower part and prints."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    # The parser and every command's module load only when a command runs (the entry point imports this).
    from zbmcp.cli.parser import build_parser
    from zbmcp.errors import ZbmcpError

    parser = build_parser()
    args = parser.parse_args(argv)
    _log_to_stderr(verbose=getattr(args, "verbose", False))
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.run(args) or 0)
    except ZbmcpError as exc:
        print(f"zbmcp: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _log_to_stderr(*, verbose: bool) -> None:
    # Libraries (the MCP SDK, httpx2) log a line per request at INFO: that drowns what matters, and an
    # unread stderr pipe that fills up would stall the server. zbmcp's own messages stay at INFO.
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        stream=sys.stderr,  # stdout is the stdio protocol channel
        format="zbmcp: %(message)s",
    )
    logging.getLogger("zbmcp").setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("zbmcp.sandbox").setLevel(logging.WARNING)
    for chatty in ("httpx2", "httpcore2"):  # their request lines carry URLs, and a revoke URL carries a token
        logging.getLogger(chatty).setLevel(logging.WARNING)
