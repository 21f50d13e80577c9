"""`zbmcp audit verify` proves what it says (issue #21.2): every edited, removed or reordered record is named;
with an anchor, anything missing (the log, its chain file, records at either end, a rotated file) fails;
without one, the output says what cannot be proven; a line torn by a full disk is named as torn, and the next
start seals it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import anyio.streams.text
import pytest

from tests.conftest import ORG, agent, config_text, environ, mcp_client, running
from zbmcp.audit.chain import head_path
from zbmcp.audit.log import AuditLog, AuditRecord, read_calls, read_records
from zbmcp.audit.verify import verify
from zbmcp.sandbox import Sandbox
from zbmcp.sandbox.server import AsyncSandboxServer

ZBMCP = [sys.executable, "-m", "zbmcp"]


def _verify(config: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SANDBOX_CLIENT_SECRET": "-", "SANDBOX_REFRESH_TOKEN": "-"}
    return subprocess.run([*ZBMCP, "audit", "verify", "--config", str(config), *map(str, args)],
                          capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def chained_log(make_config, sandbox, tmp_path) -> tuple[Path, Path]:
    """Five calls' records (nine lines) in a log, and the config that names it."""
    log = tmp_path / "audit.jsonl"
    loaded = make_config({"a": agent(["list_items", "get_invoice"])}, audit={"path": str(log)})

    async def calls() -> None:
        async with running(loaded, sandbox, audit=None) as runtime, mcp_client(runtime, "a") as client:
            for _ in range(3):
                await client.call_tool("list_items", {})
            await client.call_tool("create_invoice", {})
            await client.call_tool("get_invoice", {"invoice_id": "1"})

    anyio.run(calls)
    return tmp_path / "zbmcp.yaml", log


def _head(checked: subprocess.CompletedProcess[str]) -> str:
    return checked.stdout.split("Head: ")[1].split()[0]


def _record(tool: str) -> AuditRecord:
    return AuditRecord(time="2026-11-25T10:00:00.000Z", agent="a", tool=tool, scope=None, access="read",
                       organization=None, region=None, decision="allowed", rule="allowed", http_status=200,
                       zoho_code=None, duration_ms=1, arguments=[], call_id=tool)


# -- what the chain shows ------------------------------------------------------------------------------------


def test_verify_passes_an_untouched_log_and_prints_a_head_to_anchor(chained_log):
    config, log = chained_log
    checked = _verify(config)
    assert checked.returncode == 0, checked.stdout
    assert "9 chained records (1 to 9)" in checked.stdout and "Intact. Head: 9:" in checked.stdout
    assert "Not proven" not in checked.stdout
    anchored = _verify(config, "--anchor", _head(checked))
    assert anchored.returncode == 0 and "The anchored record 9 is in place" in anchored.stdout


@pytest.mark.parametrize(("tamper", "named"), [
    (lambda lines: lines.__setitem__(3, lines[3].replace('"list_items"', '"list_itemz"')),
     "record 4 (audit.jsonl line 4) was edited"),
    (lambda lines: lines.pop(4), "record 5 was removed"),
    (lambda lines: lines.insert(5, lines.pop(4)),
     "records out of order: record 6 (audit.jsonl line 5) comes after "
     "record 4"),
    (lambda lines: lines.pop(), "record 9 was removed from the end"),
    # the last record cut in half, as if a write had been torn: the chain file says it was whole
    (lambda lines: lines.__setitem__(8, lines[8][:40]),
     "record 9 was removed from the end (audit.jsonl line 9, what is left of it, is no whole record)"),
    # a record replaced by a line that is no JSON: not passed off as torn
    (lambda lines: lines.__setitem__(4, lines[4][:40] + "\n"),
     "record 5 was removed: the chain jumps from record 4 (audit.jsonl line 4) to 6 (audit.jsonl line 6); "
     "audit.jsonl line 5 between them is no whole record"),
])
def test_verify_names_the_first_edited_removed_or_reordered_record(chained_log, tamper, named):
    config, log = chained_log
    lines = log.read_text().splitlines(keepends=True)
    tamper(lines)
    log.write_text("".join(lines))
    checked = _verify(config)
    assert checked.returncode == 1
    assert "BROKEN: " in checked.stdout and named in checked.stdout, checked.stdout
    assert "torn" not in checked.stdout and "Intact" not in checked.stdout


