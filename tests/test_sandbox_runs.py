"""Each `zbmcp serve --sandbox` run is a world of its own: a fresh sandbox, and a State that no other run
(an earlier one, or one beside it) shares. A write repeated within two minutes is answered from the State as
the same call (docs/exactly-once.md); from another run's State it would be another sandbox's record."""

from __future__ import annotations

import anyio

from tests.conftest import mcp_client
from zbmcp.calls.demo import DEMO_AGENT
from zbmcp.cli.serving import sandbox_runtime


async def test_the_same_write_in_the_next_sandbox_run_is_made_again_not_replayed():
    answers = []
    for _ in range(2):
        with anyio.fail_after(60):
            async with sandbox_runtime() as runtime, mcp_client(runtime, DEMO_AGENT) as client:
                answers.append(await client.call_tool("create_contact", {"organization_id": "10234695",
                                                                         "contact_name": "Once Per Run Ltd"}))
                home = runtime.config.home
        assert not home.exists()  # the run's State went with it
    first, second = answers
    assert not first.is_error and not second.is_error, (first.content, second.content)
    assert "Replayed" not in second.content[0].text and (second.meta or {}).get("replay_of") is None
    assert second.structured_content["contact"]["contact_name"] == "Once Per Run Ltd"
