"""Every package zbmcp imports directly is one it declares: a package that arrives only through another's
requirements can leave with that package's next release."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OPTIONAL = {"keyring"}  # zbmcp[keyring]: imported only when a connection asks for the keychain


def _declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["keyring"]]
    return {re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def _imported_packages(package: Path) -> dict[str, str]:
    """Top-level name -> the first file:line importing it, for every non-stdlib import under package."""
    found: dict[str, str] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and not node.level and node.module
                     else [])
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "zbmcp":
                    found.setdefault(top, f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_every_directly_imported_package_is_declared() -> None:
    distributions = packages_distributions()
    declared = _declared()
    undeclared = {
        f"{where}: {top} (from {', '.join(distributions.get(top, ['?']))})"
        for top, where in _imported_packages(REPO / "zbmcp").items()
        if not {d.lower() for d in distributions.get(top, [top])} & declared
    }
    assert not undeclared, "add to pyproject.toml's dependencies: " + "; ".join(sorted(undeclared))
