"""Issue #11: state and config files that are damaged or planted. A corrupted token file starts with a warning
and works; the config is rewritten only through a fresh, exclusive, no-follow temporary file."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import agent, config_text, environ, mcp_client, running
from zbmcp import files
from zbmcp.cli import main
from zbmcp.core.credentials import key_hash
from zbmcp.sandbox import Sandbox

FILE_STORE = {"token_store": "file"}


def token_file(home: Path) -> Path:
    return home / "tokens" / "main.json"


def plant(home: Path, damage: Callable[[Path], None]) -> Path:
    path = token_file(home)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    damage(path)
    return path


DAMAGES: dict[str, Callable[[Path], None]] = {
    "not UTF-8": lambda p: p.write_bytes(b'{"access_token": "\xff\xfe"}'),
    "a folder": lambda p: p.mkdir(),
    "a JSON list": lambda p: p.write_text('["access_token", "1000.x"]'),
    "not JSON": lambda p: p.write_text('{"access_token": '),
    "a FIFO": lambda p: os.mkfifo(p),
    "wrong types": lambda p: p.write_text(json.dumps({"access_token": 5, "expires_at": "soon",
                                                      "refresh_at": None})),
    "huge": lambda p: p.write_text(" " * 200_000 + "{}"),
}


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
async def test_a_damaged_token_file_is_moved_aside_with_a_warning_and_rebuilt(
        make_config, sandbox, home, caplog, damage):
    caplog.set_level(logging.WARNING, logger="zbmcp")
    planted = plant(home, DAMAGES[damage])
    loaded = make_config({"a": agent(["list_items"])}, connection=FILE_STORE)
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "a") as client:
        result = await client.call_tool("list_items", {})
    assert not result.is_error, result.content[0].text
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(planted) in w and "moved it to main.json.corrupt-" in w for w in warnings), warnings
    assert [p.name for p in planted.parent.glob("main.json.corrupt-*")]  # kept for a person to look at
    rebuilt = json.loads(planted.read_text())
    assert isinstance(rebuilt["access_token"], str) and stat.S_IMODE(planted.stat().st_mode) == 0o600


async def test_an_impossible_expiry_keeps_the_refresh_token_and_refreshes(make_config, sandbox, home, caplog):
    caplog.set_level(logging.WARNING, logger="zbmcp")
    planted = plant(home, lambda p: p.write_text(json.dumps({
        "access_token": "1000.stale", "expires_at": 1e300, "refresh_at": 1e300,
        "refresh_token": sandbox.credentials.refresh_token, "accounts_server": "http://sandbox.test"})))
    loaded = make_config({"a": agent(["list_items"])}, connection={**FILE_STORE, "refresh_token": None})
    async with running(loaded, sandbox) as runtime, mcp_client(runtime, "a") as client:
        result = await client.call_tool("list_items", {})
    assert not result.is_error, result.content[0].text
    assert any("expires_at is not a possible time" in r.getMessage() for r in caplog.records)
    assert [r.outcome for r in sandbox.token_requests] == ["ok"]  # refreshed once with the salvaged token
    rebuilt = json.loads(planted.read_text())
    assert rebuilt["refresh_token"] == sandbox.credentials.refresh_token and rebuilt["expires_at"] < 1e12
    assert [r.status for r in sandbox.api_requests] == [200]  # the stale token was never tried (no 401)


def test_a_config_that_is_not_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / "zbmcp.yaml"
    path.write_bytes(b"agents:\n  caf\xe9: {}\n")
    shown = subprocess.run([sys.executable, "-m", "zbmcp", "tools", "--config", str(path)],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 1 and "Traceback" not in shown.stderr
    assert f"{path}:2: the config is not UTF-8 text" in shown.stderr


def test_agent_key_never_writes_through_a_symlink_planted_at_its_temporary_path(sandbox, home, tmp_path,
                                                                              monkeypatch, capsys):
    for name, value in environ(sandbox, home).items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "zbmcp.yaml"
    config.write_text(config_text(sandbox, {"alice": agent(["list_items"])}))
    config.chmod(0o640)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    planted = [tmp_path / ".zbmcp.yaml.tmp", tmp_path / ".zbmcp.yaml.0000000000000000.tmp"]
    for link in planted:  # the old fixed name, and the next name zbmcp will pick
        link.symlink_to(victim)
    names = iter([planted[1]])
    real = files.temporary_name
    monkeypatch.setattr(files, "temporary_name", lambda path: next(names, None) or real(path))

    assert main(["agent", "key", "alice", "--config", str(config)]) == 0
    key = capsys.readouterr().out.strip()
    assert victim.read_text() == "precious\n"  # O_EXCL refused the planted link; nothing followed it
    assert all(link.is_symlink() for link in planted)
    assert key_hash(key) in config.read_text() and not config.is_symlink()
    assert stat.S_IMODE(config.stat().st_mode) == 0o640  # the user's permissions are kept
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) \
        == sorted(p.name for p in planted)


def test_a_replaced_file_is_private_from_its_creation(tmp_path, monkeypatch):
    seen: list[int] = []
    real_open = os.open

    def watching_open(path: str, flags: int, mode: int = 0o777, *args: object, **kwargs: object) -> int:
        fd = real_open(path, flags, mode, *args, **kwargs)  # type: ignore[arg-type]
        if str(path).endswith(".tmp"):
            seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
            seen.append(flags)
        return fd

    monkeypatch.setattr(os, "open", watching_open)
    files.replace_file(tmp_path / "token.json", b"{}")
    mode, flags = seen
    assert mode == 0o600 and flags & os.O_EXCL and flags & os.O_NOFOLLOW


def test_the_sandbox_token_file_warning_names_no_secret(sandbox: Sandbox, home, caplog):
    from zbmcp.zoho.tokens import FileTokenStore

    caplog.set_level(logging.WARNING, logger="zbmcp")
    path = plant(home, lambda p: p.write_text(json.dumps({"refresh_token": sandbox.credentials.refresh_token,
                                                           "expires_at": "x"})))
    assert FileTokenStore(path).load() == {"refresh_token": sandbox.credentials.refresh_token}
    assert "expires_at is not a possible time" in caplog.text
    # the warning says what is wrong, never the secret
    assert sandbox.credentials.refresh_token not in caplog.text
