"""Forms of the provider console (Flask-WTF: a CSRF token on every action)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from .impersonation import REASON_MAX


class ButtonForm(FlaskForm):
    """Only the CSRF token (approve, hide, retry, delete, end impersonation)."""


class ReasonForm(FlaskForm):
    """An action that needs a reason (suspend, resume)."""

    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(), Length(max=REASON_MAX)], render_kw={"rows": 2}
    )


class ImpersonateForm(FlaskForm):
    """Act as a member of a tenant for a limited time."""

    member = SelectField(_l("Act as"), validators=[DataRequired()])
    read_only = BooleanField(_l("Read-only (refuse every change)"), default=True)
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(), Length(max=REASON_MAX)], render_kw={"rows": 2}
    )
