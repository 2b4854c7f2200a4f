"""Segments: create, change, delete, count, refresh (materialise) and static lists.

A dynamic segment's members are materialised in ``marketing_segment_members`` by
:func:`refresh_segment`: two set-based statements (delete the contacts that no longer match,
insert the ones that newly do), so members keep the time they joined. A scheduled job
refreshes every segment whose ``refresh_hours`` have passed. A static list's members are
added and removed by hand (or copied from a segment once). Writes validate first and leave
the commit to the caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, delete, exists, func, insert, literal, select, update

from crm_platform.sdk import Contact, ValidationFailed, clean_text, db, parse_uuid, utcnow

from .models import Campaign, Segment, SegmentMember
from .segment_compiler import clean_definition, count_members, members_query
from .segment_fields import context
from .sqlutil import sql_uuid

KINDS = ("dynamic", "static")
MAX_REFRESH_HOURS = 24 * 30


def check_segment(data: Mapping[str, Any], *, segment: Segment | None = None) -> dict[str, Any]:
    """Cleaned values of a segment (definition checked for dynamic ones); ValidationFailed."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    try:
        name = clean_text(data.get("name"), 120)
        if not name:
            raise ValueError(_("Give the segment a name."))
        clash = select(Segment.id).where(func.lower(Segment.name) == name.lower())
        if segment is not None:
            clash = clash.where(Segment.id != segment.id)
        if db.session.scalar(clash):
            raise ValueError(_("Another segment has this name."))
        values["name"] = name
    except ValueError as exc:
        errors["name"] = str(exc)
    try:
        values["description"] = clean_text(data.get("description"), 2000, multiline=True)
    except ValueError as exc:
        errors["description"] = str(exc)
    kind = segment.kind if segment is not None else (data.get("kind") or "dynamic")
    if kind not in KINDS:
        errors["kind"] = _("Choose dynamic or static.")
    values["kind"] = kind
    hours = data.get("refresh_hours", segment.refresh_hours if segment else 24)
    try:
        values["refresh_hours"] = int(hours if hours not in (None, "") else 24)
        if not 0 <= values["refresh_hours"] <= MAX_REFRESH_HOURS:
            raise ValueError
    except (TypeError, ValueError):
        errors["refresh_hours"] = _(
            "Enter a number of hours from 0 (never) to %(max)d.", max=MAX_REFRESH_HOURS
        )
    if kind == "dynamic":
        try:
            values["definition"] = clean_definition(
                data.get("definition"), segment_id=segment.id if segment else None
            )
        except ValidationFailed as exc:
            errors.update(exc.errors)
    else:
        values["definition"] = {}
    if errors:
        raise ValidationFailed(errors)
    return values


def create_segment(data: Mapping[str, Any], *, actor: Any = None) -> Segment:
    """Validate and add a segment; a dynamic one is counted now and refreshed by a job."""
    values = check_segment(data)
    segment = Segment(**values, created_by_id=getattr(actor, "id", None))
    db.session.add(segment)
    db.session.flush()
    if segment.kind == "dynamic":
        segment.member_count = count_members(segment.definition)
        _queue_refresh(segment)
    return segment


def update_segment(segment: Segment, data: Mapping[str, Any]) -> None:
    """Validate and apply changes; a changed definition is recounted and refreshed."""
    values = check_segment(data, segment=segment)
    changed = values.get("definition") != segment.definition
    for name, value in values.items():
        setattr(segment, name, value)
    segment.updated_at = utcnow()
    db.session.flush()
    if segment.kind == "dynamic" and changed:
        segment.member_count = count_members(segment.definition)
        _queue_refresh(segment)


def delete_segment(segment: Segment) -> None:
    """Delete a segment and its members (campaigns keep their recipients).

    Campaigns that used it lose only the link, cleared here: the database's ``SET NULL`` on
    the composite key ``(tenant_id, segment_id)`` would clear ``tenant_id`` too.
    """
    db.session.execute(
        update(Campaign)
        .where(Campaign.segment_id == segment.id)
        .values(segment_id=None)
        .execution_options(synchronize_session="fetch")
    )
    db.session.execute(delete(SegmentMember).where(SegmentMember.segment_id == segment.id))
    db.session.delete(segment)
    db.session.flush()


def _queue_refresh(segment: Segment) -> None:
    from .jobs import refresh_segment_job

    refresh_segment_job.enqueue_after_commit(str(segment.id))


