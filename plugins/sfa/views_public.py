"""The public web-to-lead form (for signed-out visitors of the tenant's own site)."""

from __future__ import annotations

from typing import Any

from flask import abort, g, render_template, request
from flask_babel import gettext as _

from crm_platform.sdk import (
    ValidationFailed,
    csrf_exempt,
    db,
    embeddable,
    module_enabled,
    public_tenant_view,
)

from .blueprint import bp
from .leads import create_lead
from .settings import sales_settings
from .webform import HONEYPOT, Spam, TooMany, check_submission, form_token, key_matches


def _page(key: str, errors: dict[str, str], status: int, headers: Any = None) -> Any:
    values = {} if status == 200 else request.form
    page = render_template(
        "sfa/webform.html",
        tenant=g.tenant,
        token=form_token(key),
        errors=errors,
        values=values,
        honeypot=HONEYPOT,
    )
    return page, status, headers or {}


@bp.route("/web-to-lead/<form_key>", methods=["GET", "POST"])
@public_tenant_view
@csrf_exempt
@embeddable
def webform(form_key: str) -> Any:
    """The form a tenant embeds on its site; a submission becomes a lead (spam-checked).

    It carries no CSRF token (it is posted from another site, with no session): the signed,
    timed token of :mod:`.webform` protects it instead.
    """
    settings = sales_settings()
    if (
        not module_enabled("sfa")
        or not settings.webform_enabled
        or not key_matches(form_key, settings.webform_key)
    ):
        abort(404)
    if request.method == "GET":
        return _page(settings.webform_key, {}, 200)
    try:
        data = check_submission(
            request.form,
            key=settings.webform_key,
            visitor=request.remote_addr or "-",
            sources=settings.lead_sources,
        )
        create_lead(data, via="web")
    except TooMany as exc:
        db.session.rollback()
        message = {"form": _("Too many messages from your address: please try again later.")}
        return _page(settings.webform_key, message, 429, {"Retry-After": str(exc.retry_after)})
    except Spam:
        db.session.rollback()
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(settings.webform_key, exc.errors, 400)
    else:
        db.session.commit()
    return render_template(
        "sfa/webform_thanks.html", tenant=g.tenant, message=settings.webform_thanks
    )
