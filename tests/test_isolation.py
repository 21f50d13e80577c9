"""The suite is independent of neighbours: a failing test's leaks fail that test, not the next one
(tests/isolation.py). Run in a pytest of its own, as a failing test needs one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LEAKING = '''
import gc
import socket


def test_fails_leaving_a_socket_behind():
    leaked = socket.socket()
    cycle = [leaked]
    cycle.append(cycle)  # freed only by the garbage collector, whenever it runs next
    assert cycle is None


def test_next_one_runs_the_garbage_collector():
    gc.collect()
'''


def test_a_socket_leaked_by_a_failing_test_fails_that_test_not_the_next(tmp_path: Path):
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    (tmp_path / "conftest.py").write_text("from tests.isolation import *  # noqa: F403\n")
    (tmp_path / "test_leaking.py").write_text(LEAKING)
    command = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-p", "no:xdist", "-p",
               "no:asyncio", str(tmp_path)]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "", "COLUMNS": "200"})
    assert "PASSED test_leaking.py::test_next_one_runs_the_garbage_collector" in run.stdout, run.stdout
    assert "ERROR test_leaking.py::test_fails_leaving_a_socket_behind - pytest.PytestUnraisableException" \
        in run.stdout and "ResourceWarning: unclosed <socket.socket" in run.stdout, run.stdout
    assert "1 failed, 1 passed, 1 error" in run.stdout
