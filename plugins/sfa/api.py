"""API resources: ``/api/v1/leads``, ``/api/v1/deals`` and ``/api/v1/pipelines`` (read).

Written only against ``crm_platform.sdk``: the core authenticates the key, acts as the member
who created it (visibility and permissions apply as on the pages), answers 404 while Sales is
off for the key's workspace and lists every route in ``/api/v1/openapi.json``. Writes go
through the same services as the pages; errors use the API's one shape: 400
``validation_failed`` naming each field, 409 ``conflict`` for a stale deal ``version`` and
``already_converted`` for a lead converted before.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import g, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from crm_platform.sdk import (
    ValidationFailed,
    api_blueprint,
    api_doc,
    api_error,
    api_json,
    api_page,
    db,
    parse_uuid,
    require_permission,
)

from .conversion import AlreadyConverted, convert_lead
from .deals import StaleDeal, create_deal, move_deal, update_deal
from .leads import create_lead, pool_condition, search_condition, update_lead
from .models import FORECAST_CATEGORIES, LEAD_STATUSES, OUTCOMES, Deal, Lead, Pipeline
from .pipelines import stages_by_pipeline
from .visibility import get_visible_or_404, visible

leads_api = api_blueprint("leads", __name__)
deals_api = api_blueprint("deals", __name__)
pipelines_api = api_blueprint("pipelines", __name__)

UUID = {"type": "string", "format": "uuid"}
NULL_UUID = {"type": ["string", "null"], "format": "uuid"}
TEXT = {"type": ["string", "null"]}
STAMP = {"type": "string", "format": "date-time", "readOnly": True}
NULL_STAMP = {"type": ["string", "null"], "format": "date-time", "readOnly": True}
READ_ONLY = frozenset({"id", "object", "created_at", "updated_at"})

LEAD_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "id": {**UUID, "readOnly": True},
        "object": {"const": "lead", "readOnly": True},
        "name": {"type": "string", "maxLength": 200},
        "company": TEXT,
        "title": TEXT,
        "email": {"type": ["string", "null"], "format": "email"},
        "phone": TEXT,
        "source": {**TEXT, "description": "One of the workspace's lead sources."},
        "status": {"type": "string", "enum": list(LEAD_STATUSES)},
        "score": {"type": "integer", "readOnly": True},
        "owner_id": {
            **NULL_UUID,
            "description": "Leave out to let the assignment rules choose; null: the pool.",
        },
        "region": TEXT,
        "industry": TEXT,
        "notes": TEXT,
        "captured_via": {"type": "string", "readOnly": True},
        "worked_at": STAMP,
        "converted_at": NULL_STAMP,
        "converted_account_id": {**NULL_UUID, "readOnly": True},
        "converted_contact_id": {**NULL_UUID, "readOnly": True},
        "converted_deal_id": {**NULL_UUID, "readOnly": True},
        "created_at": STAMP,
        "updated_at": STAMP,
    },
}
DEAL_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "id": {**UUID, "readOnly": True},
        "object": {"const": "deal", "readOnly": True},
        "name": {"type": "string", "maxLength": 200},
        "account_id": NULL_UUID,
        "contact_id": NULL_UUID,
        "pipeline_id": {**UUID, "description": "Default: the default pipeline."},
        "stage_id": {**UUID, "description": "Default: the pipeline's first open stage."},
        "stage": {"type": "string", "readOnly": True},
        "status": {"type": "string", "enum": list(OUTCOMES), "readOnly": True},
        "amount": {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$"},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "expected_close": {"type": ["string", "null"], "format": "date"},
        "owner_id": NULL_UUID,
        "competitors": {"type": "array", "items": {"type": "string"}},
        "close_reason": TEXT,
        "forecast_category": {"type": "string", "enum": list(FORECAST_CATEGORIES)},
        "closed_at": NULL_STAMP,
        "version": {
            "type": "integer",
            "description": "Send it back on PATCH and move: a stale one answers 409.",
        },
        "created_at": STAMP,
        "updated_at": STAMP,
    },
}
PIPELINE_SCHEMA = {
    "type": "object",
    "properties": {
        "id": UUID,
        "object": {"const": "pipeline"},
        "name": {"type": "string"},
        "is_default": {"type": "boolean"},
        "stages": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": UUID,
                    "name": {"type": "string"},
                    "position": {"type": "integer"},
                    "probability": {"type": "integer", "minimum": 0, "maximum": 100},
                    "rotting_days": {"type": ["integer", "null"]},
                    "outcome": {"type": "string", "enum": list(OUTCOMES)},
                },
            },
        },
    },
}


def _json(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def lead_json(lead: Lead) -> dict[str, Any]:
    """A lead as the API shows it."""
    out: dict[str, Any] = {"id": str(lead.id), "object": "lead"}
    for name in LEAD_SCHEMA["properties"]:
        if name not in out:
            out[name] = _json(getattr(lead, name))
    return out


def deal_json(deal: Deal) -> dict[str, Any]:
    """A deal as the API shows it."""
    out: dict[str, Any] = {"id": str(deal.id), "object": "deal", "stage": deal.stage.name}
    for name in DEAL_SCHEMA["properties"]:
        if name not in out:
            out[name] = _json(getattr(deal, name))
    out["competitors"] = list(deal.competitors or [])
    return out


def _input(body: dict[str, Any], writable: set[str]) -> dict[str, Any]:
    unknown = {k: "Unknown field." for k in body if k not in writable and k not in READ_ONLY}
    if unknown:
        api_error(400, "validation_failed", "Some fields are not valid.", unknown)
    return {k: v for k, v in body.items() if k in writable}


def _refused(exc: ValidationFailed) -> None:
    db.session.rollback()
    api_error(400, "validation_failed", "Some fields are not valid.", exc.errors)


def _conflict(deal_id: str) -> None:
    db.session.rollback()
    deal = get_visible_or_404(Deal, deal_id, g.membership)
    api_error(409, "conflict", str(StaleDeal(deal)), {"version": f"Now {deal.version}."})


def _filters(model: Any, allowed: dict[str, Any]) -> Any:
    stmt = select(model).where(*visible(model, g.membership))
    errors: dict[str, str] = {}
    for name, value in request.args.items():
        if name in ("limit", "cursor"):
            continue
        if name not in allowed:
            errors[name] = "Unknown query parameter."
            continue
        try:
            stmt = allowed[name](stmt, value)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        api_error(400, "validation_failed", "Some query parameters are not valid.", errors)
    return stmt


def _by_id(column: Any) -> Any:
    def apply(stmt: Any, value: str) -> Any:
        rid = parse_uuid(value)
        if rid is None:
            raise ValueError("Not an id.")
        return stmt.where(column == rid)

    return apply


def _owner(column: Any) -> Any:
    def apply(stmt: Any, value: str) -> Any:
        if value == "me":
            return stmt.where(column == g.membership.user_id)
        if value in ("none", "pool"):
            return stmt.where(column.is_(None))
        return _by_id(column)(stmt, value)

    return apply


def _choice(column: Any, values: tuple[str, ...]) -> Any:
    def apply(stmt: Any, value: str) -> Any:
        if value not in values:
            raise ValueError(f"One of: {', '.join(values)}.")
        return stmt.where(column == value)

    return apply


def _param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }


# --------------------------------------------------------------------------- leads

LEAD_WRITABLE = {
    "name",
    "company",
    "title",
    "email",
    "phone",
    "source",
    "status",
    "owner_id",
    "region",
    "industry",
    "notes",
}
LEAD_FILTERS = {
    "status": _choice(Lead.status, LEAD_STATUSES),
    "owner": _owner(Lead.owner_id),
    "pool": lambda stmt, value: stmt.where(*pool_condition()) if value == "true" else stmt,
    "source": lambda stmt, value: stmt.where(Lead.source == value),
    "q": lambda stmt, value: stmt.where(search_condition(value[:100])),
}


@leads_api.get("")
@require_permission("sfa.read")
@api_doc(
    "List leads (newest first).",
    response_schema="Leads",
    many=True,
    parameters=[
        _param("status", "new, working, qualified, unqualified or converted."),
        _param("owner", "A member's user id, 'me' or 'pool' (nobody)."),
        _param("pool", "'true': open leads in the shared pool."),
        _param("source", "Leads of this source."),
        _param("q", "Name, company or e-mail contains this text."),
    ],
)
def list_leads() -> Any:
    """List leads (newest first)."""
    return api_page(
        _filters(Lead, LEAD_FILTERS), Lead.id, lead_json, list_name="leads", descending=True
    )


@leads_api.post("")
@require_permission("sfa.write")
@api_doc("Capture a lead (assigned by the rules unless owner_id is given).", status=201)
def create_lead_api() -> Any:
    """Capture a lead (assigned by the rules unless owner_id is given)."""
    data = _input(api_json(), LEAD_WRITABLE)
    try:
        lead = create_lead(data, actor=current_user, via="api", assign="owner_id" not in data)
    except ValidationFailed as exc:
        _refused(exc)
    db.session.commit()
    return lead_json(lead), 201, {"Location": url_for("api_leads.get_lead", lead_id=lead.id)}


@leads_api.get("/<lead_id>")
@require_permission("sfa.read")
def get_lead(lead_id: str) -> Any:
    """Get one lead."""
    return lead_json(get_visible_or_404(Lead, lead_id, g.membership))


@leads_api.patch("/<lead_id>")
@require_permission("sfa.write")
def update_lead_api(lead_id: str) -> Any:
    """Change some fields of a lead (a converted lead is read-only)."""
    lead = get_visible_or_404(Lead, lead_id, g.membership)
    data = _input(api_json(), LEAD_WRITABLE)
    try:
        update_lead(lead, data, actor=current_user)
    except ValidationFailed as exc:
        _refused(exc)
    db.session.commit()
    return lead_json(lead)


CONVERT_FIELDS = {
    "account",
    "account_name",
    "contact",
    "create_deal",
    "deal_name",
    "deal_amount",
    "deal_currency",
    "deal_pipeline_id",
    "deal_stage_id",
    "deal_expected_close",
}


@leads_api.post("/<lead_id>/convert")
@require_permission("sfa.write")
@api_doc(
    "Convert a lead into an account, a contact and a deal in one step.",
    status=200,
    description=(
        "Body: account ('new' or an account id to link), account_name, contact ('new' or a "
        "contact id), create_deal (default true), deal_name, deal_amount, deal_currency, "
        "deal_pipeline_id, deal_stage_id, deal_expected_close. A lead converted before "
        "answers 409 already_converted."
    ),
)
def convert_lead_api(lead_id: str) -> Any:
    """Convert a lead into an account, a contact and a deal in one step."""
    lead = get_visible_or_404(Lead, lead_id, g.membership)
    choice = _input(api_json(), CONVERT_FIELDS)
    if isinstance(choice.get("create_deal"), bool):
        choice["create_deal"] = "1" if choice["create_deal"] else "0"
    try:
        done = convert_lead(lead, choice, actor=current_user, membership=g.membership)
    except AlreadyConverted as exc:
        db.session.rollback()
        api_error(409, "already_converted", exc.errors["lead"], exc.errors)
    except ValidationFailed as exc:
        _refused(exc)
    db.session.commit()
    return {
        "lead": lead_json(done.lead),
        "account_id": str(done.account.id),
        "contact_id": str(done.contact.id),
        "deal": deal_json(done.deal) if done.deal else None,
    }


# --------------------------------------------------------------------------- deals

DEAL_WRITABLE = {
    "name",
    "account_id",
    "contact_id",
    "pipeline_id",
    "stage_id",
    "amount",
    "currency",
    "expected_close",
    "owner_id",
    "competitors",
    "close_reason",
    "forecast_category",
}
DEAL_FILTERS = {
    "status": _choice(Deal.status, OUTCOMES),
    "pipeline_id": _by_id(Deal.pipeline_id),
    "stage_id": _by_id(Deal.stage_id),
    "account_id": _by_id(Deal.account_id),
    "contact_id": _by_id(Deal.contact_id),
    "owner": _owner(Deal.owner_id),
    "forecast_category": _choice(Deal.forecast_category, FORECAST_CATEGORIES),
}


@deals_api.get("")
@require_permission("sfa.read")
@api_doc(
    "List deals (newest first).",
    response_schema="Deals",
    many=True,
    parameters=[
        _param("status", "open, won or lost."),
        _param("pipeline_id", "Deals of this pipeline."),
        _param("stage_id", "Deals in this stage."),
        _param("account_id", "Deals of this account."),
        _param("contact_id", "Deals of this contact."),
        _param("owner", "A member's user id, 'me' or 'none'."),
        _param("forecast_category", "commit, best_case, pipeline or omitted."),
    ],
)
def list_deals() -> Any:
    """List deals (newest first)."""
    return api_page(
        _filters(Deal, DEAL_FILTERS), Deal.id, deal_json, list_name="deals", descending=True
    )


@deals_api.post("")
@require_permission("sfa.write")
def create_deal_api() -> Any:
    """Create a deal."""
    data = _input(api_json(), DEAL_WRITABLE)
    try:
        deal = create_deal(data, actor=current_user, membership=g.membership)
    except ValidationFailed as exc:
        _refused(exc)
    db.session.commit()
    return deal_json(deal), 201, {"Location": url_for("api_deals.get_deal", deal_id=deal.id)}


@deals_api.get("/<deal_id>")
@require_permission("sfa.read")
def get_deal(deal_id: str) -> Any:
    """Get one deal."""
    return deal_json(get_visible_or_404(Deal, deal_id, g.membership))


@deals_api.patch("/<deal_id>")
@require_permission("sfa.write")
def update_deal_api(deal_id: str) -> Any:
    """Change some fields of a deal (send ``version`` to refuse overwriting others' changes)."""
    deal = get_visible_or_404(Deal, deal_id, g.membership)
    body = api_json()
    version = body.pop("version", None)
    data = _input(body, DEAL_WRITABLE)
    try:
        update_deal(deal, data, version=version, actor=current_user, membership=g.membership)
        db.session.commit()
    except (StaleDeal, StaleDataError):
        _conflict(deal_id)
    except ValidationFailed as exc:
        _refused(exc)
    return deal_json(deal)


@deals_api.post("/<deal_id>/move")
@require_permission("sfa.write")
@api_doc(
    "Move a deal to another stage of its pipeline.",
    status=200,
    description=(
        "Body: stage_id, version (the deal's, as last read: a stale one answers 409), "
        "close_reason (required for a lost stage)."
    ),
)
def move_deal_api(deal_id: str) -> Any:
    """Move a deal to another stage of its pipeline."""
    deal = get_visible_or_404(Deal, deal_id, g.membership)
    body = _input(api_json(), {"stage_id", "version", "close_reason"})
    try:
        move_deal(
            deal,
            body.get("stage_id"),
            version=body.get("version"),
            reason=body.get("close_reason"),
            actor=current_user,
        )
        db.session.commit()
    except (StaleDeal, StaleDataError):
        _conflict(deal_id)
    except ValidationFailed as exc:
        _refused(exc)
    return deal_json(deal)


# --------------------------------------------------------------------------- pipelines


def pipeline_json(pipeline: Pipeline, stages: dict[uuid.UUID, list[Any]] | None = None) -> dict:
    """A pipeline and its stages as the API shows them."""
    stages = stages if stages is not None else stages_by_pipeline()
    return {
        "id": str(pipeline.id),
        "object": "pipeline",
        "name": pipeline.name,
        "is_default": pipeline.is_default,
        "stages": [
            {
                "id": str(s.id),
                "name": s.name,
                "position": s.position,
                "probability": s.probability,
                "rotting_days": s.rotting_days,
                "outcome": s.outcome,
            }
            for s in stages.get(pipeline.id, [])
        ],
    }


@pipelines_api.get("")
@require_permission("sfa.read")
def list_pipelines() -> Any:
    """List pipelines with their stages."""
    stages = stages_by_pipeline()
    return api_page(
        select(Pipeline), Pipeline.id, lambda p: pipeline_json(p, stages), list_name="pipelines"
    )


@pipelines_api.get("/<pipeline_id>")
@require_permission("sfa.read")
def get_pipeline(pipeline_id: str) -> Any:
    """Get one pipeline with its stages."""
    from crm_platform.sdk import get_or_404

    return pipeline_json(get_or_404(Pipeline, pipeline_id))
