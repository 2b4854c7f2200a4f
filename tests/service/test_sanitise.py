"""Customers' HTML is made safe; quoted history is cut at our reply marker."""

from __future__ import annotations

from plugins.service.sanitise import REPLY_MARKER, clean_html, html_to_text, strip_quoted

NASTY = (
    '<p onclick="steal()">Hi <b>there</b><script>alert(1)</script></p>'
    '<a href="javascript:alert(2)">click</a> <a href="https://ok.example/x">ok</a>'
    '<img src="https://tracker.example/pixel.gif"><iframe src="https://evil.example"></iframe>'
    "<style>body{display:none}</style><form action=/x><input name=q></form>"
)


def test_scripts_handlers_and_dangerous_links_are_removed() -> None:
    clean = clean_html(NASTY)
    for bad in ("script", "alert", "onclick", "javascript:", "<img", "iframe", "style", "<form"):
        assert bad not in clean
    assert "<b>there</b>" in clean
    assert 'href="https://ok.example/x"' in clean and "noopener" in clean


def test_html_to_text_keeps_lines_and_drops_code() -> None:
    text = html_to_text("<p>Line one</p><p>Line&nbsp;two<br>three</p><script>x()</script>")
    assert text.split("\n") == ["Line one", "Line two", "three"]


def test_quoted_reply_is_cut_at_the_marker() -> None:
    body = f"Thanks, that works!\n\nOn Monday, Support wrote:\n> {REPLY_MARKER}\n> old text"
    assert strip_quoted(body) == "Thanks, that works!"
    assert strip_quoted("No marker here") == "No marker here"