def test_an_edit_re_hashed_to_look_whole_breaks_the_next_link(chained_log):
    config, log = chained_log
    lines = log.read_text().splitlines(keepends=True)
    record = json.loads(lines[2])
    body = {k: v for k, v in record.items() if k != "hash"} | {"agent": "someone else"}
    text = json.dumps(body, ensure_ascii=False)
    lines[2] = text[:-1] + f', "hash": "{hashlib.sha256(text.encode()).hexdigest()}"}}\n'
    log.write_text("".join(lines))
    checked = _verify(config)
    assert checked.returncode == 1 \
        and "record 3 (audit.jsonl line 3) was edited and re-hashed" in checked.stdout


def test_a_chain_renumbered_from_record_1_is_named(chained_log):
    """The first two records dropped and the rest renumbered and re-hashed from 1: the new record 1 is chained
    to the record that was dropped, not to the start of a chain."""
    config, log = chained_log
    lines = log.read_text().splitlines(keepends=True)[2:]
    record = json.loads(lines[0])
    body = {k: v for k, v in record.items() if k != "hash"} | {"seq": 1}
    text = json.dumps(body, ensure_ascii=False)
    lines[0] = text[:-1] + f', "hash": "{hashlib.sha256(text.encode()).hexdigest()}"}}\n'
    log.write_text("".join(lines))
    checked = _verify(config)
    assert checked.returncode == 1
    assert "record 1 (audit.jsonl line 1) does not start a chain" in checked.stdout


@pytest.mark.parametrize("rotate", ["rename", "copytruncate"])
def test_the_chain_continues_across_rotation(chained_log, rotate):
    config, log = chained_log
    writer = AuditLog(log)  # one writer across the rotation, as a long-running server is
    writer.write(_record("before rotation"))
    if rotate == "rename":  # logrotate's default: rename, and the writer makes a new file
        log.rename(log.with_name("audit.jsonl.1"))
    else:
        shutil.copyfile(log, log.with_name("audit.jsonl.1"))
        os.truncate(log, 0)
    writer.write(_record("after rotation"))
    checked = _verify(config)
    assert checked.returncode == 0, checked.stdout
    assert "11 chained records (1 to 11)" in checked.stdout and "Intact." in checked.stdout
    assert [r["tool"] for r in read_records(log)] == ["after rotation"]
    only_new = _verify(config, log)
    assert only_new.returncode == 0
    assert "Not proven: records 1 to 10 are gone: the chain starts at record 11" in only_new.stdout
    assert "Intact" not in only_new.stdout


def test_several_processes_appending_at_once_keep_one_chain(tmp_path):
    log = tmp_path / "audit.jsonl"
    script = ("import sys; from pathlib import Path; from tests.test_audit_verify import _record; "
              "from zbmcp.audit.log import AuditLog; log = AuditLog(Path(sys.argv[1]), sync='none'); "
              "[log.write(_record(f'p{sys.argv[2]}-{i}')) for i in range(200)]")
    writers = [subprocess.Popen([sys.executable, "-c", script, str(log), str(n)],
                                cwd=Path(__file__).parent.parent)
               for n in range(4)]
    assert [w.wait(timeout=60) for w in writers] == [0] * 4
    result = verify([log], head=head_path(log))
    assert result.proven and result.records == 800, result.problem


# -- what is gone --------------------------------------------------------------------------------------------


def test_a_log_deleted_with_its_chain_file_fails_an_anchor_and_is_not_called_empty(chained_log):
    config, log = chained_log
    head = _head(_verify(config))
    log.unlink()
    head_path(log).unlink()
    anchored = _verify(config, "--anchor", head)
    plain = _verify(config)
    assert anchored.returncode == 1, anchored.stdout
    assert "BROKEN: the anchored record 9 is missing: no audit file holds any record, and the chain file " \
           ".audit.jsonl.chain is gone too" in anchored.stdout
    assert plain.returncode == 0 and "No audit records yet" not in plain.stdout
    assert "Not proven: that no record was ever written: there is no audit log and no chain file" \
        in plain.stdout


def test_a_log_deleted_without_its_chain_file_is_broken_even_without_an_anchor(chained_log):
    config, log = chained_log
    log.unlink()
    checked = _verify(config)
    assert checked.returncode == 1
    assert "BROKEN: the audit log is gone: zbmcp wrote records 1 to 9 (per .audit.jsonl.chain)" \
        in checked.stdout


