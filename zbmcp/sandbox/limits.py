"""Zoho's per-organization limits (§7), each off until its setting is set:

    requests_per_window (window_seconds, default 60)  -> 429 code 44; Zoho's figure is 100 per minute
    daily_budget (per UTC day)                          -> 429 code 45; 1,000 to 10,000 by plan
    max_concurrency (requests in flight)                -> 429 code 1070

Every /books/v3 answer but a 401 carries X-Rate-Limit-Limit / -Remaining / -Reset. Like Zoho's (which read
7500 / 6775 / 34881 in a captured sample, §7) they describe the daily quota: daily_budget when set, else a
nominal 10,000 per day that is never enforced (never the per-window limit: clients read these headers as
the day's budget). Zoho sends no Retry-After, so neither does the sandbox. Only admitted requests count;
a refused one uses no quota.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from zbmcp.sandbox.errors import ZohoError
from zbmcp.sandbox.settings import SandboxSettings

NOMINAL_DAILY_QUOTA = 10_000
_DAY = 86_400.0

PER_WINDOW_MESSAGE = (
    "For security reasons your organization has been blocked as it have exceeded the maximum number of "
    "requests per minute that can originate from an organization."
)
CONCURRENCY_MESSAGE = (
    "You have reached the maximum number of in process requests allowed. Kindly try again after some time."
)


def per_window_error() -> ZohoError:
    return ZohoError(429, 44, PER_WINDOW_MESSAGE)


def limit_error(code: int) -> ZohoError:
    """Zoho's 429 for one of its limits, by its code (for fault injection)."""
    if code == 45:
        return ZohoError(429, 45, "The API call for this organization has exceeded the maximum call rate "
                                  "limit.")
    if code == 1070:
        return ZohoError(429, 1070, CONCURRENCY_MESSAGE)
    return per_window_error()


@dataclass
class _Usage:
    in_flight: int = 0
    window_start: float = 0.0
    window_count: int = 0
    day: int = -1
    day_count: int = 0


class Limiter:
    def __init__(self, settings: SandboxSettings, clock: Callable[[], float]) -> None:
        self._settings = settings
        self._clock = clock
        self._usage: dict[str, _Usage] = {}

    def admit(self, organization_id: str) -> ZohoError | None:
        """Count the request against its organization, or say which limit refuses it."""
        settings = self._settings
        usage = self._roll(organization_id)
        if settings.max_concurrency is not None and usage.in_flight >= settings.max_concurrency:
            return ZohoError(429, 1070, CONCURRENCY_MESSAGE)
        if settings.requests_per_window is not None and usage.window_count >= settings.requests_per_window:
            return per_window_error()
        if settings.daily_budget is not None and usage.day_count >= settings.daily_budget:
            return ZohoError(429, 45, "The API call for this organization has exceeded the maximum call rate "
                                      f"limit of {settings.daily_budget}.")
        usage.in_flight += 1
        usage.window_count += 1
        usage.day_count += 1
        return None

    def release(self, organization_id: str) -> None:
        usage = self._usage.get(organization_id)
        if usage is not None and usage.in_flight > 0:
            usage.in_flight -= 1

    def headers(self, organization_id: str | None) -> dict[str, str]:
        settings = self._settings
        now = self._clock()
        usage = self._roll(organization_id) if organization_id else _Usage(day_count=0, window_count=0)
        limit = settings.daily_budget or NOMINAL_DAILY_QUOTA
        used = usage.day_count
        reset = (math.floor(now / _DAY) + 1) * _DAY - now
        return {
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(max(0, limit - used)),
            "X-Rate-Limit-Reset": str(max(0, math.ceil(reset))),
        }

    def _roll(self, organization_id: str) -> _Usage:
        """Start a new window or day when the old one is over."""
        now = self._clock()
        usage = self._usage.setdefault(organization_id, _Usage(window_start=now))
        if now - usage.window_start >= self._settings.window_seconds:
            usage.window_start, usage.window_count = now, 0
        day = int(now // _DAY)
        if day != usage.day:
            usage.day, usage.day_count = day, 0
        return usage
