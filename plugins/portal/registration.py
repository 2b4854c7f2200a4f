"""Deal registration: a partner claims an opportunity; channel conflicts are found against
the workspace's data when it is sent; the channel manager approves (maybe creating the
account, contact and an open deal through the core's and Sales' own services) or rejects it;
approved registrations expire after the workspace's number of days unless the deal is won.

Conflicts are found with the SDK's duplicate matching (``matching_records``, the core's
``name_key`` normalisation) and Sales' public models, as :mod:`.customer` does for quotes.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select

from crm_platform.sdk import (
    Account,
    ValidationFailed,
    audit_record,
    clean_date,
    clean_email,
    clean_text,
    create_record,
    db,
    job,
    matching_records,
    module_enabled,
    module_settings,
    parse_uuid,
    require_tenant,
    save_module_settings,
    send_mail,
    utcnow,
)

from . import channel_feed, partners
from .models import PortalUser
from .partner_models import HOLDING, DealRegistration, PartnerOrg

KEY = "portal"
DEFAULT_DAYS = 90
DAYS_RANGE = (1, 730)
MAX_AMOUNT = Decimal("999999999999.99")
CURRENCY = re.compile(r"^[A-Z]{3}$")


def company_key(name: str) -> str:
    """The core's normalised name (``name_key``) of a company."""
    return Account.compute_name_key(SimpleNamespace(name=name))


def _whole_workspace() -> Any:
    """A membership that sees every record (conflicts are checked against all the data)."""
    return SimpleNamespace(role="owner", user_id=None, tenant_id=require_tenant().id)


# --------------------------------------------------------------------------- settings


def expiry_days() -> int:
    """Days an approved registration holds (the workspace's setting, 90 by default)."""
    value = module_settings(KEY).get("registration_days")
    return int(value) if isinstance(value, int) and value > 0 else DEFAULT_DAYS


def save_expiry_days(raw: Any) -> int:
    """Store the number of days; ``ValidationFailed`` outside 1–730. Caller commits."""
    try:
        days = int(str(raw).strip())
    except ValueError:
        days = 0
    low, high = DAYS_RANGE
    if not low <= days <= high:
        raise ValidationFailed(
            {"days": _("Enter a number of days from %(a)d to %(b)d.", a=low, b=high)}
        )
    save_module_settings(KEY, {**module_settings(KEY), "registration_days": days})
    return days


# --------------------------------------------------------------------------- sending


