"""Every command block of README.md and docs/ runs as written, from a fresh shell, as a reader who followed
the README has it (tests/docs_terminals.py: a copy of the clone with the venv active, an empty home, a
network of its own).

Each ```bash block is a step of one walkthrough below, in the doc's order and in the terminal the doc says
(a server keeps its terminal until the walkthrough ends, when it gets Ctrl-C), or is listed in NOT_RUN with
the reason it cannot run offline. A block in neither fails the test that lists them, so no block goes
unrun unnoticed. What a walkthrough assumes the reader did before (say, the README's config saved as
zbmcp.yaml) is its `setup`, run first in each of its terminals.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs_terminals import REPO, Session, Terminal, why_no_namespaces

DOCS = ["README.md", *sorted(str(path.relative_to(REPO)) for path in (REPO / "docs").glob("*.md"))]
PINNED = json.loads((REPO / "tests" / "node" / "package.json").read_text())["devDependencies"]
INSPECTOR = f"npx -y @modelcontextprotocol/inspector@{PINNED['@modelcontextprotocol/inspector']}"
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.M | re.S)  # in a list item too, indented


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    language: str
    text: str


def fences(doc: str) -> list[Block]:
    text = (REPO / doc).read_text(encoding="utf-8")
    return [Block(doc, text.count("\n", 0, found.start()) + 1, found.group(2),
                  textwrap.dedent(found.group(3)))
            for found in FENCE.finditer(text)]


def command_blocks() -> list[Block]:
    return [block for doc in DOCS for block in fences(doc) if block.language == "bash"]


@dataclass(frozen=True)
class Step:
    """One block, found by how it starts. `ready`: it serves; wait for this text and leave it running.
    `expect`: texts its output holds. `typed`: what the reader types at its prompt. `fails`: the doc says its
    command fails (a tool error, say)."""

    doc: str
    starts: str
    terminal: str = "a"
    ready: str | None = None
    expect: tuple[str, ...] = ()
    typed: str | None = None
    fails: bool = False

    def block(self) -> Block:
        found = [block for block in command_blocks() if block.doc == self.doc
                 and block.text.startswith(self.starts)]
        assert len(found) == 1, f"{self.doc}: {len(found)} blocks start with {self.starts!r}"
        return found[0]


@dataclass(frozen=True)
class Walkthrough:
    name: str
    steps: tuple[Step, ...]
    setup: str = ""


def section_yaml(doc: str, heading: str) -> str:
    """The first ```yaml block after a heading: the config a doc's later commands use."""
    section = (REPO / doc).read_text(encoding="utf-8").split(heading, 1)[1]
    found = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert found, f"{doc}: no yaml after {heading!r}"
    return found.group(1)


def commented_output(doc: str, starts: str) -> tuple[str, ...]:
    """The lines a block shows as its output, `# zbmcp: ...` comments under the command."""
    lines = Step(doc, starts).block().text.splitlines()
    return tuple(line[2:] for line in lines if line.startswith("# zbmcp"))


def output_after(doc: str, starts: str) -> tuple[str, ...]:
    """The lines of the plain block that follows a command block: what the doc says it prints."""
    block = Step(doc, starts).block()
    following = next(f for f in fences(doc) if f.line > block.line)
    assert following.language == "", f"{doc}:{following.line} is not the output of {starts!r}"
    return tuple(line for line in following.text.splitlines() if line.strip())


# What the README asks of its reader before its later sections, with values for the config's variables (any
# value does: nothing reaches Zoho).
README_CONFIG = f"""cat > zbmcp.yaml <<'EOF'
{section_yaml("README.md", "## Configuration")}EOF
export ZBMCP_CONFIG="$PWD/zbmcp.yaml" ZOHO_CLIENT_ID=1000.EXAMPLE ZOHO_CLIENT_SECRET=example \\
  ZOHO_REFRESH_TOKEN=1000.example
"""
# docs/console.md compares the README's config with one where bookkeeper may delete and reporting may not list
# invoices
COMPARED_CONFIG = README_CONFIG + """sed -e 's/    exclude: \\[delete_invoice\\]//' \\
  -e 's/    tools: \\["\\*:read"\\]/    tools: ["*:read"]\\n    exclude: [list_invoices]/' \\
  zbmcp.yaml > zbmcp.new.yaml
"""
CONNECTORS_CONFIG = f"""cat > zbmcp.yaml <<'EOF'
{section_yaml("docs/connectors.md", "**3. Add an `oauth:` section")}EOF
export ZBMCP_CONFIG="$PWD/zbmcp.yaml" ZOHO_CLIENT_ID=1000.EXAMPLE ZOHO_CLIENT_SECRET=example \\
  ZOHO_REFRESH_TOKEN=1000.example
"""
SERVING_SANDBOX = "serving MCP on http://127.0.0.1:8000"
TOOLS_LISTED = '"name": "list_invoices"'

