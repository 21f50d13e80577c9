"""Issue #26: how long from Zoho's webhook delivery to the notification a subscribed MCP client receives.

    python bench/webhook_latency.py [--runs 50] [--redis URL] [--write]

One zbmcp serves over Streamable HTTP on 127.0.0.1 (the embedded sandbox plays Zoho, in process); a 2026-07-28
client listens to zbmcp://events/<organization>/customerpayments; each run posts one signed delivery to
/hooks/payments and times (a) the intake's answer and (b) the notification's arrival. The watch reads the
State every 0.2 s, so (b) is about 0.1 s on average plus the intake. `--redis URL` keeps the State in Redis
(a fleet's setting) instead of local files. Target: the notification within 1 s (p90).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio  # noqa: E402
import httpx2  # noqa: E402
import yaml  # noqa: E402
from common import load_average, machine, now_iso, summarize, write_results  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from zbmcp.calls.event_watch import resource_uri  # noqa: E402
from zbmcp.calls.runtime import open_runtime  # noqa: E402
from zbmcp.core.config_parse import parse_config  # noqa: E402
from zbmcp.core.credentials import key_hash, new_api_key  # noqa: E402
from zbmcp.sandbox import Sandbox, SandboxSettings  # noqa: E402
from zbmcp.transports.http import HttpServer  # noqa: E402

TARGET_MS = 1000.0
SECRET = "Bench0Webhook0Secret1"


def config(sandbox: Sandbox, key: str, redis: str | None) -> dict[str, Any]:
    organization = sandbox.credentials.organization_ids[0]
    document: dict[str, Any] = {
        "connections": {"main": {"region": "eu", "client_id": sandbox.credentials.client_id,
                                 "client_secret": sandbox.credentials.client_secret,
                                 "refresh_token": sandbox.credentials.refresh_token,
                                 "api_base_url": "http://sandbox.test/books/v3",
                                 "accounts_url": "http://sandbox.test", "token_store": "memory"}},
        "agents": {"collector": {"connection": "main", "organizations": [organization],
                                 "tools": ["customerpayments:read"], "api_keys": [key_hash(key)]}},
        "hooks": {"payments": {"connection": "main", "organization": organization,
                               "module": "customerpayments", "secret": SECRET, "verify": "signature"}},
    }
    if redis:
        document["state"] = {"backend": "redis", "url": redis, "key_prefix": f"bench-{time.time_ns()}:",
                             "encryption_key": "x" * 32}
    return document


async def run(runs: int, redis: str | None) -> dict[str, Any]:
    sandbox = Sandbox(SandboxSettings())
    key = new_api_key()[0]
    organization = sandbox.credentials.organization_ids[0]
    uri = resource_uri(organization, "customerpayments")
    intake, notified = [], []
    with tempfile.TemporaryDirectory() as home:
        text = yaml.safe_dump(config(sandbox, key, redis))
        loaded = parse_config(text, str(Path(home) / "zbmcp.yaml"), {"ZBMCP_HOME": home})
        async with open_runtime(loaded, transport=httpx2.ASGITransport(app=sandbox.app)) as runtime, \
                anyio.create_task_group() as tasks:
            server = HttpServer(runtime, host="127.0.0.1", port=0)
            await tasks.start(server.serve)
            base = f"http://127.0.0.1:{server.port}"
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http, \
                    Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client, \
                    client.listen(resource_subscriptions=[uri]) as subscription, \
                    httpx2.AsyncClient(base_url=base) as zoho:
                events = aiter(subscription)
                for i in range(runs):
                    body = json.dumps({"payment": {"payment_id": f"bench-{i}-{time.time_ns()}"}}).encode()
                    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                    started = time.perf_counter()
                    answer = await zoho.post("/hooks/payments", content=body, headers={
                        "content-type": "application/json", "X-Zoho-Webhook-Signature": signature})
                    intake.append(time.perf_counter() - started)
                    assert answer.status_code == 200, answer.text
                    with anyio.fail_after(10):
                        await anext(events)
                    notified.append(time.perf_counter() - started)
                    await anyio.sleep(0.05)  # deliveries apart, as Zoho's are
            server.stop()
    told = summarize(notified)
    return {"when": now_iso(), "machine": machine(), "load_average": load_average(),
            "settings": {"runs": runs, "state": "redis" if redis else "local"},
            "intake": summarize(intake), "notified": told, "target_ms": TARGET_MS,
            "met": told["p90_ms"] <= TARGET_MS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--redis", help="a Redis URL for the State (default: local files)")
    parser.add_argument("--write", action="store_true", help="store the results in bench/results.json")
    args = parser.parse_args()
    results = anyio.run(run, args.runs, args.redis)
    print(json.dumps(results, indent=2))
    if args.write:
        write_results("webhook_latency", results)


if __name__ == "__main__":
    main()