def refresh_segment(segment: Segment) -> int:
    """Materialise a dynamic segment's members now (set-based); returns how many there are."""
    if segment.kind != "dynamic":
        return segment.member_count
    ctx = context()
    mine = and_(SegmentMember.tenant_id == ctx.tenant_id, SegmentMember.segment_id == segment.id)
    # Who no longer matches: a NOT EXISTS on the contact's primary key (never NOT IN a big
    # list, a quadratic subplan once the list outgrows work_mem).
    still = members_query(segment.definition, ctx).where(Contact.id == SegmentMember.contact_id)
    db.session.execute(
        delete(SegmentMember)
        .where(mine, ~exists(still))
        .execution_options(synchronize_session=False)
    )
    # Who newly matches: the matching ids EXCEPT the members, a set operation that stays
    # linear whatever the planner guesses (an anti-join planned on a new segment's empty
    # statistics became a nested loop: over 12 minutes for 133,000 members).
    fresh = (
        members_query(segment.definition, context(ctx.now))
        .except_(select(SegmentMember.contact_id).where(mine))
        .subquery()
    )
    new = select(
        literal(ctx.tenant_id), sql_uuid(), literal(segment.id), fresh.c.id, literal(ctx.now)
    )
    columns = ["tenant_id", "id", "segment_id", "contact_id", "added_at"]
    db.session.execute(
        insert(SegmentMember).from_select(columns, new).execution_options(synchronize_session=False)
    )
    segment.member_count = member_count(segment)
    segment.refreshed_at = ctx.now
    return segment.member_count


def member_count(segment: Segment) -> int:
    """How many members the segment's materialised list has."""
    stmt = select(func.count()).where(SegmentMember.segment_id == segment.id)
    return int(db.session.scalar(stmt) or 0)


def due_segments(now: Any = None) -> list[Segment]:
    """Dynamic segments whose refresh period has passed (or that were never refreshed)."""
    now = now or utcnow()
    rows = db.session.scalars(
        select(Segment).where(Segment.kind == "dynamic", Segment.refresh_hours > 0)
    ).all()
    out = []
    for segment in rows:
        last = segment.refreshed_at
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=now.tzinfo)
        if last is None or (now - last).total_seconds() >= segment.refresh_hours * 3600:
            out.append(segment)
    return out


def add_members(segment: Segment, contact_ids: Iterable[Any]) -> int:
    """Add live contacts to a static list (ids that are not contacts are refused)."""
    if not segment.is_static:
        raise ValidationFailed({"segment": _("Only static lists take contacts by hand.")})
    wanted = {parse_uuid(c) for c in contact_ids} - {None}
    if not wanted:
        raise ValidationFailed({"contact_id": _("Choose one of the contacts.")})
    found = set(
        db.session.scalars(
            select(Contact.id).where(Contact.id.in_(wanted), Contact.deleted_at.is_(None))
        )
    )
    if found != wanted:
        raise ValidationFailed({"contact_id": _("Choose one of the contacts.")})
    present = set(
        db.session.scalars(
            select(SegmentMember.contact_id).where(
                SegmentMember.segment_id == segment.id, SegmentMember.contact_id.in_(found)
            )
        )
    )
    for contact_id in sorted(found - present):
        db.session.add(SegmentMember(segment_id=segment.id, contact_id=contact_id))
    db.session.flush()
    segment.member_count = member_count(segment)
    return len(found - present)


def remove_member(segment: Segment, contact_id: uuid.UUID) -> None:
    """Take a contact off a static list."""
    if not segment.is_static:
        raise ValidationFailed({"segment": _("Only static lists take contacts by hand.")})
    db.session.execute(
        delete(SegmentMember).where(
            SegmentMember.segment_id == segment.id, SegmentMember.contact_id == contact_id
        )
    )
    segment.member_count = member_count(segment)


def copy_to_static(segment: Segment, name: str, *, actor: Any = None) -> Segment:
    """A new static list holding the contacts a segment matches now (set-based copy)."""
    static = create_segment({"name": name, "kind": "static"}, actor=actor)
    ctx = context()
    source = members_query(
        segment.definition,
        ctx,
        literal(ctx.tenant_id),
        sql_uuid(),
        literal(static.id),
        Contact.id,
        literal(ctx.now),
    )
    columns = ["tenant_id", "id", "segment_id", "contact_id", "added_at"]
    db.session.execute(insert(SegmentMember).from_select(columns, source))
    static.member_count = member_count(static)
    return static


def members_page(segment: Segment, *, limit: int = 50, after: Any = None) -> list[Contact]:
    """Contacts of a segment's materialised list, by id (keyset: ``after`` an id)."""
    stmt = (
        select(Contact)
        .join(
            SegmentMember,
            and_(
                SegmentMember.tenant_id == Contact.tenant_id,
                SegmentMember.contact_id == Contact.id,
            ),
        )
        .where(SegmentMember.segment_id == segment.id, Contact.deleted_at.is_(None))
        .order_by(Contact.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(Contact.id > after)
    return list(db.session.scalars(stmt).unique())


def segment_query(segment: Segment, *columns: Any) -> Any:
    """``SELECT`` of the live contacts in a segment now: its definition (dynamic) or its
    list (static)."""
    ctx = context()
    if segment.kind == "dynamic":
        return members_query(segment.definition, ctx, *columns)
    listed = select(SegmentMember.contact_id).where(
        SegmentMember.tenant_id == ctx.tenant_id, SegmentMember.segment_id == segment.id
    )
    return (
        select(*(columns or (Contact.id,)))
        .select_from(Contact)
        .where(
            Contact.tenant_id == ctx.tenant_id,
            Contact.deleted_at.is_(None),
            Contact.id.in_(listed),
        )
    )
