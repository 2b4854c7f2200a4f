"""Pages for the people who get the mail (no sign-in): unsubscribe (also RFC 8058 one-click),
subscription preferences, the open pixel and the click redirect.

Each takes a signed token (:mod:`.tracking`); a tampered, foreign or expired one is refused
with 400 and nothing is written. They work whether or not the module is on, so an
unsubscribe link in old mail always works.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Response, abort, redirect, render_template, request
from sqlalchemy import select, update

from crm_platform.sdk import (
    Contact,
    TenantReadOnly,
    TokenError,
    allowed_while_read_only,
    csrf_exempt,
    db,
    parse_uuid,
    public_tenant_view,
    utcnow,
)

from .forms import ButtonForm
from .models import Click, Message
from .suppression import resubscribe, scopes_of, topics, unsubscribe
from .tracking import PIXEL_GIF, read
from .web import bp


def _payload(kind: str, token: str) -> dict[str, Any] | None:
    try:
        return read(kind, token)
    except TokenError:
        return None


def _bad_link() -> Any:
    return render_template("marketing/public_problem.html"), 400


def _ids(data: dict[str, Any]) -> tuple[Any, Any]:
    contact_id = parse_uuid(data.get("c") or "")
    message_id = parse_uuid(data.get("m") or "")
    if (
        contact_id is not None
        and db.session.scalar(select(Contact.id).where(Contact.id == contact_id)) is None
    ):
        contact_id = None
    if (
        message_id is not None
        and db.session.scalar(select(Message.id).where(Message.id == message_id)) is None
    ):
        message_id = None
    return contact_id, message_id


@bp.route("/u/<token>", methods=["GET", "POST"])
@public_tenant_view
@allowed_while_read_only
def unsubscribe_page(token: str) -> Any:
    """Unsubscribe from everything: a page with one button (so link scanners change nothing)."""
    data = _payload("unsubscribe", token)
    if data is None:
        return _bad_link()
    address = str(data.get("e") or "")
    done = "all" in scopes_of(address)
    form = ButtonForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        contact_id, message_id = _ids(data)
        unsubscribe(address, contact_id=contact_id, message_id=message_id)
        db.session.commit()
        done = True
    return render_template(
        "marketing/unsubscribe.html", address=address, done=done, form=form, token=token
    )


@bp.post("/u/<token>/one-click")
@public_tenant_view
@allowed_while_read_only
@csrf_exempt
def unsubscribe_one_click(token: str) -> Any:
    """RFC 8058 one-click unsubscribe (``List-Unsubscribe-Post``), posted by mail clients."""
    data = _payload("unsubscribe", token)
    if data is None:
        return Response("This link is not valid.\n", status=400, mimetype="text/plain")
    contact_id, message_id = _ids(data)
    unsubscribe(str(data.get("e") or ""), contact_id=contact_id, message_id=message_id)
    db.session.commit()
    return Response("Unsubscribed.\n", mimetype="text/plain")


@bp.route("/p/<token>", methods=["GET", "POST"])
@public_tenant_view
@allowed_while_read_only
def preferences_page(token: str) -> Any:
    """Choose the topics to get mail about, or none at all."""
    data = _payload("preferences", token)
    if data is None:
        return _bad_link()
    address = str(data.get("e") or "")
    form = ButtonForm()
    saved = False
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        contact_id, _message = _ids(data)
        wanted = set(request.form.getlist("topic"))
        if request.form.get("none"):
            unsubscribe(address, contact_id=contact_id)
        else:
            if "all" in scopes_of(address):
                resubscribe(address, "all")
            for key in topics():
                blocked = key in scopes_of(address)
                if key in wanted and blocked:
                    resubscribe(address, key)
                elif key not in wanted and not blocked:
                    unsubscribe(address, contact_id=contact_id, scope=key)
        db.session.commit()
        saved = True
    scopes = scopes_of(address)
    return render_template(
        "marketing/preferences.html",
        address=address,
        topics=topics(),
        blocked=scopes,
        everything="all" in scopes,
        form=form,
        saved=saved,
    )


def _track(message_id: Any, *, click_url: str | None = None) -> None:
    now = utcnow()
    values: dict[str, Any] = {"open_count": Message.open_count + 1}
    if click_url is not None:
        values = {"click_count": Message.click_count + 1}
    try:
        db.session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        first = Message.clicked_at if click_url is not None else Message.opened_at
        db.session.execute(
            update(Message)
            .where(Message.id == message_id, first.is_(None))
            .values({first.key: now})
            .execution_options(synchronize_session=False)
        )
        if click_url is not None:
            db.session.execute(
                update(Message)
                .where(Message.id == message_id, Message.opened_at.is_(None))
                .values(opened_at=now)
                .execution_options(synchronize_session=False)
            )
            db.session.add(Click(message_id=message_id, url=click_url[:2000]))
        db.session.commit()
    except TenantReadOnly:
        db.session.rollback()


@bp.get("/o/<token>.gif")
@public_tenant_view
def open_pixel(token: str) -> Any:
    """The open pixel: counts the open, answers a 1×1 transparent GIF."""
    data = _payload("open", token)
    if data is None:
        abort(404)
    _contact, message_id = _ids(data)
    if message_id is not None:
        _track(message_id)
    response = Response(PIXEL_GIF, mimetype="image/gif")
    response.headers["Cache-Control"] = "no-store, max-age=0"
    return response


@bp.get("/c/<token>")
@public_tenant_view
def click(token: str) -> Any:
    """The click redirect: counts the click, then goes where the e-mail's link pointed."""
    data = _payload("click", token)
    url = str((data or {}).get("u") or "")
    if data is None or urlsplit(url).scheme not in ("http", "https"):
        abort(404)
    _contact, message_id = _ids(data)
    if message_id is not None:
        _track(message_id, click_url=url)
    return redirect(url, code=302)
