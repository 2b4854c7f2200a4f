"""The module's API resources: ``/api/v1/segments``, ``/api/v1/campaigns``,
``/api/v1/suppression`` (written only against ``crm_platform.sdk``: the core authenticates
the key, acts as its creator and answers 404 while the module is off)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NoReturn

from flask import Response, request, url_for
from sqlalchemy import and_, select

from crm_platform.sdk import (
    Contact,
    ValidationFailed,
    api_blueprint,
    api_doc,
    api_error,
    api_json,
    api_page,
    current_user,
    db,
    get_or_404,
    require_permission,
)

from .analytics import effect
from .campaigns import (
    cancel_campaign,
    create_campaign,
    schedule_campaign,
    start_campaign,
    update_campaign,
)
from .models import Campaign, Message, Segment, SegmentMember, Suppression
from .segment_compiler import clean_definition, count_members
from .segments import add_members, create_segment, delete_segment, update_segment
from .suppression import REASONS, process_bounce_report, record_bounce, suppress

segments_api = api_blueprint("segments", __name__)
campaigns_api = api_blueprint("campaigns", __name__)
suppression_api = api_blueprint("suppression", __name__)

UUID = {"type": "string", "format": "uuid", "readOnly": True}
TIME = {"type": ["string", "null"], "format": "date-time", "readOnly": True}
RULE = {
    "type": "object",
    "required": ["field", "op"],
    "properties": {
        "field": {"type": "string", "description": "e.g. contact.lifecycle_stage"},
        "op": {"type": "string", "description": "e.g. is, in, gt, within_days"},
        "value": {"description": "A string, number, list or pair, by operator."},
    },
}
DEFINITION = {
    "type": "object",
    "properties": {
        "match": {"type": "string", "enum": ["all", "any"]},
        "groups": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "match": {"type": "string", "enum": ["all", "any"]},
                    "rules": {"type": "array", "items": RULE},
                },
            },
        },
    },
}
SEGMENT_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "id": UUID,
        "name": {"type": "string", "maxLength": 120},
        "description": {"type": ["string", "null"]},
        "kind": {"type": "string", "enum": ["dynamic", "static"]},
        "definition": DEFINITION,
        "refresh_hours": {"type": "integer", "minimum": 0},
        "member_count": {"type": "integer", "readOnly": True},
        "refreshed_at": TIME,
    },
}
CAMPAIGN_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "id": UUID,
        "name": {"type": "string", "maxLength": 160},
        "channel": {"type": "string", "enum": ["email", "event", "call", "direct_mail"]},
        "status": {"type": "string", "readOnly": True},
        "segment_id": {"type": ["string", "null"], "format": "uuid"},
        "topic": {"type": "string"},
        "subject": {"type": "string", "description": "Merge fields: {{ contact.first_name }}"},
        "subject_b": {"type": ["string", "null"]},
        "ab_test_percent": {"type": "integer", "minimum": 0, "maximum": 100},
        "ab_wait_hours": {"type": "integer", "minimum": 1, "maximum": 168},
        "body_html": {"type": "string"},
        "from_name": {"type": ["string", "null"]},
        "reply_to": {"type": ["string", "null"], "format": "email"},
        "rate_per_minute": {"type": "integer", "minimum": 0},
        "cost": {"type": "string"},
        "currency": {"type": "string"},
        "conversion_days": {"type": "integer"},
        "scheduled_at": TIME,
        "started_at": TIME,
        "finished_at": TIME,
        "stats": {"type": "object", "readOnly": True},
    },
}
SUPPRESSION_SCHEMA = {
    "type": "object",
    "required": ["email"],
    "properties": {
        "id": UUID,
        "email": {"type": "string", "format": "email"},
        "scope": {"type": "string", "description": "all, or a topic key"},
        "reason": {"type": "string", "enum": list(REASONS)},
        "note": {"type": ["string", "null"]},
        "created_at": TIME,
    },
}
SEGMENT_FIELDS = frozenset({"name", "description", "kind", "definition", "refresh_hours"})
CAMPAIGN_FIELDS = frozenset(
    name
    for name in CAMPAIGN_SCHEMA["properties"]
    if not CAMPAIGN_SCHEMA["properties"][name].get("readOnly")
) | {"responses", "notes"}
SUPPRESSION_FIELDS = frozenset({"email", "scope", "reason", "note"})


def _invalid(errors: Mapping[str, Any], message: str = "Some fields are not valid.") -> NoReturn:
    db.session.rollback()
    api_error(400, "validation_failed", message, errors)


def _body(allowed: Iterable[str]) -> dict[str, Any]:
    body = api_json()
    unknown = {k: "Unknown field." for k in body if k not in allowed and k not in ("id",)}
    if unknown:
        _invalid(unknown)
    return body


def _time(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


# --------------------------------------------------------------------------- segments


def segment_json(segment: Segment, *, count: bool = False) -> dict[str, Any]:
    """A segment as the API shows it (``live_count``: how many match now)."""
    out = {
        "id": str(segment.id),
        "name": segment.name,
        "description": segment.description,
        "kind": segment.kind,
        "definition": segment.definition,
        "refresh_hours": segment.refresh_hours,
        "member_count": segment.member_count,
        "refreshed_at": _time(segment.refreshed_at),
    }
    if count and segment.kind == "dynamic":
        out["live_count"] = count_members(segment.definition)
    return out


@segments_api.get("")
@require_permission("marketing.read")
def segment_list() -> Any:
    """List segments and static lists."""
    return api_page(select(Segment), Segment.id, segment_json, list_name="segments")


@segments_api.post("")
@require_permission("marketing.manage")
def segment_create() -> Any:
    """Create a segment: a definition (dynamic) or an empty static list."""
    try:
        segment = create_segment(_body(SEGMENT_FIELDS), actor=current_user)
    except ValidationFailed as exc:
        _invalid(exc.errors)
    db.session.commit()
    location = url_for("api_segments.segment_get", segment_id=segment.id)
    return segment_json(segment), 201, {"Location": location}


@segments_api.post("/count")
@api_doc(response_schema=None, status=200)
@require_permission("marketing.read")
def segment_count() -> Any:
    """Count the contacts a definition matches now (nothing is saved)."""
    body = _body({"definition"})
    try:
        definition = clean_definition(body.get("definition"))
    except ValidationFailed as exc:
        _invalid(exc.errors, "The definition is not valid.")
    return {"count": count_members(definition)}


@segments_api.get("/<segment_id>")
@require_permission("marketing.read")
def segment_get(segment_id: str) -> Any:
    """Get one segment with how many contacts match it now."""
    return segment_json(get_or_404(Segment, segment_id), count=True)


@segments_api.patch("/<segment_id>")
@require_permission("marketing.manage")
def segment_update(segment_id: str) -> Any:
    """Change a segment's name, description, definition or refresh period."""
    segment = get_or_404(Segment, segment_id)
    body = _body(SEGMENT_FIELDS)
    data = {
        "name": segment.name,
        "description": segment.description,
        "refresh_hours": segment.refresh_hours,
        "definition": segment.definition,
        **body,
    }
    try:
        update_segment(segment, data)
    except ValidationFailed as exc:
        _invalid(exc.errors)
    db.session.commit()
    return segment_json(segment)


