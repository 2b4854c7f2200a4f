"""Forms of the sign-in pages (Flask-WTF: CSRF on every form, field-level errors)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from ..provisioning import INDUSTRIES

INDUSTRY_LABELS = {
    "generic": "Generic",
    "banking": "Banking",
    "telecom": "Telecom",
    "retail": "Retail",
    "b2b_services": "B2B services",
}
INDUSTRY_CHOICES = [SelectChoice(key, INDUSTRY_LABELS[key]) for key in INDUSTRIES]


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])
    remember = BooleanField("Keep me signed in")


class WorkspaceFields:
    company_name = StringField("Company name", validators=[DataRequired(), Length(max=200)])
    slug = StringField("Workspace address", validators=[DataRequired(), Length(max=40)])
    industry = SelectField("Industry", choices=INDUSTRY_CHOICES, default="generic")


class SignupForm(WorkspaceFields, FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Work e-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])


class NewWorkspaceForm(WorkspaceFields, FlaskForm):
    pass


class ForgotPasswordForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=128)])
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo("password", message="The passwords differ.")],
    )
