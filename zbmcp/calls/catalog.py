"""The tool catalog on disk: every tool manifest zbmcp ships, read and validated at start-up.

In the wheel the manifests are zbmcp/tool_manifests; in a source checkout, the repository's top-level
tool_manifests/. zbmcp.core.manifest_file turns their text into ToolSpec values.
"""

from __future__ import annotations

from pathlib import Path

from zbmcp.core.manifest import ToolSpec
from zbmcp.core.manifest_file import load_manifest_texts
from zbmcp.errors import ConfigError


def default_manifest_dir() -> Path:
    """The manifests shipped in the wheel, or the repository's top-level folder in a source checkout."""
    package = Path(__file__).parent.parent  # zbmcp/
    packaged = package / "tool_manifests"
    if packaged.is_dir():
        return packaged
    return package.parent / "tool_manifests"


def load_manifests(directory: Path | None = None) -> dict[str, ToolSpec]:
    """Load every `*.yaml` in the directory; a typo anywhere fails loudly with the file and the fix."""
    directory = directory or default_manifest_dir()
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ConfigError(f"no tool manifests (*.yaml) found in {directory}")
    return load_manifest_texts((str(path), path.read_text(encoding="utf-8")) for path in files)
