"""Pipelines and their stages: reading them, and the settings that change them.

A pipeline always keeps at least one open, one won and one lost stage, exactly one pipeline
is the default, and a stage or pipeline that deals sit in cannot be deleted (move the deals
first). Every change is validated first (``ValidationFailed`` naming the field) and audited;
the caller commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from crm_platform.sdk import (
    ValidationFailed,
    audit_record,
    clean_text,
    db,
    parse_uuid,
    require_tenant,
)

from .industry import TEMPLATES, IndustryTemplate
from .models import OUTCOMES, Deal, Pipeline, Stage

OUTCOME_LABELS = {"open": _l("Open"), "won": _l("Won"), "lost": _l("Lost")}
MAX_PIPELINES = 20
MAX_STAGES = 20
MAX_ROTTING_DAYS = 365


def all_pipelines() -> list[Pipeline]:
    """The tenant's pipelines, default first, then by position and name."""
    stmt = select(Pipeline).order_by(Pipeline.is_default.desc(), Pipeline.position, Pipeline.name)
    return list(db.session.scalars(stmt))


def default_pipeline() -> Pipeline | None:
    """The default pipeline (the first one if none is marked)."""
    pipelines = all_pipelines()
    return pipelines[0] if pipelines else None


def find_pipeline(pipeline_id: Any) -> Pipeline | None:
    """The pipeline with ``pipeline_id`` (any form of id), or ``None``."""
    pid = parse_uuid(pipeline_id)
    return db.session.get(Pipeline, (_tenant_id(), pid)) if pid else None


def find_stage(stage_id: Any) -> Stage | None:
    """The stage with ``stage_id`` (any form of id), or ``None``."""
    sid = parse_uuid(stage_id)
    return db.session.get(Stage, (_tenant_id(), sid)) if sid else None


def _tenant_id() -> uuid.UUID:
    return require_tenant().id


def stages_of(pipeline_id: uuid.UUID) -> list[Stage]:
    """The stages of a pipeline in board order."""
    stmt = select(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.position)
    return list(db.session.scalars(stmt))


def stages_by_pipeline() -> dict[uuid.UUID, list[Stage]]:
    """Every stage of the tenant, grouped by pipeline, in board order (one query)."""
    out: dict[uuid.UUID, list[Stage]] = {}
    for stage in db.session.scalars(select(Stage).order_by(Stage.position)):
        out.setdefault(stage.pipeline_id, []).append(stage)
    return out


def first_open_stage(pipeline_id: uuid.UUID) -> Stage | None:
    """Where new deals of a pipeline start."""
    return next((s for s in stages_of(pipeline_id) if not s.is_closed), None)


def deal_count(*, pipeline_id: Any = None, stage_id: Any = None) -> int:
    """How many deals sit in a pipeline or a stage."""
    stmt = select(func.count()).select_from(Deal)
    if pipeline_id is not None:
        stmt = stmt.where(Deal.pipeline_id == pipeline_id)
    if stage_id is not None:
        stmt = stmt.where(Deal.stage_id == stage_id)
    return db.session.scalar(stmt) or 0


# --------------------------------------------------------------------------- validation


def _name(value: Any, field: str = "name") -> str:
    try:
        name = clean_text(value, 100)
    except ValueError as exc:
        raise ValidationFailed({field: str(exc)}) from exc
    if not name:
        raise ValidationFailed({field: _("Enter a name.")})
    return name


def _int(value: Any, low: int, high: int, field: str, *, optional: bool = False) -> int | None:
    text_value = "" if value is None else str(value).strip()
    if text_value == "" and optional:
        return None
    try:
        number = int(text_value)
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        message = _("Enter a whole number from %(min)d to %(max)d.", min=low, max=high)
        raise ValidationFailed({field: message})
    return number


