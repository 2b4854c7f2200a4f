"""What apps of one process share to start quickly: parsed URL rules and compiled templates.
Each app still matches and builds its own URLs and renders with its own environment."""

from __future__ import annotations

import pytest
from flask import Flask, url_for
from jinja2 import DictLoader, Environment
from werkzeug.routing import Rule

from crm_platform.parsed_rules import ParsedRule
from crm_platform.template_code import TEMPLATE_CODE, ProcessTemplateCode

pytestmark = pytest.mark.once  # not repeated in the SQLite run (see the Makefile)

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
    adapter = app.url_map.bind("localhost")
    matched = [adapter.match(path) for path in PATHS]
    with app.test_request_context():
        built = [
            url_for("record", slug="a b", rule=7, q="x&y"),
            url_for("file", slug="acme", name="x/y.txt"),
            url_for("paged"),
            url_for("paged", page=3),
            url_for("version", version=2.5),
        ]
    return [matched, built]


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


def test_the_app_uses_parsed_rules(app) -> None:
    assert all(
        isinstance(rule, ParsedRule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
    )


def test_templates_compile_once_per_environment_shape(monkeypatch) -> None:
    cache = ProcessTemplateCode()
    templates = {"page.html": "{{ name | shout }}!"}

    def environment() -> Environment:
        env = Environment(loader=DictLoader(templates), bytecode_cache=cache)
        env.filters["shout"] = str.upper
        return env

    compiled: list[str] = []
    original = Environment.compile

    def counting(self: Environment, source, name=None, filename=None, raw=False, defer_init=False):  # noqa: ANN001, ANN202
        compiled.append(name)
        return original(self, source, name, filename, raw, defer_init)

    monkeypatch.setattr(Environment, "compile", counting)
    assert environment().get_template("page.html").render(name="hi") == "HI!"
    assert environment().get_template("page.html").render(name="ho") == "HO!"
    assert compiled == ["page.html"]

    other = environment()  # another filter set: compiled for itself
    other.filters["whisper"] = str.lower
    assert other.get_template("page.html").render(name="hi") == "HI!"
    templates["page.html"] = "{{ name }}?"  # an edited source compiles again
    assert environment().get_template("page.html").render(name="hi") == "hi?"
    assert compiled == ["page.html"] * 3


def test_the_app_shares_the_process_template_code(app) -> None:
    assert app.jinja_env.bytecode_cache is TEMPLATE_CODE
