"""The `zbmcp` commands: each parses its arguments, calls one public function of a lower part and prints."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    # The parser and every command's module load only when a command runs (the entry point imports this).
    from zbmcp.cli.commands import run

    return run(argv)
