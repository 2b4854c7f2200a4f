"""*Add to a static list*: the marketing module's action for workflow rules
(``crm_automation_actions``), written against the SDK like any other plugin's."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm_platform.sdk import AutomationAction, ValidationFailed, db, parse_uuid

from .models import Segment
from .segments import add_members


def _static_lists() -> list[tuple[str, str]]:
    rows = db.session.scalars(
        select(Segment).where(Segment.kind == "static").order_by(Segment.name)
    )
    return [(str(s.id), s.name) for s in rows]


def _segment(value: Any) -> Segment | None:
    sid = parse_uuid(value)
    if sid is None:
        return None
    return db.session.scalars(
        select(Segment).where(Segment.id == sid, Segment.kind == "static")
    ).one_or_none()


def _check(params: dict[str, Any]) -> dict[str, str]:
    if _segment(params.get("segment_id")) is None:
        return {"segment_id": _("Choose one of the static lists.")}
    return {}


def _run(params: dict[str, Any], context: Any) -> str:
    segment = _segment(params.get("segment_id"))
    if segment is None:
        raise RuntimeError(_("The list was deleted or is no longer static."))
    if context.record_id is None:
        raise RuntimeError(_("There is no contact to add."))
    try:
        added = add_members(segment, [context.record_id])
    except ValidationFailed as exc:
        raise RuntimeError("; ".join(str(m) for m in exc.errors.values())) from exc
    return _("added to %(name)s", name=segment.name) if added else _("already in the list")


def automation_actions() -> list[AutomationAction]:
    """The marketing actions of workflow rules."""
    return [
        AutomationAction(
            key="marketing.add_to_segment",
            label=_l("Add the contact to a static list"),
            fields={"segment_id": _l("List")},
            choices=lambda: {"segment_id": _static_lists()},
            kinds=("contact",),
            check=_check,
            run=_run,
        )
    ]
