"""Settings → API keys: create (the key is shown once), list, revoke; every change audited."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length

from .. import audit
from ..access import get_or_404, require_permission
from ..extensions import db
from ..reauth import require_recent_auth
from ..tenancy import utcnow
from .models import SCOPE_LABELS, SCOPES, ApiKey, issue_key

keys_bp = Blueprint("api_keys", __name__, url_prefix="/t/<tenant_slug>/settings/api-keys")


class ApiKeyForm(FlaskForm):
    """A new key's name and scope."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    scope = SelectField(
        _l("Access"), choices=[SelectChoice(s, SCOPE_LABELS[s]) for s in SCOPES], default="read"
    )


class RevokeForm(FlaskForm):
    """Only the CSRF token (the revoke buttons)."""


def _page(form: ApiKeyForm, new_token: str | None = None, new_key: Any = None) -> str:
    keys = db.session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc())).all()
    return render_template(
        "api/keys.html",
        keys=keys,
        form=form,
        revoke_form=RevokeForm(),
        new_token=new_token,
        new_key=new_key,
        scope_labels=SCOPE_LABELS,
    )


@keys_bp.get("")
@require_permission("settings.manage")
def index() -> Any:
    """The workspace's API keys and a form to create one."""
    return _page(ApiKeyForm())


@keys_bp.post("")
@require_permission("settings.manage")
@require_recent_auth
def create() -> Any:
    """Create a key and show it once; only its hash is kept."""
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return _page(form), 400
    name = " ".join(form.name.data.split())
    key, token = issue_key(g.tenant, name, form.scope.data, current_user)
    audit.record(
        "api_key.created",
        target=name,
        details={"id": str(key.id), "prefix": key.prefix, "scope": key.scope},
    )
    db.session.commit()
    response = _page(ApiKeyForm(formdata=None), new_token=token, new_key=key)
    return response, 200, {"Cache-Control": "no-store"}


@keys_bp.post("/<key_id>/revoke")
@require_permission("settings.manage")
@require_recent_auth
def revoke(key_id: str) -> Any:
    """Revoke a key: it stops working at once (the row stays, for the record)."""
    key = get_or_404(ApiKey, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(
            "api_key.revoked", target=key.name, details={"id": str(key.id), "prefix": key.prefix}
        )
        db.session.commit()
        flash(_("API key “%(name)s” revoked.", name=key.name), "success")
    return redirect(url_for("api_keys.index")), 303
