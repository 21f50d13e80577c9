"""A real browser for tests: Debian's chromium driven by Playwright (never a browser Playwright downloads).

    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(url)

Each test starts its own browser and stops it before it ends. Without chromium on PATH the test is skipped
on a developer's machine and fails under CI (where .ci/run installs it), so a missing browser cannot pass
unnoticed. Screenshots go to a temporary folder, or into docs/ when ZBMCP_SCREENSHOTS=1 asks for them
(`ZBMCP_SCREENSHOTS=1 .venv/bin/python -m pytest tests/console`), so an ordinary run leaves the tree clean.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

DOCS = Path(__file__).resolve().parent.parent / "docs"
SCREENSHOTS_ENV = "ZBMCP_SCREENSHOTS"
# The sandbox is for an unprivileged user; CI runs as root, where chromium refuses to start without this.
# The network is closed: nothing may try to reach Google's update, sync or component servers.
CHROMIUM_FLAGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
]
LAUNCH_TIMEOUT_MS = 30_000
ACTION_TIMEOUT_MS = 10_000  # every wait on the page is bounded


def chromium_executable() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        message = "Debian's chromium is not installed (apt-get install chromium); .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def chromium_flags() -> list[str]:
    flags = list(CHROMIUM_FLAGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")
    return flags


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless chromium, stopped on exit."""
    executable = chromium_executable()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=chromium_flags(),
                                                   headless=True, timeout=LAUNCH_TIMEOUT_MS)
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def browser_page(*, width: int = 1280, height: int = 800) -> AsyncIterator[Page]:
    """A fresh page (its own cookies) in its own chromium, with bounded waits."""
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        page = await context.new_page()
        try:
            yield page
        finally:
            await context.close()


class Screenshots:
    """Where a test's screenshots go: docs/<folder>/ when asked for, a temporary folder otherwise."""

    def __init__(self, folder: str, scratch: Path) -> None:
        self.into_docs = os.environ.get(SCREENSHOTS_ENV) == "1"
        self.directory = DOCS / folder if self.into_docs else scratch / folder
        self.directory.mkdir(parents=True, exist_ok=True)

    async def take(self, page: Page, name: str) -> Path:
        path = self.directory / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path