def clean(data: Any) -> dict[str, Any]:
    """The cleaned form of a registration; ``ValidationFailed`` with every problem at once."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, limit, message in (
        ("company", 200, _("Enter the company's name.")),
        ("contact_name", 200, _("Enter the contact's name.")),
    ):
        try:
            values[name] = clean_text(data.get(name), limit)
        except ValueError as exc:
            errors[name] = str(exc)
        else:
            if not values[name]:
                errors[name] = message
    try:
        values["contact_email"] = clean_email(data.get("contact_email"))
    except ValueError as exc:
        errors["contact_email"] = str(exc)
    else:
        if not values["contact_email"]:
            errors["contact_email"] = _("Enter the contact's e-mail address.")
    try:
        amount = Decimal(str(data.get("amount") or "").strip().replace(",", ""))
        if not amount.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        errors["amount"] = _("Enter an amount, e.g. 12000 or 12000.50.")
    else:
        if amount < 0:
            errors["amount"] = _("The amount cannot be negative.")
        elif amount > MAX_AMOUNT:
            errors["amount"] = _("The amount is too large.")
        values["amount"] = amount.quantize(Decimal("0.01"))
    currency = str(data.get("currency") or "").strip().upper()
    if not CURRENCY.match(currency):
        errors["currency"] = _("Enter a three-letter currency code, e.g. EUR.")
    values["currency"] = currency
    try:
        close = clean_date(data.get("expected_close"))
    except ValueError as exc:
        errors["expected_close"] = str(exc)
    else:
        if close is None:
            errors["expected_close"] = _("Enter the expected close date.")
        elif close < date.today():
            errors["expected_close"] = _("The expected close date is in the past.")
        values["expected_close"] = close
    try:
        values["description"] = clean_text(data.get("description"), 5000, multiline=True) or ""
    except ValueError as exc:
        errors["description"] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    return values


def find_conflicts(
    company: str, email: str | None, *, partner_id: Any = None, exclude: Any = None
) -> list[dict[str, Any]]:
    """Channel conflicts of a company and contact e-mail with the workspace's data:

    an account of the same (normalised) name, a contact with the same e-mail address, an
    open deal a rep owns on such an account (Sales on), another partner's pending or
    approved registration for the same company. Labels are for staff only."""
    everyone = _whole_workspace()
    found: list[dict[str, Any]] = []
    account_ids = []
    for match in matching_records("account", everyone, name=company, limit=5):
        if "name" in match.reasons:
            row = match.record
            account_ids.append(row.id)
            found.append({"kind": "account", "id": str(row.id), "label": row.name})
    if email:
        for match in matching_records("contact", everyone, email=email, limit=5):
            row = match.record
            label = " ".join(p for p in (row.first_name, row.last_name) if p) or row.email
            found.append({"kind": "contact", "id": str(row.id), "label": label})
            if row.account_id is not None and row.account_id not in account_ids:
                account_ids.append(row.account_id)
    if account_ids and module_enabled("sfa"):
        from plugins.sfa.models import Deal

        stmt = (
            select(Deal)
            .where(
                Deal.account_id.in_(account_ids),
                Deal.status == "open",
                Deal.owner_id.is_not(None),
            )
            .order_by(Deal.created_at)
            .limit(5)
        )
        for deal in db.session.scalars(stmt).unique():
            owner = deal.owner.name if deal.owner is not None else ""
            label = f"{deal.name} ({owner})" if owner else deal.name
            found.append({"kind": "deal", "id": str(deal.id), "label": label})
    stmt = select(DealRegistration, PartnerOrg.name).join(
        PartnerOrg, PartnerOrg.id == DealRegistration.partner_id
    )
    stmt = stmt.where(
        DealRegistration.company_key == company_key(company),
        DealRegistration.status.in_(HOLDING),
    )
    if partner_id is not None:
        stmt = stmt.where(DealRegistration.partner_id != partner_id)
    if exclude is not None:
        stmt = stmt.where(DealRegistration.id != exclude)
    for reg, partner_name in db.session.execute(stmt.limit(5)):
        label = f"{partner_name}: {reg.company} ({reg.status})"
        found.append({"kind": "registration", "id": str(reg.id), "label": label})
    return found


def register(user: PortalUser, data: Any) -> DealRegistration:
    """A partner user registers a deal (status pending, conflicts stored). Caller commits."""
    org = partners.organisation_of(user)
    if org is None:
        raise ValidationFailed({"partner": _("Your partner access is not active.")})
    values = clean(data)
    reg = DealRegistration(
        **values,
        partner_id=org.id,
        portal_user_id=user.id,
        company_key=company_key(values["company"]),
        status="pending",
        conflicts=find_conflicts(values["company"], values["contact_email"], partner_id=org.id),
    )
    db.session.add(reg)
    db.session.flush()
    channel_feed.record("registration_sent", org.id, company=reg.company)
    audit_record(
        "portal.registration_sent",
        target=str(reg.id),
        details={"company": reg.company, "partner": org.name, "conflicts": len(reg.conflicts)},
        actor=SimpleNamespace(id=None, email=f"portal:{user.email}"),
        actor_label=f"portal:{user.email}",
    )
    return reg


# --------------------------------------------------------------------------- partner view


def of_partner(user: PortalUser) -> list[DealRegistration]:
    """The registrations of the partner user's organisation, newest first."""
    stmt = (
        select(DealRegistration)
        .where(partners.own(DealRegistration, user))
        .order_by(DealRegistration.created_at.desc())
        .limit(500)
    )
    return list(db.session.scalars(stmt))


def one_of_partner(user: PortalUser, registration_id: Any) -> DealRegistration | None:
    """One registration of the partner user's organisation, or ``None`` (missing, another
    partner's and another workspace's alike)."""
    rid = parse_uuid(str(registration_id))
    if rid is None:
        return None
    stmt = select(DealRegistration).where(
        DealRegistration.id == rid, partners.own(DealRegistration, user)
    )
    return db.session.scalars(stmt).first()


