"""Helpers of the import and export tests: page text and the mapping a page proposes."""

from __future__ import annotations

import html
import re


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def selected(page: str) -> dict[int, str]:
    """The mapping a mapping page proposes (column → field; ignored columns left out)."""
    out = {}
    for i, body in re.findall(
        r'<select id="col_(\d+)" name="col_\d+"[^>]*>(.*?)</select>', page, re.S
    ):
        found = re.search(r'<option value="([^"]*)" selected>', body)
        if found and found.group(1):
            out[int(i)] = found.group(1)
    return out
