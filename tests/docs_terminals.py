"""Terminals for tests/test_docs_commands.py: bash shells a reader would type the docs' commands into.

A `Session` is one reader's machine for one walkthrough: a copy of the clone (the working tree, with `.venv`
the venv these tests run in), an empty home, and a network of its own (a network namespace holding only
loopback), so the docs' own ports (8000, 8765) and `--host 0.0.0.0` are used as written without meeting
anything else on this machine. Its terminals share that network and are as the README leaves them: in the
clone, with the venv active. A block is sourced by the terminal's shell, so its `cd`, `export` and background
jobs stay for the next block, as they would; the shell runs with `set -e`, so a failing command ends the
terminal and the test shows what it printed. Stdin of a block is what the reader types (nothing, unless said).

`npx -y @modelcontextprotocol/inspector@VERSION` runs the Inspector that tests/node pins (npx would download
that same version); any other npx fails: these terminals are offline.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parent.parent
NODE_TOOLS = REPO / "tests" / "node"
NODE_22 = NODE_TOOLS / "node_modules" / "node" / "bin" / "node"
INSPECTOR = NODE_TOOLS / "node_modules" / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" \
    / "build" / "index.js"
VENV = Path(sys.prefix)
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LIFETIME_SECONDS = 900  # a session's longest life, whatever becomes of the test that opened it

# lo comes up down in a new network namespace: IFF_UP through the ioctls `ip link set lo up` uses
LOOPBACK_UP = """
import fcntl, socket, struct
with socket.socket() as s:
    flags = struct.unpack('16sH', fcntl.ioctl(s, 0x8913, struct.pack('16sH14x', b'lo', 0))[:18])[1]
    fcntl.ioctl(s, 0x8914, struct.pack('16sH14x', b'lo', flags | 1))
"""


def why_no_namespaces() -> str | None:
    """Why this machine cannot give a session a network of its own, or None."""
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        return "unshare and nsenter (util-linux) are not installed"
    tried = subprocess.run(["unshare", "--user", "--map-root-user", "--net", "true"], capture_output=True,
                           timeout=10)
    if tried.returncode != 0:
        return f"no user and network namespaces here: {tried.stderr.decode().strip()}"
    return None


def copy_clone(target: Path) -> list[str]:
    """The working tree as git sees it (tracked and new files, not what .gitignore leaves out)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True, timeout=30).stdout.decode().split("\0")
    copied = [name for name in listed if name and (REPO / name).is_file()]
    for name in copied:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target / name)
    (target / ".venv").symlink_to(VENV)
    return copied


