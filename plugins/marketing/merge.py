"""E-mail content with merge fields: ``{{ contact.first_name }}`` in a sandboxed Jinja.

Templates are checked before they are saved (:func:`check_template`): a syntax error, or a
merge field that does not exist (``{{ contact.firstname }}``, a custom field key nobody
defined), is refused with a message naming it. Rendering runs in Jinja's
``SandboxedEnvironment`` (no attribute of Python objects, no imports, no includes), the body
HTML-escaped, the subject as plain text; an empty value renders as nothing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from flask_babel import gettext as _
from jinja2 import TemplateSyntaxError, nodes
from jinja2.meta import find_undeclared_variables
from jinja2.sandbox import SandboxedEnvironment

from crm_platform.sdk import custom_fields_of

#: Every merge field: top-level names and the attributes each offers (``None``: a value).
MERGE_FIELDS: dict[str, tuple[str, ...] | None] = {
    "contact": ("first_name", "last_name", "full_name", "email", "title", "region", "phone"),
    "account": ("name", "industry", "region", "website"),
    "campaign": ("name",),
    "unsubscribe_url": None,
    "preferences_url": None,
    "today": None,
}
HAS_CUSTOM = ("contact", "account")
MAX_LENGTH = 200_000


class Values(dict):
    """Merge values: a missing key renders as nothing rather than failing."""

    def __missing__(self, key: str) -> str:
        return ""


def _finalize(value: Any) -> Any:
    return "" if value is None else value


@lru_cache(maxsize=2)
def environment(autoescape: bool) -> SandboxedEnvironment:
    """The sandboxed environment of bodies (HTML-escaped) or subjects (plain text)."""
    return SandboxedEnvironment(autoescape=autoescape, finalize=_finalize, auto_reload=False)


def all_merge_fields() -> list[str]:
    """Every merge field of the tenant in context, custom fields included (for the help)."""
    out = []
    for name, attributes in MERGE_FIELDS.items():
        if attributes is None:
            out.append(name)
        else:
            out += [f"{name}.{a}" for a in attributes]
    for entity in HAS_CUSTOM:
        out += [f"{entity}.custom.{f.key}" for f in custom_fields_of(entity)]
    return out


def _path(node: nodes.Node) -> list[str] | None:
    """``contact.custom.tier`` of a ``Getattr``/``Getitem`` chain on a name, else None."""
    parts: list[str] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
        else:
            return None
        node = node.node
    if not isinstance(node, nodes.Name):
        return None
    parts.append(node.name)
    return list(reversed(parts))


def unknown_fields(source: str) -> list[str]:
    """The merge fields ``source`` uses that do not exist; raises ``TemplateSyntaxError``."""
    tree = environment(True).parse(source)
    unknown = sorted(n for n in find_undeclared_variables(tree) if n not in MERGE_FIELDS)
    custom = {entity: {f.key for f in custom_fields_of(entity)} for entity in HAS_CUSTOM}
    seen: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        path = _path(node)
        if not path or path[0] not in MERGE_FIELDS or ".".join(path) in seen:
            continue
        seen.add(".".join(path))
        root, rest = path[0], path[1:]
        attributes = MERGE_FIELDS[root]
        ok = attributes is not None and (
            rest[0] in attributes
            if rest[0] != "custom"
            else root in HAS_CUSTOM and (len(rest) == 1 or rest[1] in custom[root])
        )
        if not ok:
            unknown.append(".".join(path[: 3 if rest[0] == "custom" else 2]))
    # A chain is visited from its outermost node first: keep only the longest mention.
    return sorted({u for u in unknown if not any(o.startswith(u + ".") for o in unknown)})


def check_template(source: str | None, field: str, *, required: bool = True) -> str:
    """``source`` if it is a valid template using only known merge fields.

    Raises ``ValueError`` with a message naming the problem (the caller puts it under
    ``field``).
    """
    text = (source or "").strip()
    if not text:
        if required:
            raise ValueError(_("This field is required."))
        return ""
    if len(text) > MAX_LENGTH:
        raise ValueError(_("Use at most %(num)d characters.", num=MAX_LENGTH))
    try:
        unknown = unknown_fields(text)
    except TemplateSyntaxError as exc:
        raise ValueError(
            _(
                "The template has an error on line %(line)d: %(error)s",
                line=exc.lineno,
                error=exc.message or "",
            )
        ) from exc
    if unknown:
        raise ValueError(
            _(
                "Unknown merge field: %(names)s. Use one of the fields listed below the form.",
                names=", ".join(f"{{{{ {name} }}}}" for name in unknown),
            )
        )
    return text


class Renderer:
    """A campaign's or step's subject(s) and body compiled once, rendered per recipient."""

    def __init__(self, subjects: Mapping[str, str], body: str) -> None:
        self.subjects = {k: environment(False).from_string(v) for k, v in subjects.items() if v}
        self.body = environment(True).from_string(body)

    def subject(self, variant: str, values: Mapping[str, Any]) -> str:
        """The subject of ``variant`` (``a`` unless an A/B test gave ``b``)."""
        template = self.subjects.get(variant) or self.subjects["a"]
        return " ".join(template.render(values).split())

    def html(self, values: Mapping[str, Any]) -> str:
        """The body, HTML."""
        return self.body.render(values)


def merge_values(contact: Mapping[str, Any], account: Mapping[str, Any], **extra: Any) -> Values:
    """The values a template sees (``custom`` values under ``contact.custom`` ...)."""
    first, last = contact.get("first_name") or "", contact.get("last_name") or ""
    person = Values({k: contact.get(k) for k in MERGE_FIELDS["contact"] or ()})
    person["full_name"] = f"{first} {last}".strip()
    person["custom"] = Values(contact.get("custom") or {})
    company = Values({k: account.get(k) for k in MERGE_FIELDS["account"] or ()})
    company["custom"] = Values(account.get("custom") or {})
    return Values({"contact": person, "account": company, **extra})


_TAGS = re.compile(r"<[^>]+>")
_LINK = re.compile(r"<a\s[^>]*href=\"([^\"]+)\"[^>]*>(.*?)</a>", re.I | re.S)
_BREAKS = re.compile(r"<\s*(br|/p|/div|/h[1-6]|/li|/tr)\s*/?>", re.I)


def text_version(body_html: str) -> str:
    """A plain-text alternative of an HTML body (links kept as ``text (url)``)."""
    text = _LINK.sub(lambda m: f"{_TAGS.sub('', m.group(2))} ({m.group(1)})", body_html)
    text = _BREAKS.sub("\n", text)
    text = html.unescape(_TAGS.sub("", text))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
