"""URL rules compile their builders on first use, parse each rule string once per process,
and match and build the same URLs as Werkzeug's own rules."""

from __future__ import annotations

from flask import Flask, url_for
from werkzeug.routing import Rule

from crm_platform.parsed_rules import ParsedRule
from crm_platform.routing import LazyBuilderRule

PATHS = ["/t/acme/records/7", "/t/a%20b/files/x/y.txt", "/plain", "/page/", "/page/3", "/v/2.5"]


def _app(rule_class: type[Rule]) -> Flask:
    app = Flask(__name__)
    app.url_rule_class = rule_class
    app.add_url_rule("/t/<slug>/records/<int(min=1):rule>", "record", lambda slug, rule: "")
    app.add_url_rule("/t/<slug>/files/<path:name>", "file", lambda slug, name: "")
    app.add_url_rule("/plain", "plain", lambda: "")
    app.add_url_rule("/v/<float:version>", "version", lambda version: "")

    def paged(page: int) -> str:
        return ""

    app.add_url_rule("/page/", "paged", paged, defaults={"page": 1})
    app.add_url_rule("/page/<int:page>", "paged", paged)
    return app


def _behaviour(app: Flask) -> list[object]:
    """What the app's URL map matches for PATHS and what ``url_for`` builds."""
    adapter = app.url_map.bind("localhost")
    matched = [adapter.match(path) for path in PATHS]
    with app.test_request_context():
        built = [
            url_for("record", slug="acme", rule=7),
            url_for("record", slug="a b", rule=7, q="x&y", _anchor="top"),
            url_for("file", slug="acme", name="x/y.txt"),
            url_for("plain", next="/t/acme/"),
            url_for("paged"),
            url_for("paged", page=3),
            url_for("version", version=2.5),
            url_for("plain", _external=True),
        ]
    return [matched, built]


def test_lazy_rules_behave_as_werkzeugs() -> None:
    assert _behaviour(_app(LazyBuilderRule)) == _behaviour(_app(Rule))


def test_builders_compile_once_on_first_use(monkeypatch) -> None:
    compiled: list[bool] = []
    original = Rule._compile_builder

    def counting(self: Rule, append_unknown: bool = True):  # noqa: ANN202
        if isinstance(self, LazyBuilderRule):  # not Flask's own static rule
            compiled.append(append_unknown)
        return original(self, append_unknown)

    monkeypatch.setattr(Rule, "_compile_builder", counting)
    app = _app(LazyBuilderRule)
    assert compiled == []  # adding rules compiled nothing
    with app.test_request_context():
        url_for("plain", next="x")
        url_for("plain", next="y")
    assert compiled == [True]  # one builder, once


def test_a_second_app_parses_nothing_and_behaves_as_werkzeugs_rules(monkeypatch) -> None:
    first = _app(ParsedRule)
    parsed: list[str] = []
    original = Rule._parse_rule

    def counting(self: Rule, rule: str):  # noqa: ANN202
        parsed.append(rule)
        return original(self, rule)

    monkeypatch.setattr(Rule, "_parse_rule", counting)
    second = _app(ParsedRule)
    assert [p for p in parsed if p != "/static/<path:filename>"] == []
    expected = _behaviour(_app(Rule))
    assert _behaviour(first) == expected
    assert _behaviour(second) == expected
    for rule in second.url_map.iter_rules():  # converters of its own map
        assert all(conv.map is second.url_map for conv in rule._converters.values())


def test_the_app_uses_parsed_lazy_rules(app) -> None:
    """ParsedRule is a LazyBuilderRule: the app's rules are both."""
    assert all(
        isinstance(rule, ParsedRule) and isinstance(rule, LazyBuilderRule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
    )
