"""What every `zbmcp` command shares: the --config and -v options, port numbers, and the one Config it loads.

Each command's module (zbmcp.cli.parser lists them) imports only argparse and this at the top; the work is
imported inside each command, so `zbmcp serve` starts as fast as the MCP SDK allows.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TypeAlias

    from zbmcp.core.config import LoadedConfig

    Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

CONFIG_HELP = "config file (default: $ZBMCP_CONFIG, then zbmcp.yaml in the user config dir)"
VERBOSE_HELP = "log more to stderr"


def add_command(group: Commands, name: str, help_text: str,
                run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """A command (zbmcp NAME) or one ACTION of a command group (zbmcp auth ACTION), reading the config."""
    sub = group.add_parser(name, help=help_text, description=help_text)
    sub.set_defaults(run=run)
    sub.add_argument("--config", type=Path, help=CONFIG_HELP)
    sub.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    return sub


def add_group(commands: Commands, name: str, help_text: str) -> Commands:
    """A command made of actions (zbmcp auth ACTION); returns where its actions are added."""
    group = commands.add_parser(name, help=help_text, description=help_text)
    return group.add_subparsers(metavar="ACTION")


def port_number(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port: use 1 to 65535 (0 picks a free one)")
    return number


def _environ() -> dict[str, str]:
    return dict(os.environ)


def _load(args: argparse.Namespace, *, offline: bool = False) -> LoadedConfig:
    """The config. `offline` for a command that contacts neither Zoho nor the State: the ${VARIABLES} it
    does not need (the Zoho client's secret, say) may be unset."""
    from zbmcp.cli.config_file import load_config

    return load_config(args.config, _environ(), offline=offline)
