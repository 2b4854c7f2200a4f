"""Forms of the tenant management pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length

from crm_platform.sdk import INDUSTRY_LABELS, ROLE_LABELS, ROLES

ROLE_CHOICES = [SelectChoice(r, ROLE_LABELS[r]) for r in ROLES]
LOCALE_CHOICES = [SelectChoice("en", "English"), SelectChoice("zh_Hans_CN", "简体中文")]
INDUSTRY_CHOICES = [SelectChoice(k, v) for k, v in INDUSTRY_LABELS.items()]


class InviteForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="member")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class EmptyForm(FlaskForm):
    """A form with only the CSRF token (for buttons that post)."""


class AcceptInvitationForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=200)])
    password = PasswordField("Choose a password", validators=[DataRequired(), Length(max=128)])


class SettingsForm(FlaskForm):
    name = StringField("Company name", validators=[DataRequired(), Length(max=200)])
    industry = SelectField("Industry", choices=INDUSTRY_CHOICES)
    locale = SelectField("Default language", choices=LOCALE_CHOICES)
    timezone = StringField("Time zone", validators=[DataRequired(), Length(max=64)])
