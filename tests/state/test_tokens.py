"""The token broker on the State: one refresh per expiry across replicas, tokens encrypted at rest, refusals
shared so that no replica hammers Zoho's accounts server. Both backends."""

from __future__ import annotations

import anyio

from tests.conftest import agent, mcp_client, running
from zbmcp.state import State
from zbmcp.state.tokens import NAMESPACE, EncryptedVault, TokenCipher

KEY = "k" * 40
TOKEN = {"access_token": "1000.secret-access-token", "refresh_token": "1000.secret-refresh",
         "expires_at": 1.0}


async def test_tokens_at_rest_are_encrypted_and_bound_to_their_connection(state: State, caplog):
    await EncryptedVault(state, "main", TokenCipher(KEY)).save(TOKEN)
    sealed = await state.get(NAMESPACE, "main")
    assert isinstance(sealed, bytes) and b"secret" not in sealed and b"1000." not in sealed
    assert await EncryptedVault(state, "main", TokenCipher(KEY)).load() == TOKEN
    assert await EncryptedVault(state, "main", TokenCipher("another key " + "y" * 30)).load() is None
    assert "does not decrypt" in caplog.text
    await state.put(NAMESPACE, "other", sealed, ttl=None)  # copied to another connection's place
    assert await EncryptedVault(state, "other", TokenCipher(KEY)).load() is None
    await state.put(NAMESPACE, "main", b"\x01garbage", ttl=None)
    assert await EncryptedVault(state, "main", TokenCipher(KEY)).load() is None


def shared_tokens_config(make_config, **connection):
    return make_config({"a": agent(["list_items"])},
                       connection={"token_store": "state", **connection},
                       state={"backend": "local", "encryption_key": KEY})


async def test_replicas_refresh_once_per_expiry_and_reuse_each_others_token(
        state: State, make_config, sandbox):
    loaded = shared_tokens_config(make_config)
    async with running(loaded, sandbox, state=state) as one, running(loaded, sandbox, state=state) as two:
        async with mcp_client(one, "a") as first, mcp_client(two, "a") as second:
            for expiry in range(2):
                results = []

                async def call(client, results=results):
                    results.append(await client.call_tool("list_items", {}))

                async with anyio.create_task_group() as group:
                    for client in (first, second, first, second):
                        group.start_soon(call, client)
                assert not any(r.is_error for r in results)
                sandbox.expire_access_tokens()  # Zoho says 401 to the token both replicas hold
    refreshes = [t.outcome for t in sandbox.token_requests if t.grant_type == "refresh_token"]
    assert refreshes == ["ok", "ok"]  # one at start, one after the expiry: not one per replica


async def test_a_refusal_is_shared_so_no_replica_asks_again(state: State, make_config, sandbox):
    loaded = shared_tokens_config(make_config, refresh_token="1000.revoked-or-never-issued")
    async with running(loaded, sandbox, state=state) as one, running(loaded, sandbox, state=state) as two:
        async with mcp_client(one, "a") as first, mcp_client(two, "a") as second:
            refused = await first.call_tool("list_items", {})
            asked = len(sandbox.token_requests)
            also_refused = await second.call_tool("list_items", {})
    assert refused.is_error and "zbmcp auth login --connection main" in refused.content[0].text
    assert also_refused.is_error and "zbmcp auth login" in also_refused.content[0].text
    assert len(sandbox.token_requests) == asked == 1