def check_stage(data: Mapping[str, Any], *, pipeline_id: uuid.UUID, stage: Stage | None = None):
    """Cleaned ``name``, ``probability``, ``rotting_days`` and ``outcome`` of a stage."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    checks = {
        "name": lambda v: _name(v),
        "probability": lambda v: _int(v, 0, 100, "probability"),
        "rotting_days": lambda v: _int(v, 1, MAX_ROTTING_DAYS, "rotting_days", optional=True),
        "outcome": _outcome,
    }
    for name, check in checks.items():
        try:
            values[name] = check(data.get(name))
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if "name" in values:
        taken = select(Stage.id).where(
            Stage.pipeline_id == pipeline_id, func.lower(Stage.name) == values["name"].lower()
        )
        if stage is not None:
            taken = taken.where(Stage.id != stage.id)
        if db.session.scalar(taken) is not None:
            errors["name"] = _("This pipeline already has a stage of that name.")
    if errors:
        raise ValidationFailed(errors)
    if values["outcome"] == "won":
        values["probability"] = 100
    elif values["outcome"] == "lost":
        values["probability"] = 0
    return values


def _outcome(value: Any) -> str:
    outcome = str(value or "open").strip()
    if outcome not in OUTCOMES:
        raise ValidationFailed({"outcome": _("Choose open, won or lost.")})
    return outcome


def _check_pipeline_name(name: Any, pipeline: Pipeline | None = None) -> str:
    clean = _name(name)
    stmt = select(Pipeline.id).where(func.lower(Pipeline.name) == clean.lower())
    if pipeline is not None:
        stmt = stmt.where(Pipeline.id != pipeline.id)
    if db.session.scalar(stmt) is not None:
        raise ValidationFailed({"name": _("Another pipeline has this name.")})
    return clean


# --------------------------------------------------------------------------- changes


def create_pipeline(
    name: Any, stages: Iterable[Mapping[str, Any]], *, actor: Any = None
) -> Pipeline:
    """A new pipeline with ``stages`` (dicts of stage fields, in order)."""
    if db.session.scalar(select(func.count()).select_from(Pipeline)) >= MAX_PIPELINES:
        raise ValidationFailed(
            {"name": _("A workspace can have at most %(num)d pipelines.", num=MAX_PIPELINES)}
        )
    clean = _check_pipeline_name(name)
    first = db.session.scalar(select(func.count()).select_from(Pipeline)) == 0
    position = (db.session.scalar(select(func.max(Pipeline.position))) or 0) + 1
    pipeline = Pipeline(name=clean, position=position, is_default=first)
    db.session.add(pipeline)
    db.session.flush()
    for index, data in enumerate(stages):
        values = check_stage(data, pipeline_id=pipeline.id)
        db.session.add(Stage(pipeline_id=pipeline.id, position=index, **values))
        db.session.flush()
    _check_complete(pipeline.id)
    audit_record("sfa.pipeline.created", target=clean, actor=actor)
    return pipeline


def template_stages(template: IndustryTemplate) -> list[dict[str, Any]]:
    """The stages of an industry template as stage fields (names in the current language)."""
    return [
        {
            "name": str(s.name),
            "probability": s.probability,
            "rotting_days": s.rotting_days,
            "outcome": s.outcome,
        }
        for s in template.stages
    ]


def default_stages() -> list[dict[str, Any]]:
    """The stages a new pipeline starts with (the generic template's)."""
    return template_stages(TEMPLATES["generic"])


def pipeline_from_template(template: IndustryTemplate, *, actor: Any = None) -> Pipeline:
    """A pipeline with the name and stages of an industry template."""
    return create_pipeline(str(template.pipeline), template_stages(template), actor=actor)


def rename_pipeline(pipeline: Pipeline, name: Any, *, actor: Any = None) -> None:
    """Rename a pipeline."""
    old = pipeline.name
    pipeline.name = _check_pipeline_name(name, pipeline)
    if old != pipeline.name:
        audit_record(
            "sfa.pipeline.renamed", target=pipeline.name, actor=actor, details={"from": old}
        )


def make_default(pipeline: Pipeline, *, actor: Any = None) -> None:
    """Make ``pipeline`` the default one (new deals and leads' conversions use it)."""
    for other in all_pipelines():
        other.is_default = other.id == pipeline.id
    audit_record("sfa.pipeline.default", target=pipeline.name, actor=actor)


def delete_pipeline(pipeline: Pipeline, *, actor: Any = None) -> None:
    """Delete an empty pipeline that is not the only one."""
    if deal_count(pipeline_id=pipeline.id):
        raise ValidationFailed(
            {"pipeline": _("Deals are in this pipeline: move or delete them first.")}
        )
    rest = [p for p in all_pipelines() if p.id != pipeline.id]
    if not rest:
        raise ValidationFailed({"pipeline": _("Keep at least one pipeline.")})
    if pipeline.is_default:
        rest[0].is_default = True
    for stage in stages_of(pipeline.id):
        db.session.delete(stage)
    db.session.delete(pipeline)
    audit_record("sfa.pipeline.deleted", target=pipeline.name, actor=actor)


def add_stage(pipeline: Pipeline, data: Mapping[str, Any], *, actor: Any = None) -> Stage:
    """Add a stage; an open one goes before the first won or lost stage."""
    stages = stages_of(pipeline.id)
    if len(stages) >= MAX_STAGES:
        raise ValidationFailed(
            {"name": _("A pipeline can have at most %(num)d stages.", num=MAX_STAGES)}
        )
    values = check_stage(data, pipeline_id=pipeline.id)
    if values["outcome"] == "open":
        index = next((i for i, s in enumerate(stages) if s.is_closed), len(stages))
    else:
        index = len(stages)
    for later in stages[index:]:
        later.position += 1
    stage = Stage(pipeline_id=pipeline.id, position=index, **values)
    db.session.add(stage)
    db.session.flush()
    _renumber(pipeline.id)
    audit_record("sfa.stage.created", target=f"{pipeline.name}: {stage.name}", actor=actor)
    return stage


def update_stage(stage: Stage, data: Mapping[str, Any], *, actor: Any = None) -> None:
    """Change a stage's name, probability, rotting days or outcome."""
    values = check_stage(data, pipeline_id=stage.pipeline_id, stage=stage)
    changed = {k: v for k, v in values.items() if getattr(stage, k) != v}
    if "outcome" in changed and deal_count(stage_id=stage.id):
        raise ValidationFailed(
            {"outcome": _("Deals are in this stage: its outcome cannot change.")}
        )
    for name, value in changed.items():
        setattr(stage, name, value)
    db.session.flush()
    _check_complete(stage.pipeline_id)
    if changed:
        audit_record(
            "sfa.stage.updated",
            target=stage.name,
            actor=actor,
            details={k: str(v) for k, v in changed.items()},
        )


def move_stage(stage: Stage, offset: int) -> None:
    """Move a stage one place earlier (``-1``) or later (``+1``) on the board."""
    stages = stages_of(stage.pipeline_id)
    index = next(i for i, s in enumerate(stages) if s.id == stage.id)
    other = index + offset
    if 0 <= other < len(stages):
        stages[index], stages[other] = stages[other], stages[index]
        for position, row in enumerate(stages):
            row.position = position


def delete_stage(stage: Stage, *, actor: Any = None) -> None:
    """Delete a stage no deal sits in (a pipeline keeps an open, a won and a lost stage)."""
    if deal_count(stage_id=stage.id):
        raise ValidationFailed({"stage": _("Deals are in this stage: move them first.")})
    rest = [s for s in stages_of(stage.pipeline_id) if s.id != stage.id]
    if not any(s.outcome == stage.outcome for s in rest):
        raise ValidationFailed({"stage": _missing_outcome(stage.outcome)})
    db.session.delete(stage)
    db.session.flush()
    _renumber(stage.pipeline_id)
    audit_record("sfa.stage.deleted", target=stage.name, actor=actor)


def _missing_outcome(outcome: str) -> str:
    return {
        "open": _("A pipeline needs at least one open stage."),
        "won": _("A pipeline needs a won stage."),
        "lost": _("A pipeline needs a lost stage."),
    }[outcome]


def _check_complete(pipeline_id: uuid.UUID) -> None:
    outcomes = {s.outcome for s in stages_of(pipeline_id)}
    for outcome in OUTCOMES:
        if outcome not in outcomes:
            raise ValidationFailed({"outcome": _missing_outcome(outcome)})


def _renumber(pipeline_id: uuid.UUID) -> None:
    for position, stage in enumerate(stages_of(pipeline_id)):
        stage.position = position
