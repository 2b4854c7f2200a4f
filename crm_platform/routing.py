"""URL rules that compile their URL builders on first use.

Werkzeug compiles two Python functions per rule (``url_for``'s builders) when the rule is
added. With every module's pages the app has hundreds of rules, most of which a process never
builds a URL for, so compiling them eagerly made each app start take about a second. The
builders are the same; they are compiled the first time ``url_for`` needs one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule


class LazyBuilderRule(Rule):
    """A :class:`werkzeug.routing.Rule` whose URL builders are compiled on first use."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        compile_builder = super()._compile_builder
        compiled: list[Callable[..., tuple[str, str]]] = []

        def build(rule: Any, /, *args: Any, **values: Any) -> tuple[str, str]:
            if not compiled:
                compiled.append(compile_builder(append_unknown))
            return compiled[0](rule, *args, **values)

        return build
