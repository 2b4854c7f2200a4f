"""Compiled templates are shared by the apps of one process (the parsed URL rules they share
are tested in test_routing.py); each app still renders with its own environment."""

from __future__ import annotations

import pytest
from jinja2 import DictLoader, Environment

from crm_platform.template_code import TEMPLATE_CODE, ProcessTemplateCode

pytestmark = pytest.mark.once  # not repeated in the SQLite run (see the Makefile)


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
