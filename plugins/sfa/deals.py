"""Writing deals: validate every field first, then write, record the stage history, emit events.

``create_deal``, ``update_deal`` and ``move_deal`` are the one path the board, the forms, lead
conversion and the API share. Bad input raises ``ValidationFailed`` naming each field (a
negative amount, a stage that does not exist or belongs to another pipeline, a lost deal
without a reason) and nothing is written. Writes that carry the ``version`` the writer saw
raise :class:`StaleDeal` when someone changed the deal since (two people dragging the same
card): the second writer is told, nothing is lost. The caller commits, so the deal, its
history and whatever plugins write on the events land in one transaction.

Events: ``deal.created``, ``deal.stage_changed`` on every move, then ``deal.won`` or
``deal.lost`` when the move closes the deal.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm_platform.sdk import (
    Account,
    Contact,
    Membership,
    ValidationFailed,
    clean_date,
    clean_text,
    db,
    emit_event,
    parse_uuid,
    utcnow,
    visible_clause,
)

from .models import FORECAST_CATEGORIES, Deal, DealStageChange, Stage
from .pipelines import default_pipeline, find_pipeline, find_stage, first_open_stage
from .settings import clean_currency, sales_settings

MAX_AMOUNT = Decimal("999999999999.99")
MAX_COMPETITORS = 20
CATEGORY_LABELS = {
    "commit": _l("Commit"),
    "best_case": _l("Best case"),
    "pipeline": _l("Pipeline"),
    "omitted": _l("Omitted"),
}
STATUS_LABELS = {"open": _l("Open"), "won": _l("Won"), "lost": _l("Lost")}


class StaleDeal(Exception):
    """The deal changed since the writer loaded it (its ``version`` moved on)."""

    def __init__(self, deal: Deal) -> None:
        super().__init__(
            _(
                "Someone else changed “%(name)s” a moment ago (now in %(stage)s). "
                "Nothing was saved: look at it again and redo your change.",
                name=deal.name,
                stage=deal.stage.name,
            )
        )
        self.deal = deal


# --------------------------------------------------------------------------- values


def clean_amount(value: Any) -> Decimal:
    """A non-negative amount with at most two decimals; raises ``ValueError``."""
    if isinstance(value, bool):
        raise ValueError(_("Enter an amount, e.g. 12000 or 99.50."))
    text_value = str(value if value is not None else "").strip().replace(",", "")
    if text_value.replace(" ", "") == "":
        return Decimal("0")
    try:
        amount = Decimal(text_value.replace(" ", ""))
    except InvalidOperation as exc:
        raise ValueError(_("Enter an amount, e.g. 12000 or 99.50.")) from exc
    if not amount.is_finite():
        raise ValueError(_("Enter an amount, e.g. 12000 or 99.50."))
    if amount < 0:
        raise ValueError(_("The amount cannot be negative."))
    if amount > MAX_AMOUNT:
        raise ValueError(_("The amount is too large."))
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(_("Use at most two decimals."))
    return amount.quantize(Decimal("0.01"))


def clean_competitors(value: Any) -> list[str]:
    """Competitors from a list or a comma-separated text: trimmed, without repeats."""
    parts = value.split(",") if isinstance(value, str) else list(value or [])
    out: list[str] = []
    for part in parts:
        name = " ".join(str(part).split())
        if name and name not in out:
            out.append(name)
    if len(out) > MAX_COMPETITORS:
        raise ValueError(_("Name at most %(num)d competitors.", num=MAX_COMPETITORS))
    if any(len(name) > 100 for name in out):
        raise ValueError(_("A competitor's name can have at most %(num)d characters.", num=100))
    return out


def _category(value: Any) -> str:
    category = str(value or "pipeline").strip()
    if category not in FORECAST_CATEGORIES:
        raise ValueError(_("Choose commit, best case, pipeline or omitted."))
    return category


def clean_member(value: Any) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    uid = parse_uuid(value)
    stmt = select(Membership.user_id).where(Membership.user_id == uid)
    if uid is None or db.session.scalar(stmt) is None:
        raise ValueError(_("Choose a member of this workspace."))
    return uid


def _visible_record(model: Any, value: Any, membership: Any, message: str) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    rid = parse_uuid(value)
    stmt = select(model.id).where(model.id == rid, model.deleted_at.is_(None))
    clause = visible_clause(model, membership) if membership is not None else None
    if clause is not None:
        stmt = stmt.where(clause)
    if rid is None or db.session.scalar(stmt) is None:
        raise ValueError(message)
    return rid


def _text(limit: int, *, required: bool = False, multiline: bool = False) -> Any:
    def clean(value: Any) -> str | None:
        result = clean_text(value, limit, multiline=multiline)
        if required and not result:
            raise ValueError(_("This field is required."))
        return result

    return clean


def resolve_stage(data: Mapping[str, Any], deal: Deal | None = None) -> tuple[Any, Stage]:
    """The pipeline and stage ``data`` asks for (defaults: the deal's, or the default
    pipeline's first open stage); ``ValidationFailed`` for unknown or mismatched ones."""
    pipeline = deal.pipeline if deal is not None else None
    if data.get("pipeline_id") not in (None, ""):
        pipeline = find_pipeline(data["pipeline_id"])
        if pipeline is None:
            raise ValidationFailed({"pipeline_id": _("There is no such pipeline.")})
    if data.get("stage_id") not in (None, ""):
        stage = find_stage(data["stage_id"])
        if stage is None:
            raise ValidationFailed({"stage_id": _("There is no such stage.")})
        if pipeline is not None and stage.pipeline_id != pipeline.id:
            other = find_pipeline(stage.pipeline_id)
            raise ValidationFailed(
                {
                    "stage_id": _(
                        "“%(stage)s” is a stage of the pipeline “%(other)s”, not of "
                        "“%(pipeline)s”.",
                        stage=stage.name,
                        other=other.name if other else "?",
                        pipeline=pipeline.name,
                    )
                }
            )
        return pipeline or find_pipeline(stage.pipeline_id), stage
    if deal is not None and (pipeline is None or pipeline.id == deal.pipeline_id):
        return deal.pipeline, deal.stage
    pipeline = pipeline or default_pipeline()
    stage = first_open_stage(pipeline.id) if pipeline is not None else None
    if stage is None:
        raise ValidationFailed({"stage_id": _("Set up a pipeline with stages first.")})
    return pipeline, stage


FIELDS: dict[str, Any] = {
    "name": _text(200, required=True),
    "amount": clean_amount,
    "currency": clean_currency,
    "expected_close": clean_date,
    "owner_id": clean_member,
    "competitors": clean_competitors,
    "forecast_category": _category,
    "close_reason": _text(2000, multiline=True),
}
LINKS = {
    "account_id": (Account, _l("Choose one of the accounts.")),
    "contact_id": (Contact, _l("Choose one of the contacts.")),
}


def check_deal(
    data: Mapping[str, Any], *, deal: Deal | None = None, membership: Any = None
) -> dict[str, Any]:
    """Cleaned values of a new deal, or of the fields present in ``data`` for a change.

    Includes ``stage`` (a ``Stage``) when the deal is new or ``data`` names a stage or
    pipeline. Raises ``ValidationFailed`` with every problem at once.
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, clean in FIELDS.items():
        if deal is not None and name not in data:
            continue
        raw = data.get(name)
        if name == "currency" and raw in (None, ""):
            if deal is not None:
                continue
            raw = sales_settings().currency
        try:
            values[name] = clean(raw)
        except ValueError as exc:
            errors[name] = str(exc)
    for name, (model, message) in LINKS.items():
        if deal is not None and name not in data:
            continue
        try:
            values[name] = _visible_record(model, data.get(name), membership, str(message))
        except ValueError as exc:
            errors[name] = str(exc)
    if deal is None or data.get("stage_id") not in (None, "") or data.get("pipeline_id"):
        try:
            pipeline, stage = resolve_stage(data, deal)
            values["pipeline_id"], values["stage"] = pipeline.id, stage
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return values


# --------------------------------------------------------------------------- writing


def _check_version(deal: Deal, version: Any) -> None:
    if version in (None, ""):
        return
    try:
        seen = int(str(version))
    except ValueError as exc:
        raise ValidationFailed({"version": _("Not a version of this deal.")}) from exc
    if seen != deal.version:
        raise StaleDeal(deal)


def _summary(deal: Deal) -> dict[str, Any]:
    return {
        "name": deal.name,
        "amount": str(deal.amount),
        "currency": deal.currency,
        "pipeline_id": str(deal.pipeline_id),
        "stage": deal.stage.name if deal.stage else None,
        "status": deal.status,
        "owner_id": str(deal.owner_id) if deal.owner_id else None,
        "account_id": str(deal.account_id) if deal.account_id else None,
    }


def create_deal(data: Mapping[str, Any], *, actor: Any = None, membership: Any = None) -> Deal:
    """Validate and add a deal; its history starts in its first stage. Caller commits."""
    values = check_deal(data, membership=membership)
    stage: Stage = values.pop("stage")
    if values.get("owner_id") is None and "owner_id" not in data and actor is not None:
        values["owner_id"] = _member_or_none(actor)
    if stage.is_lost and not values.get("close_reason"):
        raise ValidationFailed({"close_reason": _("Say why the deal was lost.")})
    deal = Deal(**values, created_by_id=getattr(actor, "id", None))
    now = utcnow()
    _apply_stage(deal, stage, now)
    deal.created_at = now
    db.session.add(deal)
    db.session.flush()
    emit_event("deal.created", record_id=deal.id, data=_summary(deal), actor=actor)
    _record_move(deal, None, stage, actor=actor, now=now)
    return deal


def _member_or_none(actor: Any) -> uuid.UUID | None:
    uid = getattr(actor, "id", None)
    if uid is None:
        return None
    return db.session.scalar(select(Membership.user_id).where(Membership.user_id == uid))


def update_deal(
    deal: Deal,
    data: Mapping[str, Any],
    *,
    version: Any = None,
    actor: Any = None,
    membership: Any = None,
) -> list[str]:
    """Validate and apply the fields in ``data`` (a stage or pipeline change moves the deal).

    Raises :class:`StaleDeal` when ``version`` is given and is not the deal's. Returns the
    names of the changed fields. Caller commits.
    """
    _check_version(deal, version)
    values = check_deal(data, deal=deal, membership=membership)
    stage: Stage | None = values.pop("stage", None)
    pipeline_id = values.pop("pipeline_id", deal.pipeline_id)
    changed = [name for name, value in values.items() if getattr(deal, name) != value]
    if stage is not None and stage.is_lost and stage.id != deal.stage_id:
        reason = values.get("close_reason", deal.close_reason)
        if not reason:
            raise ValidationFailed({"close_reason": _("Say why the deal was lost.")})
    for name in changed:
        setattr(deal, name, values[name])
    if stage is not None and stage.id != deal.stage_id:
        deal.pipeline_id = pipeline_id
        changed.append("stage_id")
        _move(deal, stage, actor=actor)
    elif changed:
        deal.updated_at = utcnow()
        db.session.flush()
    return changed


def move_deal(
    deal: Deal,
    stage_id: Any,
    *,
    version: Any = None,
    reason: Any = None,
    actor: Any = None,
) -> Stage:
    """Move a deal to another stage of its pipeline (the board's drag and drop).

    Unknown stages and stages of another pipeline are refused (``ValidationFailed`` on
    ``stage_id``); a lost deal needs a ``reason``; a stale ``version`` raises
    :class:`StaleDeal`. Moving to its own stage changes nothing. Caller commits.
    """
    _check_version(deal, version)
    if stage_id in (None, ""):
        raise ValidationFailed({"stage_id": _("Choose a stage.")})
    pipeline, stage = resolve_stage({"stage_id": stage_id}, deal)
    if stage.id == deal.stage_id:
        return stage
    try:
        clean_reason = clean_text(reason, 2000, multiline=True)
    except ValueError as exc:
        raise ValidationFailed({"close_reason": str(exc)}) from exc
    if stage.is_lost and not clean_reason:
        raise ValidationFailed({"close_reason": _("Say why the deal was lost.")})
    if clean_reason:
        deal.close_reason = clean_reason
    _move(deal, stage, actor=actor)
    return stage


def _apply_stage(deal: Deal, stage: Stage, now: Any) -> None:
    """Status and dates of a deal entering ``stage`` (before it is written)."""
    deal.stage_id, deal.stage = stage.id, stage
    deal.stage_entered_at = now
    deal.updated_at = now
    deal.status = stage.outcome
    deal.closed_at = now if stage.is_closed else None


def _record_move(deal: Deal, old: Stage | None, stage: Stage, *, actor: Any, now: Any) -> None:
    """The history line and events of a deal that just entered ``stage``."""
    db.session.add(
        DealStageChange(
            deal_id=deal.id,
            from_stage_id=old.id if old else None,
            to_stage_id=stage.id,
            from_name=old.name if old else None,
            to_name=stage.name,
            probability=stage.probability,
            amount=deal.amount,
            changed_by_id=getattr(actor, "id", None),
            changed_at=now,
        )
    )
    db.session.flush()
    if old is None:
        return
    data = _summary(deal) | {
        "from_stage": old.name,
        "to_stage": stage.name,
        "from_stage_id": str(old.id),
        "to_stage_id": str(stage.id),
    }
    emit_event("deal.stage_changed", record_id=deal.id, data=data, actor=actor)
    if stage.is_closed:
        outcome = "deal.won" if stage.is_won else "deal.lost"
        emit_event(
            outcome, record_id=deal.id, data=data | {"reason": deal.close_reason}, actor=actor
        )


def _move(deal: Deal, stage: Stage, *, actor: Any) -> None:
    old, now = deal.stage, utcnow()
    _apply_stage(deal, stage, now)
    db.session.flush()
    _record_move(deal, old, stage, actor=actor, now=now)


def history(deal: Deal) -> list[DealStageChange]:
    """The deal's moves, newest first."""
    stmt = (
        select(DealStageChange)
        .where(DealStageChange.deal_id == deal.id)
        .order_by(DealStageChange.changed_at.desc(), DealStageChange.id.desc())
    )
    return list(db.session.scalars(stmt).unique())


def is_rotting(deal: Deal, now: Any = None) -> bool:
    """An open deal that sat in its stage longer than the stage's rotting days."""
    days = deal.stage.rotting_days if deal.stage else None
    if deal.status != "open" or not days:
        return False
    entered = deal.stage_entered_at
    if entered.tzinfo is None:  # SQLite gives naive datetimes back
        entered = entered.replace(tzinfo=UTC)
    return ((now or utcnow()) - entered).days > days