def npx_for_the_pinned_inspector(bin_dir: Path, version: str, storage: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "npx"
    shim.write_text(f"""#!/bin/sh
# npx, offline: only the Inspector at the version tests/node pins, which is what npx would download
if [ "$1" = "-y" ] && [ "$2" = "@modelcontextprotocol/inspector@{version}" ]; then
    shift 2
    export MCP_STORAGE_DIR="{storage}" MCP_INSPECTOR_SECRET_STORE=memory NODE_NO_WARNINGS=1
    exec "{NODE_22}" "{INSPECTOR}" "$@"
fi
echo "npx: offline here; only npx -y @modelcontextprotocol/inspector@{version} is available" >&2
exit 127
""")
    shim.chmod(0o755)


class Terminal:
    def __init__(self, name: str, session: Session) -> None:
        self.name = name
        self.session = session
        self.log = session.root / f"terminal-{name}.out"
        self._out: IO[bytes] = self.log.open("wb")
        self.blocks = 0
        # timeout: should this test be killed, the shell and what it runs (its group) end all the same
        self.process = subprocess.Popen(
            ["nsenter", f"--target={session.holder.pid}", "--user", "--net", "--",
             "timeout", "-k", "10", str(LIFETIME_SECONDS), "bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE, stdout=self._out, stderr=subprocess.STDOUT, cwd=session.clone,
            env=session.env, start_new_session=True)
        self._send("set -e")

    def _send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def output(self, since: int = 0) -> str:
        return self.log.read_bytes().decode(errors="replace")[since:]

    def start(self, text: str, typed: str | None = None, *, fails: bool = False) -> tuple[int, str]:
        """Source a block; returns where its output starts and the line that says it finished. `fails`: the
        doc expects its (last) command to fail, so the shell carries on and says so."""
        self.blocks += 1
        script = self.session.root / f"block-{self.name}-{self.blocks}.sh"
        script.write_text(text)
        stdin = "/dev/null"
        if typed is not None:
            stdin = str(self.session.root / f"typed-{self.name}-{self.blocks}.txt")
            Path(stdin).write_text(typed + "\n")
        done = f"__block {self.blocks} done__"
        since = len(self.output())
        failed = f" || echo \"__block {self.blocks} failed: $?__\"" if fails else ""
        self._send(f"source {script} < {stdin}{failed}; echo '{done}'")
        return since, done

    def wait_for(self, text: str, since: int, seconds: float) -> str:
        """The output from `since` once it holds `text`; fails if the shell ends first, or after `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            printed = self.output(since)
            if text in printed:
                return printed
            if self.process.poll() is not None:
                raise AssertionError(f"terminal {self.name} ended (exit {self.process.returncode}) before "
                                     f"printing {text!r}:\n{self.output()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"terminal {self.name}: no {text!r} within {seconds} s:\n"
                                     f"{self.output()[-4000:]}")
            time.sleep(0.2)

    def close(self) -> None:
        """Ctrl-C, as a reader stops a server; then the shell and whatever it still runs. The signal goes to
        `timeout`, which passes it on to its group once (a second Ctrl-C would cut a graceful stop short)."""
        for sent, grace in ((signal.SIGINT, 15.0), (signal.SIGTERM, 5.0)):
            if self.process.poll() is not None:
                break
            self.process.send_signal(sent)
            if sent == signal.SIGINT and self.process.stdin is not None:
                self.process.stdin.close()  # the shell ends at the end of its input, once the server is gone
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                continue
        try:  # what is left of its group (background jobs the shell left behind)
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)
        self._out.close()


class Session:
    def __init__(self, root: Path, inspector_version: str) -> None:
        self.root = root
        self.clone = root / "clone"
        self.clone.mkdir()
        self.files = copy_clone(self.clone)
        home, tmp, shims = root / "home", root / "tmp", root / "bin"
        home.mkdir()
        tmp.mkdir()
        npx_for_the_pinned_inspector(shims, inspector_version, root / "inspector")
        self.env = {"HOME": str(home), "TMPDIR": str(tmp), "LANG": "C.UTF-8", "TERM": "dumb",
                    "VIRTUAL_ENV": str(VENV), "PATH": f"{shims}:{VENV / 'bin'}:{SYSTEM_PATH}"}
        self.holder = subprocess.Popen(["unshare", "--user", "--map-root-user", "--net", "sleep",
                                        str(LIFETIME_SECONDS)],
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_for_own_network()
        subprocess.run(["nsenter", f"--target={self.holder.pid}", "--user", "--net", "--", sys.executable,
                        "-c", LOOPBACK_UP], check=True, timeout=30)
        self.terminals: dict[str, Terminal] = {}

    def _wait_for_own_network(self) -> None:
        ours = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        while True:
            try:
                if os.readlink(f"/proc/{self.holder.pid}/ns/net") != ours \
                        and Path(f"/proc/{self.holder.pid}/comm").read_text().strip() == "sleep":
                    return
            except FileNotFoundError:
                pass
            assert self.holder.poll() is None and time.monotonic() < deadline, "unshare did not start"
            time.sleep(0.05)

    def changed_files(self) -> list[str]:
        """The clone's files that the commands changed or removed."""
        return [name for name in self.files if not (self.clone / name).is_file()
                or (self.clone / name).read_bytes() != (REPO / name).read_bytes()]

    def terminal(self, name: str) -> Terminal:
        if name not in self.terminals:
            self.terminals[name] = Terminal(name, self)
        return self.terminals[name]

    def close(self) -> None:
        for terminal in self.terminals.values():
            terminal.close()
        self.holder.kill()
        self.holder.wait(10)