def conflict_summary(reg: DealRegistration) -> list[str]:
    """What a partner may know of the conflicts: never names, only what kind of thing."""
    kinds = reg.conflict_kinds
    summary = []
    if kinds & {"account", "contact", "deal"}:
        summary.append(_("Conflicts with an existing customer."))
    if "registration" in kinds:
        summary.append(_("Conflicts with another registration."))
    return summary


def shared_deal(reg: DealRegistration) -> dict[str, Any] | None:
    """What the partner sees of the registration's deal (the exposed fields), once approved."""
    if reg.status not in ("approved", "won"):
        return None
    from .shared_deals import shared_deal_of

    return shared_deal_of(reg.deal_id, reg.partner_id)


# --------------------------------------------------------------------------- review


def pending_first(status: str | None = None) -> list[DealRegistration]:
    """Registrations for the channel manager (``status`` only, pending by default)."""
    stmt = select(DealRegistration).where(DealRegistration.status == (status or "pending"))
    stmt = stmt.order_by(DealRegistration.created_at).limit(500)
    return list(db.session.scalars(stmt))


def get(registration_id: Any, *, lock: bool = False) -> DealRegistration | None:
    """One registration of the workspace (``lock``: row-locked for a decision)."""
    rid = parse_uuid(str(registration_id))
    if rid is None:
        return None
    stmt = select(DealRegistration).where(DealRegistration.id == rid)
    if lock:
        stmt = stmt.with_for_update()
    return db.session.scalars(stmt).first()


def partner_of(reg: DealRegistration) -> PartnerOrg | None:
    """The registration's partner organisation."""
    return db.session.scalars(select(PartnerOrg).where(PartnerOrg.id == reg.partner_id)).first()


def _submitter(reg: DealRegistration) -> PortalUser | None:
    if reg.portal_user_id is None:
        return None
    return db.session.scalars(select(PortalUser).where(PortalUser.id == reg.portal_user_id)).first()


def _undecided(reg: DealRegistration) -> None:
    if reg.status != "pending":
        raise ValidationFailed({"status": _("This registration was already decided.")})


def _split(name: str) -> tuple[str, str]:
    first, _sep, last = name.partition(" ")
    return first, last.strip()


def _make_deal(reg: DealRegistration, org: PartnerOrg, actor: Any) -> None:
    """Account and contact (found or made through the core's records service) and an open
    deal in the default pipeline through Sales' ``create_deal``."""
    from plugins.sfa.deals import create_deal

    everyone = _whole_workspace()
    account = next(
        (
            m.record
            for m in matching_records("account", everyone, name=reg.company, limit=1)
            if "name" in m.reasons
        ),
        None,
    )
    if account is None:
        account = create_record("account", {"name": reg.company, "source": "partner"}, actor=actor)
    contact = next(
        (m.record for m in matching_records("contact", everyone, email=reg.contact_email, limit=1)),
        None,
    )
    if contact is None:
        first, last = _split(reg.contact_name)
        contact = create_record(
            "contact",
            {
                "first_name": first,
                "last_name": last,
                "email": reg.contact_email,
                "account_id": str(account.id),
                "source": "partner",
            },
            actor=actor,
        )
    deal = create_deal(
        {
            "name": _("%(company)s (partner %(partner)s)", company=reg.company, partner=org.name)[
                :200
            ],
            "account_id": str(account.id),
            "contact_id": str(contact.id),
            "amount": str(reg.amount),
            "currency": reg.currency,
            "expected_close": reg.expected_close.isoformat(),
        },
        actor=actor,
    )
    reg.account_id, reg.contact_id, reg.deal_id = account.id, contact.id, deal.id


