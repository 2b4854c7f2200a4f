"""Normalising the values of a customer record: e-mail, phone, text, choices, dates."""

from __future__ import annotations

import functools
import re
from datetime import date
from typing import Any

from flask_babel import gettext as _

from ..provisioning import ValidationFailed, normalise_email

_PHONE_PUNCTUATION = re.compile(r"[\s.\-()/]+")
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 6, 15
#: A plain ASCII address (a dot-atom before the ``@``): once its domain is known to be valid,
#: its normalised form is the address itself in lower case (bulk imports check thousands).
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9.-]+"
)


def normalise_phone(value: str | None) -> str | None:
    """A phone number as ``+<country><number>`` (or just its digits with no ``+``).

    Spaces, dots, dashes, slashes and parentheses are dropped and a leading ``00`` becomes
    ``+``. Raises :class:`ValueError` with a message for people when anything else is left
    or the number is too short or long.
    """
    raw = (value or "").strip()
    if not raw:
        return None
    compact = _PHONE_PUNCTUATION.sub("", raw)
    plus = compact.startswith("+")
    if plus:
        compact = compact[1:]
    elif compact.startswith("00"):
        plus, compact = True, compact[2:]
    if (
        not compact.isascii()
        or not compact.isdigit()
        or not MIN_PHONE_DIGITS <= len(compact) <= MAX_PHONE_DIGITS
    ):
        raise ValueError(
            _(
                "Enter a phone number of %(min)d to %(max)d digits, e.g. +86 21 5555 1234.",
                min=MIN_PHONE_DIGITS,
                max=MAX_PHONE_DIGITS,
            )
        )
    return ("+" if plus else "") + compact


def phone_digits(value: str) -> str:
    """The digits of a search term (to match stored phone numbers)."""
    return "".join(c for c in value if c.isascii() and c.isdigit())


def clean_email(value: str | None) -> str | None:
    """A validated, lowercased e-mail address, or ``None`` when empty; raises ValueError."""
    raw = (value or "").strip()
    if not raw:
        return None
    if len(raw) > 254:
        raise ValueError(_("Use at most %(num)d characters.", num=254))
    if _PLAIN_EMAIL.fullmatch(raw):
        local, _at, domain = raw.rpartition("@")
        normal = _plain_domain(domain.lower()) if len(local) <= 64 else None
        if normal is not None:
            return f"{local}@{normal}".lower()
    try:
        return normalise_email(raw)
    except ValidationFailed as exc:
        raise ValueError(exc.errors.get("email") or _("Enter a valid e-mail address.")) from exc


@functools.lru_cache(maxsize=4096)
def _plain_domain(domain: str) -> str | None:
    """The normalised form of a valid e-mail domain, else ``None`` (checked once each)."""
    try:
        return normalise_email("x@" + domain).rpartition("@")[2]
    except ValidationFailed:
        return None


def clean_text(value: Any, max_length: int, *, multiline: bool = False) -> str | None:
    """Trimmed text (whitespace collapsed unless ``multiline``), ``None`` when empty."""
    if value is None:
        return None
    text_value = str(value).replace("\r\n", "\n").strip()
    if not multiline:
        text_value = " ".join(text_value.split())
    if not text_value:
        return None
    if len(text_value) > max_length:
        raise ValueError(_("Use at most %(num)d characters.", num=max_length))
    return text_value


def clean_choice(value: Any, choices: tuple[str, ...], *, required: bool = False) -> str | None:
    """``value`` if it is one of ``choices`` (``None`` when empty and not ``required``)."""
    text_value = (str(value).strip() if value is not None else "") or None
    if text_value is None and not required:
        return None
    if text_value not in choices:
        raise ValueError(_("Choose one of the listed options."))
    return text_value


def clean_date(value: Any) -> date | None:
    """A date from a ``date`` or an ISO ``YYYY-MM-DD`` string; ``None`` when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ValueError(_("Enter a date as YYYY-MM-DD.")) from exc


def clean_website(value: Any) -> str | None:
    """A web address; ``https://`` is added when no scheme is given."""
    text_value = clean_text(value, 254)
    if text_value is None:
        return None
    if " " in text_value or "." not in text_value:
        raise ValueError(_("Enter a web address, e.g. example.com."))
    if not re.match(r"^https?://", text_value, re.I):
        text_value = "https://" + text_value
    if len(text_value) > 254:
        raise ValueError(_("Use at most %(num)d characters.", num=254))
    return text_value
