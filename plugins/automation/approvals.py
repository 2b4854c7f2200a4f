"""Approval steps: policies (*a quote discount above N % needs approval by ...*), the gate
other modules ask (``crm_approval_gate``), requests and decisions.

The gate runs inside the user's step, which is then refused and rolled back; so the
request is opened by a job (``open_request``, queued at once, idempotent by the unique
``(kind, record, action, facts_key)``). Approving or rejecting records the decision and
the comment and e-mails the requester; an approved request lets the same step (with the
same facts) through.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm_platform.sdk import (
    Membership,
    User,
    ValidationFailed,
    audit_record,
    db,
    job,
    send_mail,
    utcnow,
    uuid7,
)

from .models import ApprovalPolicy, ApprovalRequest

#: What a policy may control: (kind, action) → the fact compared with the threshold.
CONTROLLED = {("quote", "send"): "discount_percent"}


def facts_key(facts: dict[str, Any]) -> str:
    text = json.dumps(facts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _percent(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def policy_for(kind: str, action: str, facts: dict[str, Any]) -> ApprovalPolicy | None:
    """The active policy whose threshold ``facts`` exceed (the lowest threshold first)."""
    fact = CONTROLLED.get((kind, action))
    if fact is None:
        return None
    value = _percent(facts.get(fact))
    policies = db.session.scalars(
        select(ApprovalPolicy)
        .where(
            ApprovalPolicy.active.is_(True),
            ApprovalPolicy.kind == kind,
            ApprovalPolicy.action == action,
        )
        .order_by(ApprovalPolicy.threshold_percent)
    )
    return next((p for p in policies if value > p.threshold_percent), None)


def find_request(kind: str, record_id: Any, action: str, key: str) -> ApprovalRequest | None:
    return db.session.scalars(
        select(ApprovalRequest).where(
            ApprovalRequest.kind == kind,
            ApprovalRequest.record_id == record_id,
            ApprovalRequest.action == action,
            ApprovalRequest.facts_key == key,
        )
    ).one_or_none()


def gate(kind: str, record: Any, action: str, facts: dict[str, Any], actor: Any) -> str | None:
    """``crm_approval_gate``: why the step must wait, or ``None``."""
    policy = policy_for(kind, action, facts)
    if policy is None:
        return None
    key = facts_key(facts)
    request = find_request(kind, record.id, action, key)
    if request is not None and request.status == "approved":
        return None
    if request is not None and request.status == "rejected":
        return _(
            "The approval was rejected: %(comment)s. Change the discount to ask again.",
            comment=request.comment or _("no comment"),
        )
    if request is None:
        label = str(getattr(record, "label", None) or getattr(record, "name", "") or record.id)
        open_request.enqueue(
            str(policy.id),
            kind,
            str(record.id),
            action,
            facts,
            label[:200],
            str(getattr(actor, "id", "") or ""),
        )
    fact = CONTROLLED[(kind, action)]
    return _(
        "This needs approval (%(fact)s %(value)s%% is above %(limit)s%%): an approval request "
        "is waiting for %(approver)s.",
        fact=fact.replace("_", " "),
        value=facts.get(fact),
        limit=policy.threshold_percent,
        approver=approver_label(policy),
    )


def approver_label(policy: ApprovalPolicy) -> str:
    if policy.approver_id:
        user = db.session.get(User, policy.approver_id)
        return user.name or user.email if user else _("a member")
    return _("a member with the role %(role)s", role=policy.approver_role or "admin")


@job(retries=3, module="automation")
def open_request(
    policy_id: str,
    kind: str,
    record_id: str,
    action: str,
    facts: dict[str, Any],
    label: str,
    requester_id: str,
) -> str:
    """Open the approval request of a held step (idempotent)."""
    key = facts_key(facts)
    if find_request(kind, uuid.UUID(record_id), action, key) is not None:
        return "exists"
    try:
        with db.session.begin_nested():
            db.session.add(
                ApprovalRequest(
                    id=uuid7(),
                    policy_id=uuid.UUID(policy_id),
                    kind=kind,
                    record_id=uuid.UUID(record_id),
                    action=action,
                    label=label,
                    facts=facts,
                    facts_key=key,
                    status="pending",
                    requested_by_id=uuid.UUID(requester_id) if requester_id else None,
                    requested_at=utcnow(),
                )
            )
    except IntegrityError:
        return "exists"
    return "opened"


def may_decide(request: ApprovalRequest, membership: Any) -> bool:
    """True when ``membership`` is an approver of the request's policy."""
    if membership is None:
        return False
    if membership.role == "owner":
        return True
    policy = db.session.get(ApprovalPolicy, (request.tenant_id, request.policy_id))
    if policy is None:
        return membership.can("automation.manage")
    if policy.approver_id:
        return membership.user_id == policy.approver_id
    order = ("readonly", "member", "manager", "admin", "owner")
    need = policy.approver_role or "admin"
    return order.index(membership.role) >= order.index(need) if need in order else False


def pending_for(membership: Any) -> list[ApprovalRequest]:
    rows = db.session.scalars(
        select(ApprovalRequest)
        .where(ApprovalRequest.status == "pending")
        .order_by(ApprovalRequest.requested_at)
    ).all()
    return [r for r in rows if may_decide(r, membership)]


def pending_count(membership: Any) -> int:
    total = db.session.scalar(
        select(func.count()).select_from(ApprovalRequest).where(ApprovalRequest.status == "pending")
    )
    return len(pending_for(membership)) if total else 0


def decide(request: ApprovalRequest, approve: bool, comment: str, actor: Any) -> None:
    """Approve or reject a pending request; notify the requester. Caller commits."""
    if request.status != "pending":
        raise ValidationFailed({"status": _("This request was already decided.")})
    comment = (comment or "").strip()
    if not approve and not comment:
        raise ValidationFailed({"comment": _("Say why the request is rejected.")})
    request.status = "approved" if approve else "rejected"
    request.decided_by_id = getattr(actor, "id", None)
    request.decided_at = utcnow()
    request.comment = comment[:2000] or None
    audit_record(
        f"approval.{request.status}",
        target=request.label,
        actor=actor,
        details={"kind": request.kind, "action": request.action, "comment": request.comment},
    )
    requester = db.session.get(User, request.requested_by_id) if request.requested_by_id else None
    if requester is not None:
        verdict = _("approved") if approve else _("rejected")
        send_mail(
            requester.email,
            _("%(label)s: your request was %(verdict)s", label=request.label, verdict=verdict),
            _(
                "%(who)s %(verdict)s the request to %(action)s %(label)s.\n\n"
                "%(comment)s\n\n%(url)s",
                who=getattr(actor, "name", "") or getattr(actor, "email", ""),
                verdict=verdict,
                action=request.action,
                label=request.label,
                comment=request.comment or "",
                url=url_for("automation.approvals", _external=True),
            ),
        )


def member_choices() -> list[tuple[str, str]]:
    rows = db.session.execute(
        select(Membership.user_id, User.name, User.email).join(User, User.id == Membership.user_id)
    ).all()
    return [(str(uid), name or email) for uid, name, email in rows]