def approve(
    reg: DealRegistration, *, actor: Any, create_deal: bool = False, workspace: str = ""
) -> None:
    """Approve a pending registration (holds for the workspace's days), maybe creating the
    deal in Sales (once); audited, the partner user is mailed. Caller commits."""
    _undecided(reg)
    org = partner_of(reg)
    if create_deal and reg.deal_id is None:
        if not module_enabled("sfa"):
            raise ValidationFailed({"create_deal": _("Switch Sales on to create the deal.")})
        try:
            _make_deal(reg, org, actor)
        except ValidationFailed as exc:  # Sales or the records service refused a value
            problems = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
            raise ValidationFailed(
                {"create_deal": _("The deal could not be created: %(why)s", why=problems)}
            ) from exc
    reg.status = "approved"
    reg.reason = None
    reg.decided_by_id = getattr(actor, "id", None)
    reg.decided_at = utcnow()
    reg.expires_on = date.today() + timedelta(days=expiry_days())
    db.session.flush()
    channel_feed.record("registration_approved", reg.partner_id, company=reg.company)
    if reg.deal_id is not None:
        from . import shared_deals

        shared_deals.share(reg.deal_id, reg.partner_id, actor=actor, feed=False)
    audit_record(
        "portal.registration_approved",
        target=str(reg.id),
        details={
            "company": reg.company,
            "partner": org.name if org else "",
            "deal_id": str(reg.deal_id) if reg.deal_id else None,
            "expires_on": reg.expires_on.isoformat(),
        },
    )
    _mail_decision(
        reg,
        _("Deal registration approved: %(company)s", company=reg.company),
        _(
            "Your registration of %(company)s was approved by %(workspace)s. It holds until "
            "%(day)s unless the deal is won before.\n",
            company=reg.company,
            workspace=workspace,
            day=reg.expires_on.isoformat(),
        ),
    )


def reject(reg: DealRegistration, reason: Any, *, actor: Any, workspace: str = "") -> None:
    """Reject a pending registration with a reason (told to the partner); audited, mailed.
    Caller commits."""
    _undecided(reg)
    try:
        text = clean_text(reason, 2000, multiline=True)
    except ValueError as exc:
        raise ValidationFailed({"reason": str(exc)}) from exc
    if not text:
        raise ValidationFailed({"reason": _("Say why the registration is rejected.")})
    org = partner_of(reg)
    reg.status = "rejected"
    reg.reason = text
    reg.decided_by_id = getattr(actor, "id", None)
    reg.decided_at = utcnow()
    db.session.flush()
    channel_feed.record("registration_rejected", reg.partner_id, company=reg.company)
    audit_record(
        "portal.registration_rejected",
        target=str(reg.id),
        details={"company": reg.company, "partner": org.name if org else "", "reason": text},
    )
    _mail_decision(
        reg,
        _("Deal registration rejected: %(company)s", company=reg.company),
        _(
            "Your registration of %(company)s was rejected by %(workspace)s.\n\nReason: "
            "%(reason)s\n",
            company=reg.company,
            workspace=workspace,
            reason=text,
        ),
    )


def _mail_decision(reg: DealRegistration, subject: str, body: str) -> None:
    user = _submitter(reg)
    if user is not None and user.status != "disabled":
        send_mail(user.email, subject, body)


# --------------------------------------------------------------------------- expiry


def expire_due(today: date | None = None) -> dict[str, int]:
    """Approved registrations whose deal was won are marked won; the others past their day
    expire. Idempotent. Caller commits."""
    today = today or date.today()
    due = DealRegistration.expires_on < today
    stmt = select(DealRegistration).where(
        DealRegistration.status == "approved",
        or_(due, DealRegistration.deal_id.is_not(None)),
    )
    rows = list(db.session.scalars(stmt.limit(5000)))
    won_ids: set[Any] = set()
    deal_ids = [r.deal_id for r in rows if r.deal_id is not None]
    if deal_ids and module_enabled("sfa"):
        from plugins.sfa.models import Deal

        won = select(Deal.id).where(Deal.id.in_(deal_ids), Deal.status == "won")
        won_ids = set(db.session.scalars(won))
    counts = {"expired": 0, "won": 0}
    for reg in rows:
        if reg.deal_id is not None and reg.deal_id in won_ids:
            reg.status = "won"
        elif reg.expires_on is not None and reg.expires_on < today:
            reg.status = "expired"
        else:
            continue
        counts[reg.status] += 1
        channel_feed.record(f"registration_{reg.status}", reg.partner_id, company=reg.company)
    db.session.flush()
    return counts


@job(retries=1, timeout=300)
def expire_registrations() -> dict[str, int]:
    """The scheduled job: expire the workspace's approved registrations that are due."""
    counts = expire_due()
    db.session.commit()
    return counts