WALKTHROUGHS = [
    Walkthrough("README: try it now", (
        Step("README.md", "source .venv/bin/activate"),
        Step("README.md", f"{INSPECTOR} --cli .venv/bin/zbmcp serve --sandbox",
             expect=("Listed 2 invoices",)),
        Step("README.md", 'echo "$PWD/.venv/bin/zbmcp serve --sandbox"', expect=("/.venv/bin/zbmcp serve",)),
        Step("README.md", ".venv/bin/zbmcp serve --sandbox --transport http", ready=SERVING_SANDBOX,
             expect=("no key needed",)),
        Step("README.md", f"{INSPECTOR} --cli http://127.0.0.1:8000/mcp", "b", expect=(TOOLS_LISTED,)),
    )),
    Walkthrough("README: the sandbox", (
        Step("README.md", ".venv/bin/zbmcp sandbox --port 8765",
             ready="Press Ctrl-C to stop.", expect=("API base URL:   http://127.0.0.1:8765/books/v3",)),
    )),
    Walkthrough("README: running hosted", setup=README_CONFIG, steps=(
        Step("README.md", "zbmcp agent key bookkeeper", ready="serving MCP on http://0.0.0.0:8000",
             expect=("zbmcp_", "added the hash of this key to agent 'bookkeeper'")),
    )),
    Walkthrough("hosting: try it in one minute", (
        Step("docs/hosting.md", "zbmcp serve --sandbox --transport http\n", ready=SERVING_SANDBOX,
             expect=commented_output("docs/hosting.md", "zbmcp serve --sandbox --transport http\n")),
        Step("docs/hosting.md", f"{INSPECTOR} --cli http://127.0.0.1:8000/mcp --method tools/list", "b",
             expect=(TOOLS_LISTED,)),
    )),
    Walkthrough("hosting: with a key", (
        Step("docs/hosting.md", "export ZBMCP_SANDBOX_KEY=", ready=SERVING_SANDBOX,
             expect=("every request needs `Authorization: Bearer <the value of $ZBMCP_SANDBOX_KEY>`",)),
        Step("docs/hosting.md", f"{INSPECTOR} --cli http://127.0.0.1:8000/mcp \\\n  --header",
             expect=(TOOLS_LISTED,)),
    )),
    Walkthrough("hosting: serving over HTTP, keys, Claude Desktop", setup=README_CONFIG, steps=(
        Step("docs/hosting.md", "zbmcp agent key bookkeeper  ", expect=("zbmcp_",)),
        Step("docs/hosting.md", "zbmcp claude-config --agent bookkeeper",
             expect=('"zoho-books-bookkeeper"', '"ZOHO_CLIENT_SECRET": "<the value of ZOHO_CLIENT_SECRET>"')),
        Step("docs/hosting.md", "zbmcp serve --config zbmcp.yaml --transport http --host 0.0.0.0 --port 8000",
             "b", ready="serving MCP on http://0.0.0.0:8000"),
    )),
    Walkthrough("console: try it on the sandbox", (
        Step("docs/console.md", ".venv/bin/zbmcp sandbox --port 8765", ready="Press Ctrl-C to stop."),
        Step("docs/console.md", "source .venv/bin/activate\nmkdir -p ~/zbmcp-console", "b",
             ready=SERVING_SANDBOX, expect=("added operator 'olivia'",)),
        # it waits console.hold_seconds (20 s), then the Inspector shows the tool's error result and fails
        Step("docs/console.md", "cd ~/zbmcp-console\n", "c", expect=("Waiting for approval",), fails=True),
    )),
    Walkthrough("console: operators, comparing configs", setup=COMPARED_CONFIG, steps=(
        Step("docs/console.md", "zbmcp operator add olivia ", expect=("added operator 'olivia'",)),
        Step("docs/console.md", "zbmcp operator add oscar --secret-stdin", typed="oscar's own secret",
             expect=("added operator 'oscar'",)),
        Step("docs/console.md", "zbmcp access compare zbmcp.yaml zbmcp.new.yaml",
             expect=tuple(line[2:] for line in Step("docs/console.md", "zbmcp access compare").block()
                          .text.splitlines() if line.startswith("# "))),
    )),
    Walkthrough("connectors: try it offline", (
        Step("docs/connectors.md", "zbmcp serve --sandbox --transport http --oauth", ready=SERVING_SANDBOX,
             expect=("a remote MCP server on the embedded sandbox: connect a client to "
                     "http://127.0.0.1:8000/mcp. It sends you to the sandbox's Zoho sign-in page",
                     "sign in as sam@sandbox-trading.example or alice@sandbox-trading.example (password "
                     "`sandbox`) to act as agent 'demo'; mallory@outsider.example is refused")),
    )),
    Walkthrough("connectors: enrollment links", setup=CONNECTORS_CONFIG, steps=(
        Step("docs/connectors.md", "zbmcp oauth enroll --agent bookkeeper",
             expect=("https://zbmcp.example.com/oauth/enroll?t=",)),
    )),
    Walkthrough("sandbox: start it, a token with curl", (
        Step("docs/sandbox.md", "zbmcp sandbox --port 8765  ", ready="Press Ctrl-C to stop.",
             expect=output_after("docs/sandbox.md", "zbmcp sandbox --port 8765  ")),
        Step("docs/sandbox.md", "BASE=http://127.0.0.1:8765", "b",
             expect=('"organization_id": "10234695"', '"contact_name": "Acme Corporation"')),
    )),
    Walkthrough("sandbox: a busy organization", (
        Step("docs/sandbox.md", "zbmcp sandbox --port 8765 --invoices 600", ready="Press Ctrl-C to stop."),
    )),
    Walkthrough("tools: the tables, regenerated", (
        Step("docs/tools.md", "python scripts/tool_table.py README.md docs/tools.md"),
    )),
    Walkthrough("architecture: the layout test", (
        Step("docs/architecture.md", ".venv/bin/python -m pytest tests/test_layout.py -q",
             expect=("[100%]",)),
    )),
]

