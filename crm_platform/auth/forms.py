"""Forms of the sign-in pages (Flask-WTF: CSRF on every form, field-level errors)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from ..config import LANGUAGE_NAMES
from ..provisioning import INDUSTRIES

INDUSTRY_LABELS = {
    "generic": _l("Generic"),
    "banking": _l("Banking"),
    "telecom": _l("Telecom"),
    "retail": _l("Retail"),
    "b2b_services": _l("B2B services"),
}
INDUSTRY_CHOICES = [SelectChoice(key, INDUSTRY_LABELS[key]) for key in INDUSTRIES]
#: Each language is named in its own language, so anyone can find theirs.
LANGUAGE_CHOICES = [
    SelectChoice("", _l("Same as my browser")),
    *(SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()),
]


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])
    remember = BooleanField(_l("Keep me signed in"))


class WorkspaceFields:
    company_name = StringField(_l("Company name"), validators=[DataRequired(), Length(max=200)])
    slug = StringField(_l("Workspace address"), validators=[DataRequired(), Length(max=40)])
    industry = SelectField(_l("Industry"), choices=INDUSTRY_CHOICES, default="generic")


class SignupForm(WorkspaceFields, FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Work e-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])


class NewWorkspaceForm(WorkspaceFields, FlaskForm):
    pass


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=128)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class ProfileForm(FlaskForm):
    """The signed-in user's own name and UI language (empty: follow the browser)."""

    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])
    locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES, default="")


class TwoFactorForm(FlaskForm):
    """The second sign-in step: a code of the authenticator app, or a recovery code."""

    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[DataRequired(), Length(max=40)],
    )


class EnableTwoFactorForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app"), validators=[DataRequired(), Length(max=12)]
    )


class DisableTwoFactorForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[DataRequired(), Length(max=40)],
    )


class ReauthForm(FlaskForm):
    """Confirm it's you: the password, and a code when two-factor is on (checked in the view)."""

    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"), validators=[Length(max=40)]
    )


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=128)])
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=128)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class ButtonForm(FlaskForm):
    """A form that is only a button (CSRF token)."""
