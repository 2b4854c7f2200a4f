"""Pages of the Calendar module: the member's own connection and feed settings, and the
feed itself (a secret URL, no sign-in)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import (
    Tenant,
    audit_record,
    current_tenant,
    current_user,
    db,
    get_or_404,
    module_enabled,
    over_rate_limit,
    public_tenant_view,
    require_permission,
    seal,
    unseal,
)

from .caldav import CalDAVClient, CalDAVError, check_url
from .feeds import feed_ical, feed_of, issue_feed, revoke_feed, user_of_token
from .forms import CalendarForm, ConnectionForm
from .models import Connection
from .sync import CREDENTIALS, sync_connection

bp = Blueprint(
    "calendar",
    __name__,
    url_prefix="/t/<tenant_slug>/calendar",
    template_folder="templates",
)
PERMISSION = "calendar.use"


def _mine() -> Connection | None:
    return db.session.scalars(
        select(Connection).where(Connection.user_id == current_user.id)
    ).first()


def _own_connection(connection_id: str) -> Connection:
    """The signed-in member's connection; 404 for anyone else's (or another tenant's)."""
    conn = get_or_404(Connection, connection_id)
    if conn.user_id != current_user.id:
        abort(404)
    return conn


def _calendar_form(conn: Connection | None) -> CalendarForm | None:
    if conn is None or not conn.calendars:
        return None
    form = CalendarForm(
        calendar_url=conn.calendar_url,
        import_new=conn.import_new,
        enabled=conn.enabled,
        interval_minutes=conn.interval_minutes,
    )
    form.calendar_url.choices = [(c["url"], c["name"]) for c in conn.calendars]
    return form


def _page(
    conn: Connection | None,
    form: ConnectionForm | None = None,
    *,
    feed_url: str | None = None,
    status: int = 200,
) -> Any:
    if form is None:
        form = ConnectionForm(
            server_url=conn.server_url if conn else None, username=conn.username if conn else None
        )
    html = render_template(
        "calendar/settings.html",
        conn=conn,
        form=form,
        calendar_form=_calendar_form(conn),
        feed=feed_of(current_user.id),
        feed_url=feed_url,
    )
    return html, status


def _discover(url: str, username: str, password: str) -> list[dict[str, Any]]:
    allow = bool(current_app.config.get("CALENDAR_ALLOW_PRIVATE_HOSTS"))
    url = check_url(url, allow_private=allow)
    timeout = float(current_app.config.get("CALENDAR_TIMEOUT", 15))
    with CalDAVClient(url, username, password, timeout=timeout) as client:
        host = urlparse(url).netloc
        found = [
            c.as_dict()
            for c in client.calendars()
            if ("VEVENT" in c.components or "VTODO" in c.components)
            and urlparse(c.url).netloc == host  # never follow the server to another host
        ]
    if not found:
        raise CalDAVError(_("The account has no calendar for events or tasks."))
    return found


@bp.get("/")
@require_permission(PERMISSION)
def settings() -> Any:
    """The member's calendar connection and feed."""
    return _page(_mine())


@bp.get("/status")
@require_permission(PERMISSION)
def status() -> Any:
    """The connection's status block (htmx refreshes it while a sync may be running)."""
    return render_template("calendar/_status.html", conn=_mine())


@bp.post("/connection")
@require_permission(PERMISSION)
def save_connection() -> Any:
    """Check the server and account, then save them (nothing is saved when the check fails)."""
    conn = _mine()
    form = ConnectionForm()
    if not form.validate_on_submit():
        return _page(conn, form, status=422)
    password = form.password.data or (unseal(conn.secret, purpose=CREDENTIALS) if conn else None)
    if not password:
        form.password.errors = [_("Enter the password.")]
        return _page(conn, form, status=422)
    if over_rate_limit("10 per minute;100 per day", "calendar-check", str(current_user.id)):
        form.server_url.errors = [_("Too many checks: wait a minute and try again.")]
        return _page(conn, form, status=429)
    url = form.server_url.data.strip()
    try:
        calendars = _discover(url, form.username.data.strip(), password)
    except CalDAVError as exc:
        form.server_url.errors = [exc.message]
        return _page(conn, form, status=422)
    if conn is None:
        conn = Connection(user_id=current_user.id, server_url=url, username="", secret="")
        db.session.add(conn)
    changed_server = conn.server_url != url or conn.username != form.username.data.strip()
    conn.server_url = url
    conn.username = form.username.data.strip()
    conn.secret = seal(password, purpose=CREDENTIALS)
    conn.calendars = calendars
    if conn.status in ("new", "error"):
        conn.status = "ok" if conn.last_sync_at else "checked"
    conn.last_error = None
    urls = {c["url"] for c in calendars}
    if changed_server or conn.calendar_url not in urls:
        conn.calendar_url = calendars[0]["url"] if len(calendars) == 1 else None
        conn.calendar_name = calendars[0]["name"] if len(calendars) == 1 else None
        conn.ctag = None
        conn.status = "checked"
    db.session.flush()
    audit_record(
        "calendar.connected", target=f"calendar_connection:{conn.id}", details={"server": url}
    )
    db.session.commit()
    flash(_("Connection checked: %(n)d calendar(s) found.", n=len(calendars)), "success")
    return redirect(url_for("calendar.settings"))


@bp.post("/connections/<connection_id>/check")
@require_permission(PERMISSION)
def check(connection_id: str) -> Any:
    """Check the saved connection again and refresh the list of calendars."""
    conn = _own_connection(connection_id)
    password = unseal(conn.secret, purpose=CREDENTIALS)
    try:
        if password is None:
            raise CalDAVError(_("The stored password can no longer be read: enter it again."))
        conn.calendars = _discover(conn.server_url, conn.username, password)
    except CalDAVError as exc:
        conn.status = "error"
        conn.last_error = exc.message
        db.session.commit()
        flash(exc.message, "error")
        return redirect(url_for("calendar.settings"))
    if conn.status == "error":
        conn.status = "checked" if conn.last_sync_at is None else "ok"
        conn.last_error = None
    db.session.commit()
    flash(_("The connection works."), "success")
    return redirect(url_for("calendar.settings"))


@bp.post("/connections/<connection_id>/calendar")
@require_permission(PERMISSION)
def choose(connection_id: str) -> Any:
    """Choose the calendar (one the server listed) and the sync options."""
    conn = _own_connection(connection_id)
    form = _calendar_form(conn)
    if form is None or not form.validate_on_submit():
        return _page(conn, status=422)
    chosen = next(c for c in conn.calendars if c["url"] == form.calendar_url.data)
    if conn.calendar_url != chosen["url"] or conn.import_new != bool(form.import_new.data):
        conn.ctag = None  # list the whole calendar on the next run
    conn.calendar_url = chosen["url"]
    conn.calendar_name = chosen["name"]
    conn.import_new = bool(form.import_new.data)
    conn.enabled = bool(form.enabled.data)
    conn.interval_minutes = form.interval_minutes.data or 15
    if conn.enabled:
        sync_connection.enqueue_after_commit(str(conn.id))
    db.session.commit()
    flash(_("Calendar saved: %(name)s.", name=chosen["name"]), "success")
    return redirect(url_for("calendar.settings"))


@bp.post("/connections/<connection_id>/sync")
@require_permission(PERMISSION)
def sync_now(connection_id: str) -> Any:
    """Queue a sync now."""
    conn = _own_connection(connection_id)
    if not conn.calendar_url:
        flash(_("Choose a calendar first."), "error")
        return redirect(url_for("calendar.settings"))
    sync_connection.enqueue_after_commit(str(conn.id))
    db.session.commit()
    flash(_("Sync started: the status below updates when it is done."), "success")
    return redirect(url_for("calendar.settings"))


@bp.post("/connections/<connection_id>/delete")
@require_permission(PERMISSION)
def disconnect(connection_id: str) -> Any:
    """Forget the connection (events already on the server stay there)."""
    conn = _own_connection(connection_id)
    audit_record("calendar.disconnected", target=f"calendar_connection:{conn.id}")
    db.session.delete(conn)
    db.session.commit()
    flash(_("Calendar disconnected."), "success")
    return redirect(url_for("calendar.settings"))


@bp.post("/feed")
@require_permission(PERMISSION)
def make_feed() -> Any:
    """Make (or replace) the member's feed URL and show it once."""
    token = issue_feed(current_user.id)
    db.session.commit()
    url = url_for("calendar.feed", token=token, _external=True)
    return _page(_mine(), feed_url=url)


@bp.post("/feed/revoke")
@require_permission(PERMISSION)
def revoke() -> Any:
    """Revoke the member's feed URL."""
    if revoke_feed(current_user.id):
        db.session.commit()
        flash(_("The feed address no longer works."), "success")
    return redirect(url_for("calendar.settings"))


@bp.get("/feed/<token>.ics")
@public_tenant_view
def feed(token: str) -> Any:
    """The iCalendar feed of a secret token (404 when wrong or revoked)."""
    # Public views skip the core's module check: a module that is off serves no feed.
    user_id = user_of_token(token) if module_enabled("calendar") else None
    if user_id is None:
        abort(404)
    ref = current_tenant()
    tenant = db.session.get(Tenant, ref.id) if ref else None
    body = feed_ical(user_id, tenant.name if tenant else "CRM")
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="crm.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
