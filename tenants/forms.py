"""Forms of the tenant management pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length

from crm_platform.sdk import INDUSTRY_LABELS, ROLE_LABELS, ROLES

ROLE_CHOICES = [SelectChoice(r, ROLE_LABELS[r]) for r in ROLES]
LOCALE_CHOICES = [SelectChoice("en", "English"), SelectChoice("zh_Hans_CN", "简体中文")]
INDUSTRY_CHOICES = [SelectChoice(k, v) for k, v in INDUSTRY_LABELS.items()]


class InviteForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="member")


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class EmptyForm(FlaskForm):
    """A form with only the CSRF token (for buttons that post)."""


class AcceptInvitationForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])
    password = PasswordField(_l("Choose a password"), validators=[DataRequired(), Length(max=128)])


class SettingsForm(FlaskForm):
    name = StringField(_l("Company name"), validators=[DataRequired(), Length(max=200)])
    industry = SelectField(_l("Industry"), choices=INDUSTRY_CHOICES)
    locale = SelectField(_l("Default language"), choices=LOCALE_CHOICES)
    timezone = StringField(_l("Time zone"), validators=[DataRequired(), Length(max=64)])
    #: Only the owner sees and changes this (the view ignores it for anyone else).
    require_2fa = BooleanField(_l("Require two-factor sign-in for every member"))