def test_records_cut_off_the_front_fail_an_anchor_and_are_named_without_one(chained_log):
    config, log = chained_log
    head = _head(_verify(config))
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[3:]))
    anchored = _verify(config, "--anchor", head)
    plain = _verify(config)
    gone = "records 1 to 3 are gone: the chain starts at record 4 (audit.jsonl line 1)"
    assert anchored.returncode == 1 and f"MISSING: {gone}" in anchored.stdout, anchored.stdout
    assert plain.returncode == 0 and f"Not proven: {gone}" in plain.stdout
    assert "Intact" not in plain.stdout
    assert "Unbroken from record 4 to 9, but not proven complete" in plain.stdout
    # an anchor among the records cut off is gone with them
    old_anchor = _verify(config, "--anchor", f"2:{'0' * 64}")
    assert old_anchor.returncode == 1 and "the anchored record 2 is gone" in old_anchor.stdout


def test_a_missing_chain_file_fails_an_anchor_and_is_named_without_one(chained_log):
    config, log = chained_log
    head = _head(_verify(config))
    head_path(log).unlink()
    anchored = _verify(config, "--anchor", head)
    plain = _verify(config)
    gone = ".audit.jsonl.chain, the chain file zbmcp keeps beside the log, is gone: records cut off after " \
           "record 9 would go unseen"
    assert anchored.returncode == 1 and f"MISSING: {gone}" in anchored.stdout, anchored.stdout
    assert plain.returncode == 0 and f"Not proven: {gone}" in plain.stdout and "Intact" not in plain.stdout


def test_a_chain_file_deleted_to_hide_a_cut_end_stays_on_the_record_after_the_next_write(chained_log):
    """The last two records cut off and the chain file deleted, then zbmcp writes again (recreating it): the
    record it writes first says the chain file was gone, so verify cannot call the log intact."""
    config, log = chained_log
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:-2]))
    head_path(log).unlink()
    AuditLog(log).write(_record("list_items"))
    checked = _verify(config)
    assert checked.returncode == 0 and "Intact" not in checked.stdout, checked.stdout
    assert "Not proven: the end of the log before record 8 (audit.jsonl line 8): zbmcp found its chain " \
           "file missing or damaged then" in checked.stdout
    [event] = [r for r in read_records(log) if r.get("event") == "audit.chain_file"]
    assert event["seq"] == 8 and "the chain goes on from record 7, the last in the log" in event["sentence"]


def test_a_missing_rotated_file_is_named(chained_log):
    config, log = chained_log
    writer = AuditLog(log)
    for rotation in (2, 1):  # three files: records 1-9 and 10 in .2, 11 in .1, 12 in the log
        writer.write(_record(f"before rotation {rotation}"))
        log.rename(log.with_name(f"audit.jsonl.{rotation}"))
    writer.write(_record("now"))
    head = _head(_verify(config))
    log.with_name("audit.jsonl.1").unlink()
    middle = _verify(config)
    assert middle.returncode == 1
    assert "record 11 was removed: the chain jumps from record 10 (audit.jsonl.2 line 10) to 12 " \
           "(audit.jsonl line 1): a rotated file between audit.jsonl.2 and audit.jsonl is missing" \
        in middle.stdout
    log.with_name("audit.jsonl.2").unlink()  # the oldest gone too
    oldest = _verify(config)
    anchored = _verify(config, "--anchor", head)
    assert oldest.returncode == 0 and "Not proven: records 1 to 11 are gone" in oldest.stdout \
        and "the oldest rotated file" in oldest.stdout and "Intact" not in oldest.stdout
    assert anchored.returncode == 1 and "MISSING: records 1 to 11 are gone" in anchored.stdout


