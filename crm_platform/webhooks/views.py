"""The webhook pages under ``/t/<slug>/settings/webhooks`` (permission ``settings.manage``)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from ..access import get_or_404, require_permission
from ..extensions import db
from ..ids import parse_uuid
from ..provisioning import ValidationFailed
from ..reauth import require_recent_auth
from . import service
from .delivery import can_replay, send_test
from .events import ALL, known_events
from .forms import ButtonForm, WebhookForm
from .models import FAILED, STATUS_LABELS, Webhook, WebhookAttempt, WebhookDelivery

bp = Blueprint("webhooks", __name__, url_prefix="/t/<tenant_slug>/settings/webhooks")

DELIVERIES_PAGE = 50


def _apply(form: WebhookForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        (form._fields.get(name) or form.url).errors = [message]


def _hook(webhook_id: str) -> Webhook:
    return get_or_404(Webhook, webhook_id)


def _delivery(hook: Webhook, delivery_id: str) -> WebhookDelivery:
    did = parse_uuid(delivery_id)
    if did is None:
        abort(404)
    row = db.session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.id == did, WebhookDelivery.webhook_id == hook.id
        )
    ).one_or_none()
    if row is None:
        abort(404)
    return row


def _back(hook: Webhook) -> Any:
    return redirect(url_for("webhooks.detail", webhook_id=hook.id)), 303


def _check_button() -> None:
    if not ButtonForm().validate_on_submit():
        abort(400)


@bp.get("")
@require_permission("settings.manage")
def index() -> Any:
    """Every webhook of the workspace with its latest delivery."""
    hooks = db.session.scalars(select(Webhook).order_by(Webhook.created_at)).all()
    latest = {
        hook.id: db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == hook.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(1)
        ).first()
        for hook in hooks
    }
    failing = dict(
        db.session.execute(
            select(WebhookDelivery.webhook_id, func.count())
            .where(WebhookDelivery.status == FAILED)
            .group_by(WebhookDelivery.webhook_id)
        ).all()
    )
    return render_template(
        "webhooks/index.html",
        hooks=hooks,
        latest=latest,
        failing=failing,
        event_labels=known_events(),
    )


@bp.route("/new", methods=["GET", "POST"])
@require_permission("settings.manage")
@require_recent_auth
def new() -> Any:
    """Subscribe a URL to events; a signing secret is made for it."""
    form = WebhookForm()
    if form.validate_on_submit():
        try:
            hook = service.create_webhook(
                form.url.data,
                form.events.data or [],
                active=bool(form.active.data),
                description=form.description.data or "",
                actor=current_user,
            )
        except ValidationFailed as exc:
            _apply(form, exc.errors)
        else:
            db.session.commit()
            flash(
                _("Webhook created. Copy its signing secret to your receiver to check signatures."),
                "success",
            )
            return redirect(url_for("webhooks.detail", webhook_id=hook.id, secret=1)), 303
    status = 400 if request.method == "POST" else 200
    return render_template("webhooks/form.html", form=form, hook=None, all_events=ALL), status


@bp.get("/<webhook_id>")
@require_permission("settings.manage")
def detail(webhook_id: str) -> Any:
    """A webhook: its settings, signing secret and deliveries (newest first, 50 a page)."""
    hook = _hook(webhook_id)
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == hook.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(DELIVERIES_PAGE + 1)
    )
    status = request.args.get("status", "")
    if status in STATUS_LABELS:
        stmt = stmt.where(WebhookDelivery.status == status)
    else:
        status = ""
    before = request.args.get("before", "")
    if before:
        cursor = parse_uuid(before)
        if cursor is None:
            abort(400)
        stmt = stmt.where(WebhookDelivery.id < cursor)
    rows = db.session.scalars(stmt).all()
    more = len(rows) > DELIVERIES_PAGE
    rows = rows[:DELIVERIES_PAGE]
    return render_template(
        "webhooks/detail.html",
        hook=hook,
        deliveries=rows,
        status=status,
        statuses=STATUS_LABELS,
        next_cursor=str(rows[-1].id) if more else None,
        show_secret=request.args.get("secret") == "1",
        can_replay=can_replay,
        button_form=ButtonForm(),
        event_labels=known_events(),
    )


@bp.route("/<webhook_id>/edit", methods=["GET", "POST"])
@require_permission("settings.manage")
def edit(webhook_id: str) -> Any:
    """Change a webhook's URL, events, description or active flag."""
    hook = _hook(webhook_id)
    form = WebhookForm(obj=hook)
    if form.validate_on_submit():
        try:
            changes = service.update_webhook(
                hook,
                form.url.data,
                form.events.data or [],
                active=bool(form.active.data),
                description=form.description.data or "",
                actor=current_user,
            )
        except ValidationFailed as exc:
            _apply(form, exc.errors)
        else:
            if changes:
                db.session.commit()
                flash(_("Webhook saved."), "success")
            return _back(hook)
    status = 400 if request.method == "POST" else 200
    return render_template("webhooks/form.html", form=form, hook=hook, all_events=ALL), status