NOT_RUN_OFFLINE = "a doc's command, not run offline:"  # tests/conftest.py allows these skips in CI
NOT_RUN = {
    ("README.md", "python3 -m venv .venv && .venv/bin/pip install -e ."):
        "installs from the package index; its result is the venv these terminals use",
    ("README.md", "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && npm ci"):
        "installs from the package index and npm's registry, then runs this very suite: .ci/run does that",
    ("README.md", "zbmcp auth login"): "needs a Zoho account, its OAuth client and a browser",
    ("README.md", "zbmcp auth exchange"): "needs a grant code from Zoho's API console",
    ("docs/hosting.md", "docker build -t zbmcp ."):
        "needs Docker and Docker Hub, and publishes port 8000 on every address: tests/test_docker.py builds "
        "this Dockerfile and runs the image the same way (config, volume, variables, stop timeout)",
    ("docs/hosting.md", "npm ci --prefix tests/node"):
        "installs from npm's registry; tests/test_packaging.py checks the bundle it builds",
    ("docs/webhooks.md", "zbmcp hooks add payments"):
        "registers a webhook at the Zoho organization of the reader's config: tests/hooks/test_cli_hooks.py "
        "runs it against a loopback sandbox",
    ("docs/console.md", "ZBMCP_SCREENSHOTS=1"):
        "drives Chromium (a browser), and rewrites the screenshots: tests/console/test_browser.py runs here",
}


@pytest.mark.parametrize("listed", NOT_RUN, ids=[f"{doc}: {starts[:40]}" for doc, starts in NOT_RUN])
def test_the_blocks_that_cannot_run_offline_are_said_so(listed):
    pytest.skip(f"{NOT_RUN_OFFLINE} {listed[0]}: {listed[1].splitlines()[0]}: {NOT_RUN[listed]}")


def not_run(block: Block) -> str | None:
    return next((reason for (doc, starts), reason in NOT_RUN.items()
                 if doc == block.doc and block.text.startswith(starts)), None)


