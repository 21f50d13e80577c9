"""The core is pure: importing any zbmcp.core module in a fresh interpreter loads no MCP SDK, no HTTP
server or client, no async stack, no Redis, no platformdirs, no crypto, templates or OAuth library, and
nothing of zbmcp outside the core, the errors and the private-file helper. CEL loads only for a config with
rules.

Each module is imported in its own interpreter (what an earlier import loaded would hide what a later one
brings), and every module that comes along is traced to the import that brought it, so a failure names the
chain: zbmcp.core.requests -> zbmcp.core.tools -> mcp.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "zbmcp" / "core"
CORE_MODULES = sorted("zbmcp.core" + ("" if path.stem == "__init__" else f".{path.stem}")
                      for path in CORE.glob("*.py"))

IMPURE_PACKAGES = frozenset({"mcp", "mcp_types", "anyio", "httpx2", "starlette", "uvicorn", "redis",
                             "platformdirs", "cryptography", "jinja2", "authlib"})
ZBMCP_PURE = frozenset({"zbmcp", "zbmcp.core", "zbmcp.errors", "zbmcp.files"})

# Run in the fresh interpreter: import sys.argv[1], then print every module that came with it, each with
# the module whose import statement loaded it.
PROBE = """
import builtins, importlib, json, sys

already = set(sys.modules)
brought_by = {}
real_import = builtins.__import__


def traced_import(name, globals=None, locals=None, fromlist=(), level=0):
    before = set(sys.modules)
    try:
        return real_import(name, globals, locals, fromlist, level)
    finally:
        importer = (globals or {}).get("__name__", "?")
        for new in set(sys.modules) - before:
            brought_by.setdefault(new, importer)


builtins.__import__ = traced_import
importlib.import_module(sys.argv[1])
print(json.dumps({name: brought_by.get(name, sys.argv[1]) for name in set(sys.modules) - already}))
"""


def loaded_with(module: str, path: Path = REPO) -> dict[str, str]:
    """Every module importing `module` loads in a fresh interpreter -> the module that imported it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", PROBE, module], capture_output=True, text=True, env=env,
                          cwd=path, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def impure(name: str) -> bool:
    if name.split(".")[0] == "zbmcp":
        return name not in ZBMCP_PURE and not name.startswith("zbmcp.core.")
    return name.split(".")[0] in IMPURE_PACKAGES


def findings(module: str, loaded: dict[str, str]) -> list[str]:
    """Each impure module that a pure one brought in, with the chain of imports from `module` to it."""
    found = []
    for name in sorted(filter(impure, loaded)):
        chain = [name]
        while chain[-1] != module and chain[-1] in loaded and len(chain) < 50:
            chain.append(loaded[chain[-1]])
        if not any(map(impure, chain[1:])):  # else what brought it in is the finding
            found.append(" -> ".join(reversed(chain)))
    return found


def distributions(loaded: dict[str, str]) -> list[str]:
    """The installed distributions whose modules came along (Python's standard library is none of them)."""
    installed = importlib.metadata.packages_distributions()
    return sorted({dist for name in loaded for dist in installed.get(name.split(".")[0], ())})


@pytest.mark.parametrize("module", CORE_MODULES)
def test_importing_a_core_module_brings_nothing_impure(module: str) -> None:
    loaded = loaded_with(module)
    found = findings(module, loaded)
    assert not found, f"{module} brings {', '.join(distributions(loaded))}, through:\n" + "\n".join(found)


def test_an_impure_import_is_found_and_traced(tmp_path: Path) -> None:
    (tmp_path / "planted.py").write_text("import zbmcp.core.regions\nimport platformdirs\nimport zbmcp.cli\n")
    loaded = loaded_with("planted", tmp_path)
    assert findings("planted", loaded) == ["planted -> platformdirs", "planted -> zbmcp.cli"]
    assert findings("zbmcp.core.regions", loaded_with("zbmcp.core.regions")) == []


CEL_PROBE = """
import sys

from zbmcp.calls.catalog import load_manifests
from zbmcp.core.config_parse import parse_config
from zbmcp.core.policy import policies

config = '''
connections: {main: {client_id: id, client_secret: secret}}
agents:
  bookkeeper:
    connection: main
    organizations: ["1"]
    tools: [create_invoice]
'''
specs = load_manifests()
policies(parse_config(config, "zbmcp.yaml", {}), specs)
print("cel.cel" in sys.modules)  # the engine (zbmcp.core.rules loads it alone)
policies(parse_config(config + "    rules: [{approve: amount > 5000.0}]\\n", "zbmcp.yaml", {}), specs)
print("cel.cel" in sys.modules)  # the engine (zbmcp.core.rules loads it alone)
"""


def test_cel_loads_only_for_a_config_with_rules() -> None:
    done = subprocess.run([sys.executable, "-c", CEL_PROBE], capture_output=True, text=True, cwd=REPO,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
