"""The official MCP conformance suite (@modelcontextprotocol/conformance, pinned in tests/node) against
`zbmcp serve --sandbox --transport http`, the command a new user runs, at both protocol wires zbmcp serves.

The suite runs once per revision (two Node processes, ~10 s together); each applicable scenario is then one
test here. tests/node/README.md says which scenarios apply, and why the others do not.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

NODE_TOOLS = Path(__file__).parent / "node"
# npm's `node` package: Node 22, no system install
NODE_22 = NODE_TOOLS / "node_modules" / "node" / "bin" / "node"
SUITE = NODE_TOOLS / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
README = NODE_TOOLS / "README.md"

pytestmark = pytest.mark.skipif(
    not (NODE_22.is_file() and SUITE.is_file()),
    reason="the MCP conformance suite and Node 22 are not installed: run "
           "`npm ci --prefix tests/node --no-audit --no-fund`")

APPLICABLE = {
    "2025-11-25": ["server-initialize", "ping", "tools-list", "dns-rebinding-protection"],
    "2026-07-28": ["server-stateless", "tools-list", "caching", "http-header-validation",
                   "dns-rebinding-protection", "input-required-result-unsupported-methods",
                   "server-sse-multiple-streams"],
}
# Checks inside applicable scenarios that test what zbmcp does not declare (tests/node/README.md says more).
EXCUSED = {
    ("server-stateless", "sep-2575-server-rejects-undeclared-capability"): "the suite's own test tool",
    ("server-stateless", "sep-2575-missing-capability-http-400"): "the suite's own test tool",
    ("caching", "sep-2549-prompts-list-caching-hints"): "zbmcp declares no prompts",
    ("caching", "sep-2549-resources-list-caching-hints"): "zbmcp declares no resources",
    ("caching", "sep-2549-resources-templates-list-caching-hints"): "zbmcp declares no resources",
}
RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d\d-\d\dT[\d-]+Z$")
SUITE_TIMEOUT = 180


def not_applicable() -> set[str]:
    text = README.read_text(encoding="utf-8")
    table = text.split("<!-- not-applicable:start", 1)[1].split("<!-- not-applicable:end", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.M))


class Server:
    """`zbmcp serve --sandbox --transport http --port 0` as a child process, stopped with SIGTERM."""

    def __init__(self, home: Path) -> None:
        env = {**os.environ, "ZBMCP_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zbmcp", "serve", "--sandbox", "--transport", "http", "--port", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def url(self) -> str:
        while True:
            line = self.lines.get(timeout=30)
            if line is None:
                raise AssertionError("the server stopped: " + "".join(self.stderr))
            self.stderr.append(line)
            if "serving MCP on " in line:
                return line.split("serving MCP on ", 1)[1].split()[0] + "/mcp"

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        while (line := self.lines.get(timeout=10)) is not None:
            self.stderr.append(line)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return "".join(self.stderr)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """For each revision: every scenario the suite ran, with its checks."""
    base = tmp_path_factory.mktemp("conformance")
    server = Server(base / "home")
    by_revision: dict[str, dict[str, list[dict[str, Any]]]] = {}
    try:
        url = server.url()
        for revision in APPLICABLE:
            out = base / revision
            subprocess.run([str(NODE_22), str(SUITE), "server", "--url", url, "--requirements", revision,
                            "-o", str(out)],
                           cwd=base, capture_output=True, text=True, timeout=SUITE_TIMEOUT, check=False)
            by_revision[revision] = {}
            for folder in out.iterdir():
                name = RESULT_DIR.match(folder.name)
                assert name, f"unexpected result folder {folder.name}"
                by_revision[revision][name["scenario"]] = json.loads((folder / "checks.json").read_text())
    finally:
        output = server.stop()
    assert "Traceback" not in output, output
    return by_revision


@pytest.mark.parametrize(("revision", "scenario"),
                         [(revision, scenario) for revision, scenarios in APPLICABLE.items()
                          for scenario in scenarios])
def test_every_applicable_scenario_passes(results, revision, scenario):
    assert scenario in results[revision], f"the suite did not run {scenario} at {revision}"
    checks = results[revision][scenario]
    failed = [f"{c['id']}: {c.get('errorMessage') or c.get('description')}" for c in checks
              if c["status"] == "FAILURE" and (scenario, c["id"]) not in EXCUSED]
    assert failed == []
    assert any(c["status"] == "SUCCESS" and c["id"] != "wire-schema-valid" for c in checks), checks


def test_every_scenario_the_suite_runs_is_judged_applicable_or_explained(results):
    explained = not_applicable()
    for revision, ran in results.items():
        unclassified = set(ran) - set(APPLICABLE[revision]) - explained
        assert unclassified == set(), "list these in tests/node/README.md, with the reason they do not apply"
    applicable = {scenario for scenarios in APPLICABLE.values() for scenario in scenarios}
    both = explained & applicable
    assert both == {"server-sse-multiple-streams"}  # the one that applies at one wire (2026-07-28) only


def test_every_excused_check_exists_and_still_fails(results):
    """An excused check that starts passing (or is renamed) must come off the list."""
    for (scenario, check), _why in EXCUSED.items():
        statuses = {c["status"] for c in results["2026-07-28"][scenario] if c["id"] == check}
        assert statuses == {"FAILURE"}, (scenario, check, statuses)
