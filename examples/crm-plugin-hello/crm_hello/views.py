"""The Greetings page and the actions of the contact panel."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from crm_platform.sdk import Contact, db, emit_event, get_or_404, require_permission

from .jobs import send_greeting
from .models import Greeting

bp = Blueprint("hello", __name__, url_prefix="/t/<tenant_slug>/hello", template_folder="templates")


class GreetingForm(FlaskForm):
    """A greeting's text."""

    message = TextAreaField("Message", validators=[DataRequired(), Length(max=2000)])


@bp.get("/")
@require_permission("hello.read")
def index() -> Any:
    """Every greeting of the workspace, newest first, with counts by status."""
    greetings = db.session.execute(
        select(Greeting, Contact)
        .outerjoin(
            Contact,
            (Contact.tenant_id == Greeting.tenant_id) & (Contact.id == Greeting.contact_id),
        )
        .order_by(Greeting.id.desc())
        .limit(100)
    ).all()
    counts = dict(
        db.session.execute(select(Greeting.status, func.count()).group_by(Greeting.status)).all()
    )
    return render_template("hello/index.html", greetings=greetings, counts=counts)


@bp.post("/contacts/<contact_id>/greetings")
@require_permission("hello.send")
def greet(contact_id: str) -> Any:
    """Queue a greeting to a contact; the job mails it."""
    contact = get_or_404(Contact, contact_id)
    form = GreetingForm()
    if not form.validate_on_submit():
        for error in form.message.errors:
            flash(f"Greeting not sent: {error}", "error")
        return redirect(request.referrer or url_for("hello.index"))
    greeting = Greeting(contact_id=contact.id, message=form.message.data.strip(), status="queued")
    db.session.add(greeting)
    db.session.flush()
    emit_event("greeting.queued", record_id=greeting.id, data={"contact_id": str(contact.id)})
    send_greeting.enqueue_after_commit(str(greeting.id))
    db.session.commit()
    flash(f"Greeting to {contact.full_name} queued.", "success")
    return redirect(url_for("workspace.contact", contact_id=contact.id))
