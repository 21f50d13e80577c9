"""`zbmcp serve --sandbox` over stdio, as a person or a buggy client meets it: a hint when started in a
terminal, and an answer (not silence) for a line that is not a JSON-RPC message."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import anyio
from anyio.streams.buffered import BufferedByteReceiveStream

from zbmcp.transports.stdio import TERMINAL_HINT

SERVE = [sys.executable, "-m", "zbmcp", "serve", "--sandbox"]


async def test_a_malformed_line_gets_a_json_rpc_error_and_a_stderr_line_and_the_server_goes_on(tmp_path):
    lines = [
        b"this is not json\n",
        # JSON, but not a JSON-RPC message: answered under id 5
        b'{"jsonrpc": "2.0", "id": 5, "method": 5}\n',
        b"\n",  # a blank line is nothing to answer
        b'[1, 2]\n',
        b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}\n',
    ]
    env = {**os.environ, "ZBMCP_HOME": str(tmp_path)}
    with anyio.fail_after(30):
        async with await anyio.open_process(SERVE, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, env=env) as process:
            assert process.stdin is not None and process.stdout is not None and process.stderr is not None
            await process.stdin.send(b"".join(lines))
            stdout = BufferedByteReceiveStream(process.stdout)
            answers = [json.loads(await stdout.receive_until(b"\n", 1 << 20)) for _ in range(4)]
            await process.stdin.aclose()
            code = await process.wait()
            stderr = b"".join([chunk async for chunk in process.stderr]).decode()
    assert answers[0] == {"jsonrpc": "2.0", "id": None, "error": answers[0]["error"]}
    assert answers[0]["error"]["code"] == -32700 \
        and "one JSON-RPC message per line" in answers[0]["error"]["message"]
    assert answers[1]["id"] == 5 and answers[1]["error"]["code"] == -32600
    assert answers[2]["id"] is None and answers[2]["error"]["code"] == -32600
    assert answers[3] == {"jsonrpc": "2.0", "id": 1, "result": {}}  # the server is still there
    assert code == 0
    assert stderr.count("answered a malformed line on stdin") == 3
    assert "this is not json" not in stderr  # a bad line is never echoed: it may hold a secret
    assert TERMINAL_HINT not in stderr  # stdin is a pipe: a client started it


async def test_started_in_a_terminal_it_says_what_it_is_and_how_to_use_it(tmp_path):
    controller, terminal = os.openpty()
    env = {**os.environ, "ZBMCP_HOME": str(tmp_path)}
    try:
        with anyio.fail_after(30):
            async with await anyio.open_process(SERVE, stdin=terminal, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.PIPE, env=env) as process:
                assert process.stderr is not None
                stderr = BufferedByteReceiveStream(process.stderr)
                seen = ""
                while "nothing reaches Zoho" not in seen or TERMINAL_HINT not in seen:
                    seen += (await stderr.receive_until(b"\n", 1 << 16)).decode() + "\n"
                process.terminate()
                await process.wait()
    finally:
        os.close(controller)
        os.close(terminal)
    assert "MCP server" in seen and "README" in seen and "Ctrl-D" in seen
