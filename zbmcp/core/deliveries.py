"""One webhook delivery from Zoho, judged: does it prove it knows the hook's secret, what does it say, and
what spots a retry of it. Pure: the intake (zbmcp.hooks) hands in the request's parts and the time.

Two proofs (docs/webhooks.md says which parts are checked against Zoho's documentation):

  * signature: `X-Zoho-Webhook-Signature`, the HMAC-SHA256 (hex; base64 also taken) keyed with the secret of
    the string Zoho's Finance apps document: every query and form parameter, decoded, sorted by name, written
    name then value with nothing between, then the raw JSON body.
  * token: the secret itself, in the `X-Zbmcp-Token` header or the `zbmcp_token` parameter the admin adds to
    the webhook in Zoho; never stored or shown with the event.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from zbmcp.core.config_hooks import MODULES, Hook

SIGNATURE_HEADER = "x-zoho-webhook-signature"
TOKEN_HEADER = "x-zbmcp-token"
TOKEN_PARAMETER = "zbmcp_token"
EVENT_PARAMETER = "event"  # the admin may name the event in the webhook's URL: ?event=created
TIME_FIELDS = ("last_modified_time", "created_time")


class Refused(Exception):
    """A delivery zbmcp will not take: the HTTP status, and why (for the audit record and the sender, never
    quoting a secret)."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status
        self.why = why


@dataclass(frozen=True)
class Delivery:
    payload: dict[str, Any]  # the JSON object, or the form's fields
    params: dict[str, str]  # the URL's query parameters (the token left out)
    verified_by: Literal["signature", "token"]
    unique: str  # the same for Zoho's retries of this delivery, and for nothing else
    event: str | None
    record_id: str | None
    record_time: dt.datetime | None


def judge(hook: Hook, *, content_type: str, query: str, headers: Mapping[str, str], body: bytes,
          now: dt.datetime) -> Delivery:
    """The delivery, or Refused. `headers` are keyed in lower case; `query` is the raw query string."""
    query_pairs = _pairs(query, "query string")
    form_pairs, payload = _body(content_type, body)
    raw_json = body if form_pairs is None else b""
    verified_by = _verify(hook, headers, query_pairs + (form_pairs or []), raw_json)
    kept_query = [(k, v) for k, v in query_pairs if k != TOKEN_PARAMETER]
    kept_form = [(k, v) for k, v in form_pairs or [] if k != TOKEN_PARAMETER]
    if payload is None:
        payload = dict(kept_form)
    params = dict(kept_query)
    canonical = _signed_string(kept_query + kept_form, raw_json)
    record = payload.get(MODULES[hook.module].payload_key)
    record = record if isinstance(record, dict) else payload
    module = MODULES[hook.module]
    record_id = record.get(module.id_field) or (record.get(module.also_id) if module.also_id else None)
    record_time = _record_time(record)
    if record_time is not None and record_time < now - dt.timedelta(seconds=hook.keep_seconds):
        raise Refused(409, f"the record's time ({record_time.isoformat()}) is older than the "
                           f"{hook.keep_hours:g} hours zbmcp remembers deliveries for, so a replay could not "
                           "be told from it")
    event = params.get(EVENT_PARAMETER) or (str(payload[EVENT_PARAMETER]) if isinstance(
        payload.get(EVENT_PARAMETER), str) else None)
    return Delivery(payload=payload, params=params, verified_by=verified_by,
                    unique=hashlib.sha256(canonical).hexdigest(), event=event,
                    record_id=str(record_id) if isinstance(record_id, str | int) else None,
                    record_time=record_time)


def signature(secret: str, pairs: list[tuple[str, str]], raw_json: bytes) -> str:
    """What Zoho sends in X-Zoho-Webhook-Signature for these parameters and body."""
    return hmac.new(secret.encode(), _signed_string(pairs, raw_json), hashlib.sha256).hexdigest()


def _signed_string(pairs: list[tuple[str, str]], raw_json: bytes) -> bytes:
    return "".join(k + v for k, v in sorted(pairs)).encode() + raw_json


def _verify(hook: Hook, headers: Mapping[str, str], pairs: list[tuple[str, str]], raw_json: bytes
            ) -> Literal["signature", "token"]:
    secret = hook.secret.get_secret_value()
    sent_signature = headers.get(SIGNATURE_HEADER)
    tokens = [v for k, v in pairs if k == TOKEN_PARAMETER] + (
        [headers[TOKEN_HEADER]] if TOKEN_HEADER in headers else [])
    if sent_signature is not None and hook.verify != "token":
        expected = hmac.new(secret.encode(), _signed_string(pairs, raw_json), hashlib.sha256).digest()
        if not hmac.compare_digest(_signature_bytes(sent_signature), expected):
            raise Refused(401, "the X-Zoho-Webhook-Signature does not match the hook's secret")
        if tokens and not all(_same(token, secret) for token in tokens):
            raise Refused(401, "a token sent with the delivery is not the hook's secret")
        return "signature"
    if tokens and hook.verify != "signature":
        if not all(_same(token, secret) for token in tokens):
            raise Refused(401, "the token sent with the delivery is not the hook's secret")
        return "token"
    wanted = {"signature": "an X-Zoho-Webhook-Signature header",
              "token": f"the hook's secret in an {TOKEN_HEADER} header or a {TOKEN_PARAMETER} parameter",
              "either": "an X-Zoho-Webhook-Signature header, or the hook's secret in an X-Zbmcp-Token "
                        f"header or a {TOKEN_PARAMETER} parameter"}[hook.verify]
    raise Refused(401, f"the delivery carries no proof that it knows the hook's secret: it needs {wanted}")


def _same(token: str, secret: str) -> bool:
    return hmac.compare_digest(token.encode(), secret.encode())


def _signature_bytes(sent: str) -> bytes:
    """The MAC a signature header holds, hex or base64; b"" for anything else (which then matches nothing)."""
    sent = sent.strip()
    try:
        return bytes.fromhex(sent) if len(sent) == 64 else base64.b64decode(sent, validate=True)
    except (ValueError, binascii.Error):
        return b""


def _pairs(text: str, where: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict",
                         max_num_fields=1000)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, f"the {where} is not valid form encoding (UTF-8, at most 1000 fields)") from None


def _body(content_type: str, body: bytes) -> tuple[list[tuple[str, str]] | None, dict[str, Any] | None]:
    """(form pairs, None) for a form; (None, the JSON object) for JSON."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            return _pairs(body.decode("utf-8"), "form body"), None
        except UnicodeDecodeError:
            raise Refused(400, "the form body is not UTF-8") from None
    if kind == "application/json" or (kind == "" and not body):
        if not body:
            return None, {}
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Refused(400, "the body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise Refused(400, "the JSON body is not an object, as Zoho's payloads are")
        return None, payload
    raise Refused(415, f"the body is {kind or 'of no declared type'}; Zoho sends application/json or "
                       "application/x-www-form-urlencoded")


def _record_time(record: Mapping[str, Any]) -> dt.datetime | None:
    for name in TIME_FIELDS:
        value = record.get(name)
        if isinstance(value, str):
            try:
                parsed = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")  # Zoho: 2026-01-10T10:00:00+0530
            except ValueError:
                try:
                    parsed = dt.datetime.fromisoformat(value)
                except ValueError:
                    continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None