@segments_api.delete("/<segment_id>")
@require_permission("marketing.manage")
def segment_delete(segment_id: str) -> Any:
    """Delete a segment."""
    delete_segment(get_or_404(Segment, segment_id))
    db.session.commit()
    return Response(status=204)


def _member_json(contact: Contact) -> dict[str, Any]:
    return {"id": str(contact.id), "name": contact.full_name, "email": contact.email}


@segments_api.get("/<segment_id>/members")
@require_permission("marketing.read")
def segment_members(segment_id: str) -> Any:
    """List the contacts of a segment's materialised list (or of a static list)."""
    segment = get_or_404(Segment, segment_id)
    stmt = (
        select(Contact)
        .join(
            SegmentMember,
            and_(
                SegmentMember.tenant_id == Contact.tenant_id, SegmentMember.contact_id == Contact.id
            ),
        )
        .where(SegmentMember.segment_id == segment.id, Contact.deleted_at.is_(None))
    )
    return api_page(stmt, Contact.id, _member_json, list_name=f"members:{segment.id}")


@segments_api.post("/<segment_id>/members")
@require_permission("marketing.manage")
def segment_add_members(segment_id: str) -> Any:
    """Add contacts (``contact_ids``) to a static list."""
    segment = get_or_404(Segment, segment_id)
    body = _body({"contact_ids"})
    ids = body.get("contact_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        _invalid({"contact_ids": "Expected a list of contact ids."})
    try:
        added = add_members(segment, ids)
    except ValidationFailed as exc:
        _invalid(exc.errors)
    db.session.commit()
    return {"added": added, "member_count": segment.member_count}


# --------------------------------------------------------------------------- campaigns


def campaign_json(campaign: Campaign, *, stats: bool = False) -> dict[str, Any]:
    """A campaign as the API shows it (``stats``: its effectiveness figures)."""
    out: dict[str, Any] = {"id": str(campaign.id)}
    for name in CAMPAIGN_SCHEMA["properties"]:
        if name in ("id", "stats"):
            continue
        value = getattr(campaign, name)
        if isinstance(value, datetime):
            value = _time(value)
        elif name in ("segment_id", "cost") and value is not None:
            value = str(value)
        out[name] = value
    if stats:
        result = effect(campaign)
        out["stats"] = {
            "recipients": result.recipients,
            "sent": result.sent,
            "delivered": result.delivered,
            "bounced": result.bounced,
            "suppressed": result.suppressed,
            "opened": result.opened,
            "clicked": result.clicked,
            "unsubscribed": result.unsubscribed,
            "converted": result.converted,
            "revenue": str(result.revenue),
            "cost": str(result.cost),
            "roi": result.roi,
        }
    return out


@campaigns_api.get("")
@require_permission("marketing.read")
def campaign_list() -> Any:
    """List campaigns, newest first."""
    return api_page(
        select(Campaign), Campaign.id, campaign_json, list_name="campaigns", descending=True
    )


@campaigns_api.post("")
@require_permission("marketing.manage")
def campaign_create() -> Any:
    """Create a draft campaign (templates are checked for unknown merge fields)."""
    try:
        campaign = create_campaign(_body(CAMPAIGN_FIELDS), actor=current_user)
    except ValidationFailed as exc:
        _invalid(exc.errors)
    db.session.commit()
    location = url_for("api_campaigns.campaign_get", campaign_id=campaign.id)
    return campaign_json(campaign), 201, {"Location": location}


@campaigns_api.get("/<campaign_id>")
@require_permission("marketing.read")
def campaign_get(campaign_id: str) -> Any:
    """Get one campaign with its figures (sent, opened, clicked, converted, ROI ...)."""
    return campaign_json(get_or_404(Campaign, campaign_id), stats=True)


@campaigns_api.patch("/<campaign_id>")
@require_permission("marketing.manage")
def campaign_update(campaign_id: str) -> Any:
    """Change a campaign (its content only while draft or scheduled)."""
    campaign = get_or_404(Campaign, campaign_id)
    try:
        update_campaign(campaign, _body(CAMPAIGN_FIELDS))
    except ValidationFailed as exc:
        _invalid(exc.errors)
    db.session.commit()
    return campaign_json(campaign)


@campaigns_api.post("/<campaign_id>/send")
@require_permission("marketing.send")
def campaign_send(campaign_id: str) -> Any:
    """Send now, or at ``at`` (ISO 8601 with a time zone); non-e-mail campaigns are
    recorded now."""
    campaign = get_or_404(Campaign, campaign_id)
    body = _body({"at"})
    try:
        if body.get("at"):
            try:
                at = datetime.fromisoformat(str(body["at"]).replace("Z", "+00:00"))
            except ValueError:
                _invalid({"at": "Expected a date-time in ISO 8601."})
            schedule_campaign(campaign, at)
        else:
            start_campaign(campaign)
    except ValidationFailed as exc:
        _invalid(exc.errors, "The campaign cannot be sent.")
    db.session.commit()
    return campaign_json(campaign), 202


@campaigns_api.post("/<campaign_id>/cancel")
@require_permission("marketing.send")
def campaign_cancel(campaign_id: str) -> Any:
    """Stop a scheduled or sending campaign."""
    campaign = get_or_404(Campaign, campaign_id)
    try:
        cancel_campaign(campaign)
    except ValidationFailed as exc:
        _invalid(exc.errors)
    db.session.commit()
    return campaign_json(campaign)


# --------------------------------------------------------------------------- suppression


def suppression_json(entry: Suppression) -> dict[str, Any]:
    """A suppression entry as the API shows it."""
    return {
        "id": str(entry.id),
        "email": entry.email,
        "scope": entry.scope,
        "reason": entry.reason,
        "note": entry.note,
        "created_at": _time(entry.created_at),
    }


@suppression_api.get("")
@api_doc(
    response_schema="Suppression",
    many=True,
    parameters=[
        {
            "name": "email",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "Entries of this address.",
        }
    ],
)
@require_permission("marketing.read")
def suppression_list() -> Any:
    """List the suppression list, newest first (``?email=`` for one address)."""
    stmt = select(Suppression)
    if request.args.get("email"):
        stmt = stmt.where(Suppression.email == request.args["email"].strip().lower())
    return api_page(
        stmt, Suppression.id, suppression_json, list_name="suppression", descending=True
    )


@suppression_api.post("")
@api_doc(
    request_schema="Suppression",
    response_schema="Suppression",
    other_status={200: "The address was suppressed already: the existing entry."},
)
@require_permission("marketing.manage")
def suppression_add() -> Any:
    """Suppress an address for every topic (``scope: all``) or one topic."""
    body = _body(SUPPRESSION_FIELDS)
    try:
        entry, new = suppress(
            body.get("email"),
            scope=body.get("scope") or "all",
            reason=body.get("reason") or "manual",
            note=body.get("note"),
        )
    except ValidationFailed as exc:
        _invalid(exc.errors)
    db.session.commit()
    return suppression_json(entry), 201 if new else 200


@suppression_api.delete("/<entry_id>")
@require_permission("marketing.manage")
def suppression_remove(entry_id: str) -> Any:
    """Take an address off the list."""
    db.session.delete(get_or_404(Suppression, entry_id))
    db.session.commit()
    return Response(status=204)


@suppression_api.post("/bounces")
@api_doc(status=200)
@require_permission("marketing.manage")
def suppression_bounces() -> Any:
    """Record bounces: ``{"raw": "<a delivery status notification>"}``, or one bounce as
    ``{"message_id": "<Message-ID header>" or "email": ..., "type": "hard"|"soft"}``."""
    body = _body({"raw", "message_id", "email", "type", "detail"})
    try:
        if body.get("raw"):
            if not isinstance(body["raw"], str):
                _invalid({"raw": "Expected the message as a string."})
            recorded = process_bounce_report(body["raw"])
            db.session.commit()
            return {"recorded": recorded}
        kind = body.get("type") or "hard"
        if kind not in ("hard", "soft"):
            _invalid({"type": "Use hard or soft."})
        message = None
        if body.get("message_id"):
            message = db.session.scalars(
                select(Message).where(Message.message_id == str(body["message_id"]))
            ).first()
            if message is None:
                _invalid({"message_id": "No message was sent with this Message-ID."})
        address = body.get("email") or (message.email if message else None)
        if not address:
            _invalid({"email": "Give the Message-ID or the address that bounced."})
        record_bounce(
            message.id if message else None,
            address,
            message.contact_id if message else None,
            hard=kind == "hard",
            detail=str(body.get("detail") or "")[:500],
        )
    except ValidationFailed as exc:
        _invalid(exc.errors)
    db.session.commit()
    return {"recorded": 1}
