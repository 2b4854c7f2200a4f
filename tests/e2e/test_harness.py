"""The harness itself: failure screenshots, and no event loop left behind for other tests."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

from playwright.sync_api import Page

from .browser import Driver, save_screenshot, screenshot_path


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_screenshot_name_is_the_test_name_made_safe(tmp_path: Path) -> None:
    path = screenshot_path(tmp_path, "test_menu[phone/390 x 844]")
    assert path == tmp_path / "test_menu_phone_390_x_844.png"


def test_failure_screenshot_is_a_full_page_png(page: Page, tmp_path: Path) -> None:
    page.set_content("<h1>Tall page</h1><div style='height: 3000px'></div><p>bottom</p>")
    path = save_screenshot(page, tmp_path / "shots" / "tall.png")
    width, height = png_size(path)
    assert width == 1280
    assert height > 3000  # the whole page, not only the 800px viewport


def test_no_event_loop_is_left_running_after_a_browser_turn(_driver: Driver) -> None:
    with _driver.turn() as browser:
        context = browser.new_context()
        context.close()
    assert asyncio.run(asyncio.sleep(0, result="ran")) == "ran"
