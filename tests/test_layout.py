"""The package's folders are its layers, and every import runs one way (docs/architecture.md).

    cli > transports > console, oauth_server, hooks > calls > sandbox > zoho > state > core, audit
        > files, listen, proxies > errors

A module may import its own part and any part below it; never a part above it, nor a peer on its own level
(console, oauth_server and hooks; core and audit). The sandbox is the Zoho Books emulator: it imports nothing
of zbmcp but itself and the socket helper. No module is over MAX_LINES lines. Every import counts, those
inside functions and under TYPE_CHECKING included: a tie is a tie whenever it is made.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "zbmcp"
MAX_LINES = 400

# part -> level; higher levels may import lower ones. Equal levels are peers and may not import each other.
LEVELS = {
    "cli": 9,
    "transports": 8,
    "console": 7,
    "oauth_server": 7,
    "hooks": 7,  # Zoho's webhooks in: an edge, like the console
    "calls": 6,
    "sandbox": 5,
    "zoho": 4,
    "state": 3,
    "core": 2,
    "audit": 2,
    "errors": 0,
    "files": 1,
    "listen": 1,
    "proxies": 1,  # who is asking behind trusted proxies: the console's and the OAuth server's
    "__init__": 1,  # zbmcp/__init__.py: the version
    "__main__": 10,  # python -m zbmcp: the CLI's entry
}
SANDBOX_MAY_USE = {"sandbox", "listen"}  # the socket helper, so a busy port is one clear line there too


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    rule: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}"


def part_of(module: str) -> str:
    """zbmcp.core.policy -> core; zbmcp.errors -> errors; zbmcp -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path, package: Path) -> str:
    relative = path.relative_to(package.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(tree: ast.Module, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module) for each import of the package's own modules in one file."""
    root = module.split(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == root]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != root:
                continue
            if target == root:  # from zbmcp import errors: each name is a module (or the version)
                found += [(node.lineno, f"{root}.{alias.name}") for alias in node.names
                          if alias.name != "__version__"] or [(node.lineno, root)]
            else:
                found.append((node.lineno, target))
    return found


def import_rule_broken(importer: str, imported: str) -> str | None:
    """Why importer may not import imported, or None if it may."""
    mine, theirs = part_of(importer), part_of(imported)
    if mine == theirs:
        return None
    if mine not in LEVELS or theirs not in LEVELS:
        unknown = mine if mine not in LEVELS else theirs
        return f"zbmcp.{unknown} is in no layer: put it in a part's folder (docs/architecture.md)"
    if mine == "sandbox" and theirs not in SANDBOX_MAY_USE:
        return f"the sandbox imports nothing of zbmcp but {sorted(SANDBOX_MAY_USE - {'sandbox'})}: {imported}"
    if LEVELS[theirs] > LEVELS[mine]:
        return f"{mine} may not import {theirs}, a layer above it ({imported})"
    if LEVELS[theirs] == LEVELS[mine]:
        return f"{mine} may not import {theirs}, a peer on its own layer ({imported})"
    return None


def violations(package: Path) -> list[Violation]:
    found: list[Violation] = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        shown = str(path.relative_to(package.parent))
        lines = text.count("\n")
        if lines > MAX_LINES:
            found.append(Violation(shown, lines,
                                   f"{lines} lines, over {MAX_LINES}: split it by what it does"))
        if path.parent == package and path.stem not in LEVELS:
            found.append(Violation(shown, 1,
                                   "a module beside errors.py that is in no part: move it to a folder"))
        module = module_name(path, package)
        for line, imported in imported_modules(ast.parse(text), module, path.name == "__init__.py"):
            rule = import_rule_broken(module, imported)
            if rule:
                found.append(Violation(shown, line, rule))
    return found


def test_every_import_runs_one_way_and_no_module_is_too_long() -> None:
    assert [str(v) for v in violations(PACKAGE)] == []


def _plant(root: Path, relative: str, text: str) -> None:
    path = root / "zbmcp" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(("relative", "text", "expected"), [
    ("core/policy.py", "import os\nfrom zbmcp.calls.server import ZbmcpServer\n",
     "zbmcp/core/policy.py:2: core may not import calls, a layer above it (zbmcp.calls.server)"),
    ("state/local.py", "def f():\n    from zbmcp.zoho.tokens import write\n",
     "zbmcp/state/local.py:2: state may not import zoho, a layer above it (zbmcp.zoho.tokens)"),
    ("audit/events.py", "from zbmcp.core import policy\n",
     "zbmcp/audit/events.py:1: audit may not import core, a peer on its own layer (zbmcp.core)"),
    ("sandbox/api.py", "from zbmcp.core.config import Config\n",
     "zbmcp/sandbox/api.py:1: the sandbox imports nothing of zbmcp but ['listen']: zbmcp.core.config"),
    ("core/facts.py", "from ..calls import runtime\n",
     "zbmcp/core/facts.py:1: core may not import calls, a layer above it (zbmcp.calls)"),
    ("helpers.py", "x = 1\n", "zbmcp/helpers.py:1: a module beside errors.py that is in no part: move "
                              "it to a folder"),
    ("cli/big.py", "x = 1\n" * (MAX_LINES + 1),
     f"zbmcp/cli/big.py:{MAX_LINES + 1}: {MAX_LINES + 1} lines, over {MAX_LINES}: split it by what it does"),
])
def test_the_check_fails_on_a_planted_violation(tmp_path: Path, relative: str, text: str,
                                                expected: str) -> None:
    _plant(tmp_path, "__init__.py", "")
    _plant(tmp_path, "cli/commands.py", "from zbmcp.calls import server\nfrom zbmcp.errors import "
                                        "ZbmcpError\n")
    _plant(tmp_path, relative, text)
    assert [str(v) for v in violations(tmp_path / "zbmcp")] == [expected]
