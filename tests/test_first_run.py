"""The first minutes with the `zbmcp` command: --version, and a busy port said in one line before anything
else. (Exit codes of failed checks: test_accounts.py.)"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.conftest import environ
from zbmcp import __version__, cli

ZBMCP = [sys.executable, "-m", "zbmcp"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ZBMCP, *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_version_prints_the_version_and_exits_0():
    done = run("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"zbmcp {__version__}\n", "")


@pytest.fixture
def busy_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize("command", [["serve", "--sandbox", "--transport", "both"], ["sandbox"]])
def test_a_busy_port_is_one_line_before_anything_else(busy_port, command):
    done = run(*command, "--port", str(busy_port))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"zbmcp: cannot listen on 127.0.0.1:{busy_port}: the port is already in "
                           "use (another zbmcp, or another server); stop it or choose another port "
                           "with --port\n")


@pytest.mark.parametrize("transport", ["http", "sse"])
def test_serving_a_config_over_http_on_a_busy_port_says_so_before_opening_anything(
        busy_port, transport, make_config, sandbox, home, capsys, monkeypatch):
    for name, value in environ(sandbox, home).items():
        monkeypatch.setenv(name, value)
    loaded = make_config({"a": {"connection": "main", "organizations": ["10234695"], "tools": ["list_items"],
                                "api_keys": ["sha256:" + "0" * 64]}})
    assert cli.main(["serve", "--config", loaded.source.file, "--transport", transport,
                     "--port", str(busy_port)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "already in use" in err