def test_files_given_on_the_command_line_say_what_they_cannot_prove(chained_log, tmp_path):
    config, log = chained_log
    copy = tmp_path / "elsewhere" / "audit.jsonl"
    copy.parent.mkdir()
    shutil.copyfile(log, copy)
    given = subprocess.run([*ZBMCP, "audit", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert given.returncode == 0
    assert "Not proven: the end: no chain file was read, so records cut off after record 9 would go unseen" \
        in given.stdout and "Intact" not in given.stdout
    live = subprocess.run([*ZBMCP, "audit", "verify", str(log)], capture_output=True, text=True, timeout=60)
    assert live.returncode == 0 and "Intact." in live.stdout  # the chain file beside it is read


@pytest.mark.parametrize("name", ["nonexistent", "a-folder"])
def test_a_file_that_is_not_there_is_a_clear_error(tmp_path, name):
    (tmp_path / "a-folder").mkdir()
    checked = subprocess.run([*ZBMCP, "audit", "verify", str(tmp_path / name)], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode != 0 and "Traceback" not in checked.stderr
    said = {"nonexistent": f"no such file: {tmp_path / name}", "a-folder": f"{tmp_path / name} is not a file"}
    assert said[name] in checked.stderr, checked.stderr


# -- a full disk ---------------------------------------------------------------------------------------------


def test_torn_lines_are_sealed_by_the_next_record_and_verify_says_so(tmp_path):
    """A record cut off midway, and the start of the record meant to seal it cut off too (the disk still
    full): the next write seals both, in the same write as its own record."""
    log = tmp_path / "audit.jsonl"
    AuditLog(log).write(_record("list_items"))
    with log.open("a") as handle:
        handle.write('{"time": "2026-11-25T10:00:01.000Z", "call_id": "x", "ph')
        handle.write('\n{"time": "2026-11-25T10:00:02.000Z", "ev')
    torn = verify([log], head=head_path(log))
    AuditLog(log).write(_record("get_invoice"))
    sealed = verify([log], head=head_path(log))
    assert torn.intact and torn.problem is None and torn.notes == [
        "audit.jsonl lines 2, 3, at the end, are torn: a write cut off midway (a full disk, a power cut) "
        "left part of a record, not tampering; zbmcp seals it with a record that says so when it next starts "
        "or writes"]
    assert sealed.proven and sealed.records == 3, (sealed.problem, sealed.unproven)
    assert sealed.notes == ["audit.jsonl lines 2, 3 were torn (a write cut off midway, e.g. by a full disk) "
                            "and are sealed by record 2 (audit.jsonl line 4): not a record, not tampering"]
    calls = read_calls(log)
    assert [c.get("tool") or c["event"] for c in calls] == ["list_items", "audit.torn", "get_invoice"]
    assert "2 lines of the audit log (96 bytes) were cut off midway" in calls[1]["sentence"]
    assert calls[1]["torn"]["lines"] == 2


def test_a_seal_stays_small_whatever_was_torn(tmp_path):
    """Thousands of junk lines at the end (a damaged disk, or someone): one small record seals them all."""
    log = tmp_path / "audit.jsonl"
    AuditLog(log).write(_record("list_items"))
    with log.open("a") as handle:
        handle.write("{x\n" * 5000 + "{x")
    AuditLog(log).write(_record("get_invoice"))
    seal = log.read_text().splitlines()[-2]
    assert json.loads(seal)["torn"]["lines"] == 5001 and len(seal) < 1000
    result = verify([log], head=head_path(log))
    assert result.proven and result.notes[0].startswith("audit.jsonl lines 2 to 5002 were torn"), result.notes


def test_a_sealed_torn_line_changed_afterwards_is_tampering(tmp_path):
    log = tmp_path / "audit.jsonl"
    AuditLog(log).write(_record("list_items"))
    with log.open("a") as handle:
        handle.write('{"time": "2026-11-25T10:00:01.000Z", "call_id": "torn", "agent": "a", "to')
    AuditLog(log).write(_record("get_invoice"))
    text = log.read_text().replace('"torn", "agent": "a", "to', '"torn", "agent": "b", "to')
    log.write_text(text)
    result = verify([log], head=head_path(log))
    assert result.problem == ("audit.jsonl line 2 is not the torn line record 2 (audit.jsonl line 3) sealed: "
                              "it was changed since")


def test_a_line_that_no_record_seals_is_not_proven(chained_log):
    """A line that is no record, between two records (a zbmcp from before seals, or someone): nothing is
    missing, but verify does not call the log intact."""
    config, log = chained_log
    lines = log.read_text().splitlines(keepends=True)
    lines.insert(4, '{"time": "2026-11-25T10:00:01.000Z", "agent": "mallory", "tool": "delete_contact\n')
    log.write_text("".join(lines))
    checked = _verify(config)
    assert checked.returncode == 0 and "Intact" not in checked.stdout
    assert "Not proven: audit.jsonl line 5: not a whole record, and no record seals it" in checked.stdout \
        and "no record is missing around it (record 5 follows 4)" in checked.stdout


def _limited(limit: int) -> list[str]:
    """zbmcp in a process whose files may not grow past `limit` bytes (RLIMIT_FSIZE): a write past it is cut
    short, as on a full disk."""
    start = ("import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), "
             "resource.getrlimit(resource.RLIMIT_FSIZE)[1])); "
             "os.execv(sys.executable, [sys.executable, '-m', 'zbmcp', *sys.argv[2:]])")
    return [sys.executable, "-c", start, str(limit)]


async def _stdio_session(command: list[str], env: dict[str, str],
                         calls: list[tuple[str, dict[str, Any]]]) -> tuple[int, list[dict[str, Any]], str]:
    """Start `zbmcp serve` over stdio, make the calls one by one, close stdin: its exit code, the calls'
    answers and what it said on stderr."""
    hello = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
             "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"}}}
    answers: list[dict[str, Any]] = []
    errors = bytearray()
    with anyio.fail_after(60):
        async with await anyio.open_process(command, env=env) as process, anyio.create_task_group() as tasks:
            assert process.stdin is not None and process.stdout is not None and process.stderr is not None
            stderr = process.stderr

            async def drain() -> None:  # stderr read as it comes: a full pipe would stall the server
                async for chunk in stderr:
                    errors.extend(chunk)

            tasks.start_soon(drain)
            lines = anyio.streams.text.TextReceiveStream(process.stdout)
            pending = ""

            async def answer() -> dict[str, Any] | None:
                nonlocal pending
                while "\n" not in pending:
                    try:
                        pending += await lines.receive()
                    except anyio.EndOfStream:
                        return None  # it stopped (it would not start)
                line, pending = pending.split("\n", 1)
                return json.loads(line)

            async def send(message: dict[str, Any]) -> None:
                assert process.stdin is not None
                await process.stdin.send((json.dumps(message) + "\n").encode())

            await send(hello)
            if await answer() is not None:
                await send({"jsonrpc": "2.0", "method": "notifications/initialized"})
                for number, (tool, arguments) in enumerate(calls, start=1):
                    await send({"jsonrpc": "2.0", "id": number, "method": "tools/call",
                                "params": {"name": tool, "arguments": arguments}})
                    said = await answer()
                    assert said is not None
                    answers.append(said["result"])
            await process.stdin.aclose()
            code = await process.wait()
    return code, answers, errors.decode()


