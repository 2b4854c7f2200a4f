"""URL rules compile their builders on first use and build the same URLs as Werkzeug's."""

from __future__ import annotations

from flask import Flask, url_for
from werkzeug.routing import Rule

from crm_platform.routing import LazyBuilderRule


def _app(rule_class: type[Rule]) -> Flask:
    app = Flask(__name__)
    app.url_rule_class = rule_class
    app.add_url_rule("/t/<slug>/records/<int:rule>", "record", lambda slug, rule: "")
    app.add_url_rule("/plain", "plain", lambda: "")

    def paged(page: int) -> str:
        return ""

    app.add_url_rule("/page/", "paged", paged, defaults={"page": 1})
    app.add_url_rule("/page/<int:page>", "paged", paged)
    return app


def _urls(app: Flask) -> list[str]:
    with app.test_request_context():
        return [
            url_for("record", slug="acme", rule=7),
            url_for("record", slug="a b", rule=7, q="x&y", _anchor="top"),
            url_for("plain", next="/t/acme/"),
            url_for("paged"),
            url_for("paged", page=3),
            url_for("plain", _external=True),
        ]


def test_urls_are_the_same_as_werkzeugs() -> None:
    assert _urls(_app(LazyBuilderRule)) == _urls(_app(Rule))


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


def test_the_app_uses_lazy_rules(app) -> None:
    assert all(
        isinstance(rule, LazyBuilderRule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
    )
