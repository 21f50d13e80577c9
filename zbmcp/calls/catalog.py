"""The tool catalog on disk: the hand-written manifests and the catalog generated from Zoho's OpenAPI files,
read at start-up.

Hand-written tools (tool_manifests/*.yaml, validated by zbmcp.core.manifest_file on every load) win over
generated ones of the same name. The generated catalog (catalog/generated.json, written and checked by
scripts/generate_catalog.py) is loaded as it is, without validating its ~460 entries again
(zbmcp.core.catalog_entry). In the wheel both live inside the package (zbmcp/tool_manifests,
zbmcp/tool_catalog.json); in a source checkout, at the repository's top level.
"""

from __future__ import annotations

import functools
import json
from functools import cache
from pathlib import Path
from typing import Any

from zbmcp.core.catalog_entry import spec_of
from zbmcp.core.manifest import ToolSpec
from zbmcp.core.manifest_file import load_manifest_texts
from zbmcp.core.uploads import offering
from zbmcp.errors import ConfigError

PACKAGE = Path(__file__).parent.parent  # zbmcp/


def default_manifest_dir() -> Path:
    """The manifests shipped in the wheel, or the repository's top-level folder in a source checkout."""
    packaged = PACKAGE / "tool_manifests"
    if packaged.is_dir():
        return packaged
    return PACKAGE.parent / "tool_manifests"


def generated_catalog_path() -> Path:
    packaged = PACKAGE / "tool_catalog.json"
    if packaged.is_file():
        return packaged
    return PACKAGE.parent / "catalog" / "generated.json"


def load_hand_manifests(directory: Path | None = None) -> dict[str, ToolSpec]:
    """Load every `*.yaml` in the directory; a typo anywhere fails loudly with the file and the fix."""
    directory = directory or default_manifest_dir()
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ConfigError(f"no tool manifests (*.yaml) found in {directory}")
    return load_manifest_texts((str(path), path.read_text(encoding="utf-8")) for path in files)


def generated_catalog(path: Path | None = None) -> dict[str, Any]:
    """The generated catalog as written: its tools, the operations it excludes (with why), and which
    operations are hand-written."""
    path = path or generated_catalog_path()
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the tool catalog: {exc}; run: python scripts/generate_catalog.py",
                          file=str(path)) from None
    return data


@functools.cache
def excluded_operations() -> dict[str, str]:
    """Zoho's operations that are no tool, each with why (read when a call names one)."""
    return dict(generated_catalog()["excluded"])


def load_catalog(directory: Path | None = None, generated: Path | None = None) -> dict[str, ToolSpec]:
    """Every tool: the hand-written ones, then each generated tool no hand-written one replaces."""
    specs = load_hand_manifests(directory)
    source = str(generated or generated_catalog_path())
    for name, entry in generated_catalog(generated)["tools"].items():
        if name not in specs:
            specs[name] = offering(spec_of(entry, source))
    return specs


@cache
def own_read(name: str) -> ToolSpec | None:
    """A generated read zbmcp makes for itself (calls.lookups: a tax's rate) whether or not it serves it."""
    entry = generated_catalog()["tools"].get(name)
    if entry is None or entry.get("access") != "read":
        return None
    return spec_of(entry, str(generated_catalog_path()))


def load_manifests(directory: Path | None = None) -> dict[str, ToolSpec]:
    """The tools zbmcp serves: the whole catalog. Which of them an agent's wildcards grant is the agent's
    `catalog:` (zbmcp.core.selectors)."""
    return load_catalog(directory)
