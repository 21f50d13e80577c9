"""Workflow rules with webhook actions: the sandbox calls the webhooks of an organization when its own records
are made (an invoice created, a payment recorded, a bill created, a bank transaction added), signed, and
retries a failed delivery at growing intervals, as Zoho does.

A webhook (POST /settings/webhooks, rules/webhooks.py) is for one module (`entity`). In Zoho a workflow rule
decides when it is called; the sandbox takes every webhook of a module to be on a rule "when a record is
created". The request, as Zoho's help pages describe it: the webhook's method to its URL with its
`additional_parameters` added to the query and its `headers`, the record in the default payload
(`{"payment": {...}}`, application/json), and, when it has a `secret`, an `X-Zoho-Webhook-Signature`: the
HMAC-SHA256 (hex) of the query parameters sorted by name, each written name then value, followed by the raw
JSON body, as Zoho documents it for its Finance apps (Zoho Books does not say how it signs: unverified).

Zoho does not document its retry schedule: `SandboxSettings.webhook_retry_seconds` is the sandbox's (tests
shorten it). A 2xx answer is a delivery; anything else, a timeout or a refused connection, is tried again
after the next interval, until the schedule runs out. Every attempt is in `sandbox.webhooks.attempts`.

Deliveries are made by `run()`, in the event loop that serves the sandbox: the sandbox's HTTP servers run it
(their lifespan), and a test that serves the sandbox in process runs it itself (`async with running()`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import httpx2

if TYPE_CHECKING:
    from zbmcp.sandbox.sandbox import Sandbox

log = logging.getLogger("zbmcp.sandbox")

# The operations whose new record fires a module's webhooks ("POST /banktransactions": a transaction added).
FIRES: dict[str, str] = {
    "POST /invoices": "invoices",
    "POST /customerpayments": "customerpayments",
    "POST /bills": "bills",
    "POST /banktransactions": "banktransactions",
}


@dataclass
class WebhookAttempt:
    """One try at delivering one event: the answer's status, or the error that kept it from one."""

    webhook_id: str
    organization_id: str
    module: str
    record_id: str | None
    attempt: int  # 1 for the first try
    status: int | None = None
    error: str | None = None
    at: float = 0.0


@dataclass
class _Job:
    webhook: dict[str, Any]
    organization_id: str
    module: str
    record_id: str | None
    body: bytes
    attempts: int = field(default=0)


class Workflows:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self.attempts: list[WebhookAttempt] = []
        self._pending: deque[_Job] = deque()
        self._wake: anyio.Event | None = None

    def created(self, operation: str, organization_id: str | None, status: int,
                answer: dict[str, Any]) -> None:
        """After a request: if it made a record of a module with webhooks, queue their deliveries."""
        module = FIRES.get(operation)
        if module is None or organization_id is None or status not in (200, 201):
            return
        key, record = next(((k, v) for k, v in answer.items() if isinstance(v, dict)), (None, None))
        if key is None or record is None:
            return
        body = json.dumps({key: record}).encode()
        record_id = next((str(record[k]) for k in (f"{key}_id", "payment_id", "transaction_id",
                                                   "bank_transaction_id") if record.get(k)), None)
        with self._sandbox.lock:
            hooks = [dict(hook) for hook in self._sandbox.org_store(organization_id).webhooks.values()
                     if hook.get("entity") == module and hook.get("is_active", True)]
        for hook in hooks:
            self._pending.append(_Job(hook, organization_id, module, record_id, body))
        if hooks and self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Deliver what is queued, and what will be, until cancelled."""
        async with httpx2.AsyncClient(follow_redirects=False) as http, anyio.create_task_group() as tasks:
            while True:
                self._wake = anyio.Event()
                while self._pending:
                    tasks.start_soon(self._deliver, http, self._pending.popleft())
                await self._wake.wait()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Workflows]:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self.run)
            try:
                yield self
            finally:
                tasks.cancel_scope.cancel()

    async def _deliver(self, http: httpx2.AsyncClient, job: _Job) -> None:
        settings = self._sandbox.settings
        for delay in (0.0, *settings.webhook_retry_seconds):
            await anyio.sleep(delay)
            job.attempts += 1
            attempt = WebhookAttempt(job.webhook["webhook_id"], job.organization_id, job.module,
                                     job.record_id, job.attempts, at=self._sandbox.clock())
            self.attempts.append(attempt)
            try:
                answer = await http.request(**request_for(job.webhook, job.body),
                                            timeout=settings.webhook_timeout_seconds)
                attempt.status = answer.status_code
                if 200 <= answer.status_code < 300:
                    return
            except httpx2.HTTPError as exc:
                attempt.error = type(exc).__name__
            log.info("webhook %s: attempt %d failed (%s)", job.webhook["webhook_id"], job.attempts,
                     attempt.status or attempt.error)
        log.warning("webhook %s: gave up after %d attempts", job.webhook["webhook_id"], job.attempts)


def request_for(webhook: dict[str, Any], body: bytes) -> dict[str, Any]:
    """The method, URL, headers and body of one delivery."""
    parts = urlsplit(webhook["url"])
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    pairs += [(p["param_name"], p["param_value"]) for p in webhook.get("additional_parameters") or []]
    headers = {h["param_name"]: h["param_value"] for h in webhook.get("headers") or []}
    headers["content-type"] = "application/json"
    if webhook.get("secret"):
        signed = "".join(name + value for name, value in sorted(pairs)).encode() + body
        headers["X-Zoho-Webhook-Signature"] = hmac.new(webhook["secret"].encode(), signed,
                                                       hashlib.sha256).hexdigest()
    url = urlunsplit(parts._replace(query=urlencode(pairs)))
    return {"method": webhook.get("method") or "POST", "url": url, "headers": headers, "content": body}
