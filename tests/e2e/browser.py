"""Chromium for browser tests: where it is, how it is launched, failure screenshots."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
TIMEOUT_MS = 10_000


def missing_browser() -> str | None:
    """Why Chromium cannot run here, or ``None`` when it can."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


class Driver:
    """Playwright's sync driver with one headless Chromium.

    The sync API marks its event loop as the thread's running loop, which breaks
    ``asyncio.run()`` in any later test of the same process. The loop is therefore marked
    running only during a :meth:`turn` (one browser test), and parked in between.
    """

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._loop = asyncio.get_running_loop()
        try:
            self.browser: Browser = self._playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )
        except BaseException:
            self._playwright.stop()
            raise
        self._park()

    def _park(self) -> None:
        asyncio._set_running_loop(None)

    @contextmanager
    def turn(self) -> Iterator[Browser]:
        """The browser, usable until the block ends."""
        asyncio._set_running_loop(self._loop)
        try:
            yield self.browser
        finally:
            self._park()

    def close(self) -> None:
        """Close Chromium and stop the driver."""
        asyncio._set_running_loop(self._loop)
        try:
            self.browser.close()
        finally:
            self._playwright.stop()


@contextmanager
def new_page(browser: Browser, base_url: str, **options: Any) -> Iterator[Page]:
    """A page in a fresh context (no cookies, English) whose relative URLs go to ``base_url``."""
    context = browser.new_context(base_url=base_url, locale="en-US", **options)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot_path(directory: Path, test_name: str) -> Path:
    """``<directory>/<test name>.png``, with characters unsafe in file names replaced."""
    return directory / (re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name).strip("_") + ".png")


def save_screenshot(page: Page, path: Path) -> Path:
    """A full-page PNG of ``page`` at ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
