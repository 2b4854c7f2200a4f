"""URL rules whose parsed form is shared by the apps of one process.

Werkzeug parses each rule's string (its static parts, variables and their converters) into
the parts its matcher and URL builders use when the rule is added to an app's URL map. The
result depends only on the string, the host or subdomain part, whether slashes merge and
which converter classes the map knows, so a process that builds several apps (the test suite
builds one or two per test, with about 500 rules each) parsed the same strings again for
each. :class:`ParsedRule` parses a string once per process; each rule still gets its own
converter objects, bound to its own map. With one app per process nothing changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from werkzeug.routing import Map
from werkzeug.routing.converters import BaseConverter

from .routing import LazyBuilderRule

__all__ = ["ParsedRule"]

# A converter a rule asked for: (variable, converter name, args, kwargs as sorted items).
_ConverterCall = tuple[str, str, tuple[Any, ...], tuple[tuple[str, Any], ...]]
# What parsing a rule string gave: its parts, trace and converter calls, in order.
_Parsed = tuple[tuple[Any, ...], tuple[tuple[bool, str], ...], tuple[_ConverterCall, ...]]

_PARSED: dict[tuple[Any, ...], _Parsed] = {}


def _parse_key(rule: ParsedRule, map: Map) -> tuple[Any, ...]:
    """Everything Werkzeug's ``Rule.compile`` reads besides the converter objects."""
    domain = rule.host if map.host_matching else rule.subdomain
    converters = tuple(sorted((name, cls) for name, cls in map.converters.items()))
    return (rule.rule, domain or "", bool(rule.merge_slashes), map.host_matching, converters)


class ParsedRule(LazyBuilderRule):
    """A :class:`~crm_platform.routing.LazyBuilderRule` whose string is parsed once per
    process (see the module's docstring)."""

    _converter_calls: list[_ConverterCall] | None = None

    def get_converter(
        self,
        variable_name: str,
        converter_name: str,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
    ) -> BaseConverter:
        if self._converter_calls is not None:
            call = (variable_name, converter_name, tuple(args), tuple(sorted(kwargs.items())))
            self._converter_calls.append(call)
        return super().get_converter(variable_name, converter_name, args, kwargs)

    def compile(self) -> None:
        assert self.map is not None, "rule not bound"
        key = _parse_key(self, self.map)
        parsed = _PARSED.get(key)
        if parsed is None:
            self._converter_calls = []
            try:
                super().compile()
                calls = tuple(self._converter_calls)
            finally:
                self._converter_calls = None
            _PARSED[key] = (tuple(self._parts), tuple(self._trace), calls)
            return
        parts, trace, calls = parsed
        self._parts = list(parts)
        self._trace = list(trace)
        self._converters = {}
        for variable, name, args, kwargs in calls:
            self._converters[variable] = self.get_converter(variable, name, args, dict(kwargs))
            self.arguments.add(variable)
        self._build = self._compile_builder(False).__get__(self, None)
        self._build_unknown = self._compile_builder(True).__get__(self, None)