def _set_active(webhook_id: str, active: bool, message: str) -> Any:
    hook = _hook(webhook_id)
    _check_button()
    if service.set_active(hook, active, actor=current_user):
        db.session.commit()
        flash(message, "success")
    return _back(hook)


@bp.post("/<webhook_id>/enable")
@require_permission("settings.manage")
def enable(webhook_id: str) -> Any:
    """Start sending events to the webhook again."""
    return _set_active(webhook_id, True, _("Webhook enabled."))


@bp.post("/<webhook_id>/disable")
@require_permission("settings.manage")
def disable(webhook_id: str) -> Any:
    """Stop sending events to the webhook (its deliveries are kept)."""
    return _set_active(webhook_id, False, _("Webhook disabled: no events are sent to it."))


@bp.post("/<webhook_id>/rotate-secret")
@require_permission("settings.manage")
def rotate_secret(webhook_id: str) -> Any:
    """Replace the signing secret; the old one stops working at once."""
    hook = _hook(webhook_id)
    _check_button()
    service.rotate_secret(hook, actor=current_user)
    db.session.commit()
    flash(
        _("New signing secret made. Update your receiver: the old one no longer works."), "success"
    )
    return redirect(url_for("webhooks.detail", webhook_id=hook.id, secret=1)), 303


@bp.post("/<webhook_id>/test")
@require_permission("settings.manage")
def test(webhook_id: str) -> Any:
    """Send a ``webhook.ping`` event to the webhook now."""
    hook = _hook(webhook_id)
    _check_button()
    if not hook.active:
        flash(_("Enable the webhook first."), "error")
        return _back(hook)
    send_test(hook, actor=current_user)
    db.session.commit()
    flash(_("Test event queued. Reload to see how it went."), "success")
    return _back(hook)


@bp.route("/<webhook_id>/delete", methods=["GET", "POST"])
@require_permission("settings.manage")
def delete(webhook_id: str) -> Any:
    """Ask, then delete the webhook and its deliveries."""
    hook = _hook(webhook_id)
    form = ButtonForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        service.delete_webhook(hook, actor=current_user)
        db.session.commit()
        flash(_("Webhook deleted."), "success")
        return redirect(url_for("webhooks.index")), 303
    return render_template("webhooks/delete.html", hook=hook, form=form)


@bp.get("/<webhook_id>/deliveries/<delivery_id>")
@require_permission("settings.manage")
def delivery(webhook_id: str, delivery_id: str) -> Any:
    """One delivery: its body and every attempt."""
    hook = _hook(webhook_id)
    row = _delivery(hook, delivery_id)
    attempts = db.session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == row.id)
        .order_by(WebhookAttempt.number.desc(), WebhookAttempt.id.desc())
    ).all()
    return render_template(
        "webhooks/delivery.html",
        hook=hook,
        delivery=row,
        attempts=attempts,
        payload=_pretty(row.payload),
        can_replay=can_replay(row),
        button_form=ButtonForm(),
    )


def _pretty(payload: str) -> str:
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except ValueError:
        return payload


@bp.post("/<webhook_id>/deliveries/<delivery_id>/replay")
@require_permission("settings.manage")
def replay(webhook_id: str, delivery_id: str) -> Any:
    """Send a delivery once more: same id and body, a new attempt."""
    hook = _hook(webhook_id)
    row = _delivery(hook, delivery_id)
    _check_button()
    if not hook.active:
        flash(_("Enable the webhook first."), "error")
    elif service.replay_delivery(hook, row, actor=current_user):
        db.session.commit()
        flash(_("Delivery queued again."), "success")
    else:
        flash(_("This delivery is already queued."), "error")
    target = request.form.get("next") or ""
    if target == "delivery":
        return redirect(url_for("webhooks.delivery", webhook_id=hook.id, delivery_id=row.id)), 303
    return _back(hook)
