"""The staff side of the partner portal: partner organisations and their users (admins,
``portal.manage``), and the review of deal registrations with their channel conflicts
(channel managers, ``portal.channel``). Ordinary tenant pages with the staff sign-in."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from crm_platform.sdk import (
    ValidationFailed,
    audit_record,
    current_user,
    db,
    module_enabled,
    require_permission,
)

from . import (
    announcements,
    branding,
    channel_feed,
    ordering,
    partner_leads,
    partners,
    performance,
    shared_deals,
)
from . import registration as regs
from .partner_models import PARTNER_STATUSES, REGISTRATION_STATUSES, TIERS

bp = Blueprint(
    "portal_channel",
    __name__,
    url_prefix="/t/<tenant_slug>/portal-settings/channel",
    template_folder="templates",
)


def _workspace() -> str:
    return branding.Branding.load().title or g.tenant.name


# --------------------------------------------------------------------------- partners


@bp.route("/partners", methods=["GET", "POST"])
@require_permission("portal.manage")
def partner_list() -> Any:
    """The partner organisations; add one."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            org = partners.save(request.form)
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            audit_record("portal.partner_created", target=str(org.id), details={"name": org.name})
            db.session.commit()
            flash(_("Partner %(name)s added.", name=org.name), "success")
            return redirect(url_for("portal_channel.partner", partner_id=org.id), 303)
    page = render_template(
        "portal/partner_admin_list.html",
        partners=partners.all_partners(),
        errors=errors,
        form=request.form,
        tiers=TIERS,
        days=regs.expiry_days(),
        shared_fields=shared_deals.FIELDS,
        exposed=shared_deals.exposed_fields(),
    )
    return page, 400 if errors else 200


@bp.post("/settings")
@require_permission("portal.manage")
def channel_settings() -> Any:
    """How many days an approved registration holds."""
    try:
        days = regs.save_expiry_days(request.form.get("days"))
    except ValidationFailed as exc:
        db.session.rollback()
        flash("; ".join(str(v) for v in exc.errors.values()), "error")
    else:
        audit_record("portal.settings_changed", details={"registration_days": days})
        db.session.commit()
        flash(_("Registrations now hold for %(num)d days.", num=days), "success")
    return redirect(url_for("portal_channel.partner_list"), 303)


def _partner_or_404(partner_id: str) -> Any:
    org = partners.get(partner_id)
    if org is None:
        abort(404)
    return org


