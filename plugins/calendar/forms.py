"""Forms of the calendar settings page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class ConnectionForm(FlaskForm):
    """Server address and account; the password is never filled in again."""

    server_url = StringField(
        _l("CalDAV server address"),
        validators=[DataRequired(), Length(max=500)],
        render_kw={"placeholder": "https://dav.example.com/", "inputmode": "url"},
    )
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=200)])
    password = PasswordField(
        _l("Password or app password"),
        validators=[Length(max=500)],
        render_kw={"autocomplete": "new-password"},
    )


class CalendarForm(FlaskForm):
    """Which calendar to sync with, and how."""

    calendar_url = SelectField(_l("Calendar"), choices=[], validate_choice=True)
    import_new = BooleanField(_l("Import new events from this calendar as meetings"))
    enabled = BooleanField(_l("Sync automatically"), default=True)
    interval_minutes = IntegerField(
        _l("Every (minutes)"),
        default=15,
        validators=[Optional(), NumberRange(min=5, max=1440)],
    )
