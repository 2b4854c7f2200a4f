"""Making customers' HTML safe to show, and plain text out of it (``nh3``, an allowlist).

Scripts, styles, event handlers, forms, frames and ``javascript:`` links are dropped; images
are dropped too (a remote image would tell the sender when an agent opened the mail). Links
keep ``http``, ``https`` and ``mailto`` targets and open with ``rel="noopener noreferrer"``.
"""

from __future__ import annotations

import html
import re

import nh3

TAGS = {
    "a",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
#: Tags removed together with everything inside them.
DROP_WITH_CONTENT = {"script", "style", "title", "head", "noscript", "template", "iframe", "object"}
URL_SCHEMES = {"http", "https", "mailto"}
_BLOCK_END = re.compile(r"</(p|div|li|tr|h[1-6]|blockquote|pre|table)>|<br\s*/?>", re.I)
_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")
#: Agents' replies carry this line; a customer's answer is what they wrote above it.
REPLY_MARKER = "-- Reply above this line --"


def clean_html(value: str) -> str:
    """``value`` with only safe tags, attributes and link targets left."""
    return nh3.clean(
        value or "",
        tags=TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    ).strip()


def html_to_text(value: str) -> str:
    """The readable text of an HTML fragment (line breaks kept at block ends)."""
    marked = _BLOCK_END.sub("\n", value or "")
    text = nh3.clean(marked, tags=set(), clean_content_tags=DROP_WITH_CONTENT)
    text = html.unescape(text).replace("\r\n", "\n").replace("\xa0", " ")
    return _BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in text.split("\n"))).strip()


def strip_quoted(text: str) -> str:
    """What the customer wrote above our reply marker (the whole text when it is absent)."""
    head, found, _tail = (text or "").partition(REPLY_MARKER)
    if not found:
        return (text or "").strip()
    lines = head.rstrip().split("\n")
    while lines and (lines[-1].startswith(">") or not lines[-1].strip()):
        lines.pop()  # the quoting client's "> " prefix of the marker line
    if lines and re.search(r"\b(wrote|schrieb|写道)\b.*:?\s*$", lines[-1]):
        lines.pop()  # "On Monday, Support wrote:"
    return "\n".join(lines).strip()