def _invoice(sandbox: Sandbox) -> dict[str, Any]:
    view = sandbox.store(ORG)
    return {"customer_id": view.contact_id("Acme Corporation"),
            "line_items": [{"item_id": view.item_id("Consulting"), "quantity": 2}]}


async def test_a_full_disk_tears_a_line_the_call_is_refused_and_the_next_start_seals_it(sandbox, home,
                                                                                        tmp_path):
    log = tmp_path / "audit.jsonl"
    async with AsyncSandboxServer(sandbox) as server:
        config = tmp_path / "zbmcp.yaml"
        config.write_text(config_text(sandbox, {"bookkeeper": agent(["invoices:*"])},
                                      base_url=server.base_url, audit={"path": str(log)}))
        env = {**environ(sandbox, home), "PATH": "/usr/bin:/bin"}
        serve = ["serve", "--config", str(config), "--agent", "bookkeeper"]
        code, _, _ = await _stdio_session([*ZBMCP, *serve], env, [("list_invoices", {})])
        assert code == 0
        whole = log.stat().st_size
        invoices = len(sandbox.store(ORG).invoices)
        # The disk fills up 100 bytes into the next record.
        code, answers, _ = await _stdio_session([*_limited(whole + 100), *serve], env,
                                                [("create_invoice", _invoice(sandbox))])
        refused, torn_size = answers[-1], log.stat().st_size
        torn = _verify(config)
        # Still full at the next start: the torn line cannot be sealed, so zbmcp does not start.
        still_full, _, said = await _stdio_session([*_limited(log.stat().st_size), *serve], env, [])
        # Room again: the start seals the torn line before any call.
        code, _, _ = await _stdio_session([*ZBMCP, *serve], env, [])
        sealed = _verify(config)
        code, answers, _ = await _stdio_session([*ZBMCP, *serve], env, [("list_invoices", {})])
        later = _verify(config)
    assert refused["isError"] and refused["structuredContent"]["error"]["type"] == "AuditUnavailable"
    assert "nothing was sent" in refused["structuredContent"]["error"]["message"]
    assert len(sandbox.store(ORG).invoices) == invoices  # the call stopped at its record
    assert torn_size == whole + 100 and b"\n" not in log.read_bytes()[whole:torn_size]  # cut midway
    assert torn.returncode == 0 and "BROKEN" not in torn.stdout and "edited" not in torn.stdout
    assert "audit.jsonl line 3, at the end, is torn: a write cut off midway" in torn.stdout, torn.stdout
    assert still_full == 1 and "a torn line at its end could not be sealed (File too large)" in said, said
    assert sealed.returncode == 0 and "Intact. Head: 3:" in sealed.stdout, sealed.stdout
    assert "audit.jsonl line 3 was torn (a write cut off midway, e.g. by a full disk) and is sealed by " \
           "record 3 (audit.jsonl line 4): not a record, not tampering" in sealed.stdout
    assert later.returncode == 0 and "Intact. Head: 5:" in later.stdout
    assert "sealed by record 3" in later.stdout
    assert not answers[-1]["isError"]
