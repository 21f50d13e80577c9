"""`zbmcp operator add` and `zbmcp console`, as a person types them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
from anyio.streams.text import TextReceiveStream

from tests.conftest import agent, config_text, environ, said_port
from tests.console.conftest import sign_in
from zbmcp.core.config_parse import parse_config
from zbmcp.core.credentials import verify_secret

ZBMCP = [sys.executable, "-m", "zbmcp"]


def run(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ZBMCP, *args], capture_output=True, text=True, timeout=60, env=env, input=stdin)


def write_config(sandbox, home: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "zbmcp.yaml"
    path.write_text("# the team's config\n" + config_text(sandbox, {"bookkeeper": agent(["invoices:read"])},
                                                          audit={"path": "audit.jsonl"}))
    return path, {**environ(sandbox, home), "PATH": "/usr/bin:/bin"}


def test_operator_add_prints_a_secret_once_and_stores_only_its_hash(sandbox, home, tmp_path):
    path, env = write_config(sandbox, home, tmp_path)
    added = run("operator", "add", "olivia", "--config", str(path), env=env)
    chosen = run("operator", "add", "oscar", "--config", str(path), "--secret-stdin", env=env,
                 stdin="a passphrase oscar chose\n")
    short = run("operator", "add", "otto", "--config", str(path), "--secret-stdin", env=env, stdin="short\n")
    taken = run("operator", "add", "olivia", "--config", str(path), env=env)
    assert added.returncode == 0 and chosen.returncode == 0, added.stderr + chosen.stderr
    secret = added.stdout.strip()
    text = path.read_text()
    assert text.startswith("# the team's config\n")  # the file's own comments and layout survive
    assert secret not in text and "a passphrase oscar chose" not in text and chosen.stdout == ""
    operators = parse_config(text, str(path), env).config.operators
    assert verify_secret(secret, operators["olivia"].secret)
    assert verify_secret("a passphrase oscar chose", operators["oscar"].secret)
    assert not verify_secret(secret, operators["oscar"].secret)
    assert short.returncode == 1 and "at least 12 characters" in short.stderr \
        and "otto" not in path.read_text()
    assert taken.returncode == 1 and "operator 'olivia' exists" in taken.stderr


async def test_zbmcp_console_serves_the_console_for_a_local_user(sandbox, home, tmp_path):
    path, env = write_config(sandbox, home, tmp_path)
    secret = run("operator", "add", "olivia", "--config", str(path), env=env).stdout.strip()
    async with await anyio.open_process([*ZBMCP, "console", "--config", str(path), "--port", "0"],
                                        env=env) as process:
        try:
            assert process.stderr is not None
            with anyio.fail_after(30):
                said = ""
                async for text in TextReceiveStream(process.stderr):
                    said += text
                    if "(Ctrl-C stops it)" in said:  # the whole line, with its port
                        break
            port = said_port(said, after="console at ")
            base = f"http://127.0.0.1:{port}"
            async with httpx2.AsyncClient() as http:
                root = await http.get(f"{base}/")
                signed = await sign_in(http, base, secret=secret)
                access = await http.get(f"{base}/console/access")
        finally:
            process.terminate()
            with anyio.fail_after(15):
                await process.wait()
    assert f"console at http://127.0.0.1:{port}/console/" in said
    assert root.status_code == 303 and root.headers["location"] == "/console/"
    assert signed.status_code == 303
    assert access.status_code == 200 and 'data-agent="bookkeeper"' in access.text


def test_access_compare_says_what_a_new_config_would_grant_or_take_away(sandbox, home, tmp_path):
    old = tmp_path / "old.yaml"
    new = tmp_path / "new.yaml"
    old.write_text(config_text(sandbox, {"bookkeeper": agent(["invoices:*"], exclude=["delete_invoice"],
                                                             require_approval=["email_invoice"]),
                                         "reporting": agent(["*:read"])}))
    new.write_text(config_text(sandbox, {"bookkeeper": agent(["invoices:*"], ["10234695", "10234696"]),
                                         "reporting": agent(["contacts:read"])}))
    env = {"PATH": "/usr/bin:/bin"}  # no secrets in the environment: ${VARIABLES} are never read
    compared = run("access", "compare", str(old), str(new), env=env)
    same = run("access", "compare", str(old), str(old), env=env)
    assert compared.returncode == 0, compared.stderr
    lines = compared.stdout.splitlines()
    assert "grants  bookkeeper       organization 10234696        no access -> access" in lines
    assert "grants  bookkeeper       delete_invoice               hidden -> write" in lines
    assert "grants  bookkeeper       email_invoice                approval -> write" in lines
    assert "takes   reporting        list_invoices                read -> hidden" in lines
    assert same.stdout == "No agent would gain or lose anything.\n"


def test_access_compare_reads_a_proposed_config_with_aliases_bounded(tmp_path):
    """A config under review may come from anyone: an alias bomb or an alias inside itself is a clear
    error."""
    from tests.console.test_security import ALIAS_BOMB, SELF_ALIAS

    old, bomb, loop = tmp_path / "old.yaml", tmp_path / "bomb.yaml", tmp_path / "loop.yaml"
    old.write_text("agents: {}\n")
    bomb.write_text(ALIAS_BOMB)
    loop.write_text(SELF_ALIAS)
    env = {"PATH": "/usr/bin:/bin"}
    bombed, looped = run("access", "compare", str(old), str(bomb), env=env), \
        run("access", "compare", str(old), str(loop), env=env)
    assert bombed.returncode != 0 and "more than 20000 values (aliases repeating aliases?)" in bombed.stderr
    assert looped.returncode != 0 \
        and f"{loop}:2: an alias refers to a value that contains it" in looped.stderr