@bp.route("/partners/<partner_id>", methods=["GET", "POST"])
@require_permission("portal.manage")
def partner(partner_id: str) -> Any:
    """One partner organisation: its details, tier, status and users."""
    org = _partner_or_404(partner_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            partners.save(request.form, org)
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.errors
            org = _partner_or_404(partner_id)
        else:
            audit_record(
                "portal.partner_changed",
                target=str(org.id),
                details={"name": org.name, "tier": org.tier, "status": org.status},
            )
            db.session.commit()
            flash(_("Partner saved."), "success")
            return redirect(url_for("portal_channel.partner", partner_id=org.id), 303)
    return _partner_page(org, errors)


def _partner_page(org: Any, errors: dict[str, str], status: int | None = None) -> Any:
    page = render_template(
        "portal/partner_admin.html",
        org=org,
        users=partners.users_of(org),
        errors=errors,
        form=request.form if errors else None,
        tiers=TIERS,
        statuses=PARTNER_STATUSES,
        account_name=partners.account_name(org.account_id),
        price_books=ordering.price_books(),
        sales_on=shared_deals.sales_on(),
        shares=shared_deals.shares_of(org),
        feed=channel_feed.recent(org.id, limit=30),
        feed_message=channel_feed.message,
    )
    return page, status or (400 if errors else 200)


@bp.get("/accounts/search")
@require_permission("portal.manage")
def account_search() -> Any:
    """The accounts matching what was typed, as the options of the linked-account picker."""
    return render_template(
        "portal/_account_options.html",
        accounts=partners.search_accounts(request.args.get("account_q", "")),
        query=request.args.get("account_q", ""),
    )


@bp.get("/partners/<partner_id>/deal-search")
@require_permission("portal.channel")
def deal_search(partner_id: str) -> Any:
    """Open deals matching what was typed that are not shared with the partner yet."""
    org = _partner_or_404(partner_id)
    return render_template(
        "portal/_deal_options.html",
        deals=shared_deals.search_deals(request.args.get("deal_q", ""), org),
        query=request.args.get("deal_q", ""),
    )


@bp.post("/partners/<partner_id>/shares")
@require_permission("portal.channel")
def share_deal(partner_id: str) -> Any:
    """Share a deal with the partner (it sees only the exposed fields)."""
    org = _partner_or_404(partner_id)
    try:
        shared_deals.share_by_form(org, request.form, actor=current_user)
    except ValidationFailed as exc:
        db.session.rollback()
        flash("; ".join(str(v) for v in exc.errors.values()), "error")
    else:
        db.session.commit()
        flash(_("Opportunity shared with %(name)s.", name=org.name), "success")
    return redirect(url_for("portal_channel.partner", partner_id=org.id) + "#shared-deals", 303)


@bp.post("/partners/<partner_id>/shares/<share_id>/delete")
@require_permission("portal.channel")
def unshare_deal(partner_id: str, share_id: str) -> Any:
    """Stop sharing a deal with the partner."""
    org = _partner_or_404(partner_id)
    if not shared_deals.unshare(org, share_id):
        abort(404)
    db.session.commit()
    flash(_("The opportunity is no longer shared."), "success")
    return redirect(url_for("portal_channel.partner", partner_id=org.id) + "#shared-deals", 303)


@bp.post("/settings/shared-fields")
@require_permission("portal.manage")
def shared_fields() -> Any:
    """Which deal fields partners see of the opportunities shared with them."""
    try:
        fields = shared_deals.save_exposed_fields(request.form.getlist("fields"))
    except ValidationFailed as exc:
        db.session.rollback()
        flash("; ".join(str(v) for v in exc.errors.values()), "error")
    else:
        audit_record("portal.settings_changed", details={"shared_deal_fields": list(fields)})
        db.session.commit()
        flash(_("Partners now see the chosen fields of shared opportunities."), "success")
    return redirect(url_for("portal_channel.partner_list") + "#shared-fields", 303)


@bp.get("/activity")
@require_permission("portal.channel")
def activity() -> Any:
    """The channel activity feed of every partner (or one: ``?partner=<id>``)."""
    org = partners.get(request.args.get("partner") or "") if request.args.get("partner") else None
    entries = channel_feed.recent(org.id if org else None)
    return render_template(
        "portal/channel_activity.html",
        entries=entries,
        names=channel_feed.partner_names(entries),
        message=channel_feed.message,
        partner=org,
        partners=partners.all_partners(),
    )


@bp.post("/partners/<partner_id>/invite")
@require_permission("portal.manage")
def invite(partner_id: str) -> Any:
    """Invite someone of the partner to the partner portal."""
    org = _partner_or_404(partner_id)
    try:
        user = partners.invite_user(org, request.form, actor=current_user, workspace=_workspace())
    except ValidationFailed as exc:
        db.session.rollback()
        flash("; ".join(str(v) for v in exc.errors.values()), "error")
    else:
        audit_record(
            "portal.invited",
            target=str(user.id),
            details={"email": user.email, "partner": org.name},
        )
        db.session.commit()
        flash(_("Invitation sent to %(email)s.", email=user.email), "success")
    return redirect(url_for("portal_channel.partner", partner_id=org.id), 303)


# --------------------------------------------------------------------------- registrations


@bp.get("/")
@require_permission("portal.channel")
def registrations() -> Any:
    """Deal registrations of a status (pending first) with their conflicts."""
    status = request.args.get("status") or "pending"
    if status not in REGISTRATION_STATUSES:
        status = "pending"
    rows = regs.pending_first(status)
    names = {p.id: p.name for p in partners.all_partners()}
    return render_template(
        "portal/registrations_admin.html",
        registrations=rows,
        names=names,
        status=status,
        statuses=REGISTRATION_STATUSES,
        sales_on=module_enabled("sfa"),
    )


def _registration_or_404(registration_id: str, *, lock: bool = False) -> Any:
    row = regs.get(registration_id, lock=lock)
    if row is None:
        abort(404)
    return row


def _review_page(row: Any, errors: dict[str, str], status: int = 200) -> Any:
    page = render_template(
        "portal/registration_admin.html",
        reg=row,
        org=regs.partner_of(row),
        errors=errors,
        sales_on=module_enabled("sfa"),
    )
    return page, status


@bp.get("/registrations/<registration_id>")
@require_permission("portal.channel")
def registration(registration_id: str) -> Any:
    """One registration: what the partner sent, the conflicts, approve or reject."""
    return _review_page(_registration_or_404(registration_id), {})


@bp.post("/registrations/<registration_id>/<decision>")
@require_permission("portal.channel")
def decide(registration_id: str, decision: str) -> Any:
    """Approve (maybe creating the deal in Sales) or reject with a reason."""
    if decision not in ("approve", "reject"):
        abort(404)
    row = _registration_or_404(registration_id, lock=True)
    try:
        if decision == "approve":
            regs.approve(
                row,
                actor=current_user,
                create_deal=request.form.get("create_deal") == "1",
                workspace=_workspace(),
            )
        else:
            regs.reject(row, request.form.get("reason"), actor=current_user, workspace=_workspace())
    except ValidationFailed as exc:
        db.session.rollback()
        row = _registration_or_404(registration_id)
        return _review_page(row, exc.errors, 409 if "status" in exc.errors else 400)
    db.session.commit()
    if decision == "approve":
        flash(_("Registration approved."), "success")
    else:
        flash(_("Registration rejected."), "success")
    return redirect(url_for("portal_channel.registration", registration_id=row.id), 303)


# --------------------------------------------------------------------------- leads


@bp.route("/leads", methods=["GET", "POST"])
@require_permission("portal.channel")
def leads() -> Any:
    """Hand an open, unowned Sales lead to a partner with a deadline; the recent handoffs.
    Only while Sales is on."""
    if not partner_leads.sales_on():
        abort(404)
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            handoff = partner_leads.hand_off(
                request.form, actor=current_user, workspace=_workspace()
            )
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            db.session.commit()
            flash(_("Lead handed to the partner."), "success")
            return redirect(url_for("portal_channel.leads", _anchor=f"h-{handoff.id}"), 303)
    page = render_template(
        "portal/leads_admin.html",
        leads=partner_leads.open_leads(),
        handoffs=partner_leads.recent_handoffs(),
        partners=[p for p in partners.all_partners() if p.status == "active"],
        errors=errors,
        form=request.form,
        default_days=partner_leads.DEFAULT_DAYS,
    )
    return page, 400 if errors else 200


# --------------------------------------------------------------------------- performance


@bp.get("/performance")
@require_permission("portal.channel")
def performance_table() -> Any:
    """Every partner's registrations, wins, won revenue and commission for a period."""
    period, errors = performance.parse_period(request.args)
    rows = performance.figures(period)
    page = render_template(
        "portal/performance_admin.html",
        rows=rows,
        totals=performance.totals(rows),
        period=period,
        periods=performance.PERIODS,
        errors=errors,
        sales_on=module_enabled("sfa"),
    )
    return page, 400 if errors else 200


@bp.route("/commission", methods=["GET", "POST"])
@require_permission("portal.manage")
def commission_rates() -> Any:
    """The tiers' default commission rates and each organisation's override."""
    orgs = partners.all_partners()
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            performance.save_rates(request.form, orgs)
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.errors
            orgs = partners.all_partners()
        else:
            audit_record(
                "portal.commission_rates_changed",
                details={
                    "tiers": {k: str(v) for k, v in performance.tier_rates().items()},
                    "overrides": {
                        o.name: str(o.commission_rate)
                        for o in orgs
                        if o.commission_rate is not None
                    },
                },
            )
            db.session.commit()
            flash(_("Commission rates saved."), "success")
            return redirect(url_for("portal_channel.commission_rates"), 303)
    page = render_template(
        "portal/commission_admin.html",
        orgs=orgs,
        rates=performance.tier_rates(),
        tiers=TIERS,
        errors=errors,
        form=request.form if errors else None,
    )
    return page, 400 if errors else 200


# --------------------------------------------------------------------------- announcements


@bp.route("/announcements", methods=["GET", "POST"])
@require_permission("portal.channel")
def announcement_list() -> Any:
    """Post a channel announcement (for every partner or one tier); the recent ones."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            announcements.post(request.form, actor=current_user)
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            db.session.commit()
            flash(_("Announcement posted."), "success")
            return redirect(url_for("portal_channel.announcement_list"), 303)
    page = render_template(
        "portal/announcements_admin.html",
        announcements=announcements.recent(),
        errors=errors,
        form=request.form,
        tiers=TIERS,
    )
    return page, 400 if errors else 200


@bp.post("/announcements/<announcement_id>/delete")
@require_permission("portal.channel")
def delete_announcement(announcement_id: str) -> Any:
    """Take an announcement down."""
    row = announcements.get(announcement_id)
    if row is None:
        abort(404)
    announcements.remove(row)
    db.session.commit()
    flash(_("Announcement deleted."), "success")
    return redirect(url_for("portal_channel.announcement_list"), 303)
