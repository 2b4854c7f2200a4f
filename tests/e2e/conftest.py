"""Browser test harness: a live server of the test app, Chromium pages, failure screenshots.

The fixtures of ``tests/conftest.py`` (``app``, ``app_config``, ``factory`` ...) apply here
too. Rate limiting and CSRF stay on: a real browser sends the tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import REQUIRE

from .browser import (
    DESKTOP,
    PHONE,
    Driver,
    missing_browser,
    new_page,
    save_screenshot,
    screenshot_path,
)
from .server import serving

if TYPE_CHECKING:
    from flask import Flask
    from playwright.sync_api import Browser, Page

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under ``tests/e2e`` carries the ``browser`` marker."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def _driver() -> Iterator[Driver]:
    """Playwright and Chromium; without Chromium, skip (fail under CRM_REQUIRE_SERVICES=1)."""
    missing = missing_browser()
    if missing and REQUIRE:
        pytest.fail(f"{missing}; CRM_REQUIRE_SERVICES=1 needs the browser tests to run")
    if missing:
        pytest.skip(f"browser tests: {missing}")
    driver = Driver()
    yield driver
    driver.close()


@pytest.fixture(scope="session")
def browser(_driver: Driver) -> Browser:
    """Headless Chromium, one per test process."""
    return _driver.browser


@pytest.fixture(autouse=True)
def _browser_turn(_driver: Driver) -> Iterator[None]:
    """Playwright's event loop counts as running only while a browser test runs."""
    with _driver.turn():
        yield


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test ``app`` served over HTTP on a free 127.0.0.1 port; yields the base URL."""
    with serving(app) as url:
        yield url


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A desktop-sized page in a fresh context; ``page.goto("/login")`` hits the live server."""
    with new_page(browser, live_server, **DESKTOP) as tab:
        yield tab


@pytest.fixture
def phone_page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A phone-sized (390x844, touch) page in a fresh context on the live server."""
    with new_page(browser, live_server, **PHONE) as tab:
        yield tab


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """Keep a full-page screenshot of every page of a test whose call phase failed."""
    report = yield
    if report.when == "call" and report.failed:
        for name, path in _save_failure_screenshots(item):
            report.sections.append((f"screenshot of {name}", str(path)))
    return report


def _save_failure_screenshots(item: pytest.Item) -> list[tuple[str, Path]]:
    from playwright.sync_api import Page

    directory = item.config.rootpath / "test-artifacts" / "screenshots"
    funcargs = getattr(item, "funcargs", {})
    pages = {name: value for name, value in funcargs.items() if isinstance(value, Page)}
    saved = []
    for name, tab in pages.items():
        label = item.name if len(pages) == 1 else f"{item.name}-{name}"
        try:
            saved.append((name, save_screenshot(tab, screenshot_path(directory, label))))
        except Exception as exc:  # a crashed page must not hide the test's own failure
            saved.append((name, Path(f"(not saved: {exc})")))
    return saved