def test_every_command_block_is_run_or_says_why_not():
    planned = [step.block() for walkthrough in WALKTHROUGHS for step in walkthrough.steps]
    skipped = [block for block in command_blocks() if not_run(block)]
    assert len(skipped) == len(NOT_RUN)  # each reason names a block that is there
    unplanned = [f"{b.doc}:{b.line}: {b.text.splitlines()[0]}" for b in command_blocks()
                 if b not in planned and b not in skipped]
    assert not unplanned, "command blocks neither run nor listed in NOT_RUN:\n" + "\n".join(unplanned)
    assert len(planned) == len(set(planned)) and not set(planned) & set(skipped)


COMMAND_WORDS = re.compile(r"^(zbmcp [a-z-]+( |$)|\.venv/bin/|python3? |npx |npm |docker |curl |export |cd )",
                           re.M)


def test_no_command_hides_in_a_block_that_is_not_marked_bash():
    hidden = [f"{block.doc}:{block.line}" for doc in DOCS for block in fences(doc)
              if block.language != "bash" and COMMAND_WORDS.search(block.text)]
    assert not hidden, f"mark these ```bash, so that they are run: {hidden}"


def test_the_readme_tells_its_reader_to_activate_the_venv_before_the_docs_use_plain_zbmcp():
    blocks = [block.text.strip() for block in command_blocks() if block.doc == "README.md"]
    assert blocks[:2] == ["python3 -m venv .venv && .venv/bin/pip install -e .", "source .venv/bin/activate"]


def test_the_readme_shows_what_claude_config_prints_for_the_sandbox(tmp_path):
    shown = json.loads(next(b.text for b in fences("README.md") if b.language == "json"
                            and "zoho-books-sandbox" in b.text))
    printed = subprocess.run([sys.executable, "-m", "zbmcp", "claude-config", "--sandbox"],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path, check=True,
                             env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    entry = json.loads(printed.stdout)["mcpServers"]["zoho-books-sandbox"]
    shown_entry = shown["mcpServers"]["zoho-books-sandbox"]
    assert entry["args"] == shown_entry["args"]
    assert Path(entry["command"]).is_absolute() and Path(entry["command"]).parent.name == "bin"
    assert Path(entry["command"]).name.startswith("python") and shown_entry["command"].endswith("/bin/python")


def shown(text: str, printed: str) -> bool:
    """Whether `printed` holds `text`, where a doc's `...` stands for anything on that line."""
    pattern = "[^\n]*".join(re.escape(part) for part in text.split(" ... "))
    return re.search(pattern, printed) is not None


def run_step(session: Session, terminal: Terminal, step: Step) -> None:
    block = step.block()
    since, done = terminal.start(block.text, step.typed, fails=step.fails)
    where = f"{block.doc}:{block.line} in terminal {terminal.name}"
    if step.ready is not None:
        printed = terminal.wait_for(step.ready, since, seconds=90)
    else:
        printed = terminal.wait_for(done, since, seconds=180)
    expected = step.expect + (("failed: ",) if step.fails else ())
    missing = [text for text in expected if not shown(text, printed)]
    assert not missing, f"{where} did not print {missing}:\n{printed[-4000:]}"


@pytest.mark.skipif(why_no_namespaces() is not None, reason=f"docs' commands: {why_no_namespaces()}")
@pytest.mark.parametrize("walkthrough", WALKTHROUGHS, ids=[w.name for w in WALKTHROUGHS])
def test_the_docs_commands_run_as_written(walkthrough, tmp_path):
    session = Session(tmp_path, PINNED["@modelcontextprotocol/inspector"])
    try:
        for step in walkthrough.steps:
            fresh = step.terminal not in session.terminals
            terminal = session.terminal(step.terminal)
            if fresh and walkthrough.setup:
                since, done = terminal.start(walkthrough.setup)
                terminal.wait_for(done, since, seconds=60)
            run_step(session, terminal, step)
    finally:
        session.close()
    printed = {name: terminal.output() for name, terminal in session.terminals.items()}
    crashed = [name for name, text in printed.items() if "Traceback (most recent call last)" in text]
    assert not crashed, "\n".join(printed[name][-4000:] for name in crashed)
    assert session.changed_files() == []  # the docs' commands leave the clone's own files as they were
