"""The domain events a webhook can subscribe to, and how a subscription matches one."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l

#: Every event: a subscription to ``*`` gets all of them, and those of plugins too.
ALL = "*"
#: A test event sent from the webhook's page ("Send a test event").
PING = "webhook.ping"

#: The events the core emits, with a label for the subscription form.
KNOWN_EVENTS = {
    "account.created": _l("An account was created"),
    "account.updated": _l("An account was changed"),
    "account.deleted": _l("An account was moved to the trash"),
    "account.restored": _l("An account was restored from the trash"),
    "account.merged": _l("Two accounts were merged"),
    "contact.created": _l("A contact was created"),
    "contact.updated": _l("A contact was changed"),
    "contact.deleted": _l("A contact was moved to the trash"),
    "contact.restored": _l("A contact was restored from the trash"),
    "contact.merged": _l("Two contacts were merged"),
    "activity.created": _l("An activity or task was logged"),
    "module.enabled": _l("A module was switched on"),
    "module.disabled": _l("A module was switched off"),
}


def known_events() -> dict[str, object]:
    """Every event a webhook may subscribe to: the core's, then those that installed modules
    declare in their descriptor (``ModuleDescriptor.events``), by name."""
    from ..modules import installed_modules

    events: dict[str, object] = dict(KNOWN_EVENTS)
    for descriptor in sorted(installed_modules().values(), key=lambda d: d.key):
        for name, label in descriptor.events.items():
            events.setdefault(name, label)
    return events


def event_choices() -> list[tuple[str, object]]:
    """``(value, label)`` pairs for the subscription form: ``*`` first, then every event."""
    return [(ALL, _l("Every event (*), including those of plugins"))] + [
        (name, label) for name, label in known_events().items()
    ]


def clean_events(names: Iterable[str]) -> list[str]:
    """The known names among ``names`` (``*`` alone when it is there), in a stable order."""
    chosen = {n.strip() for n in names if n and n.strip()}
    if ALL in chosen:
        return [ALL]
    return [n for n in known_events() if n in chosen]


def matches(subscribed: Iterable[str], event_name: str) -> bool:
    """True when a subscription to ``subscribed`` receives ``event_name``.

    The test event goes only to the webhook it was sent from, never through here.
    """
    names = set(subscribed or ())
    return ALL in names or event_name in names
