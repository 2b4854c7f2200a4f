"""Forms of the billing page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange


class SubscribeForm(FlaskForm):
    """Buy a plan with a number of seats."""

    plan = SelectField(_l("Plan"), validate_choice=False)
    seats = IntegerField(
        _l("Seats"),
        validators=[
            InputRequired(_l("Enter the number of seats.")),
            NumberRange(min=1, max=100000),
        ],
    )


class PlanForm(FlaskForm):
    """Move to another plan."""

    plan = SelectField(_l("New plan"), validate_choice=False)


class SeatsForm(FlaskForm):
    """Buy or release seats."""

    seats = IntegerField(
        _l("Seats"),
        validators=[
            InputRequired(_l("Enter the number of seats.")),
            NumberRange(min=1, max=100000),
        ],
    )


class ButtonForm(FlaskForm):
    """Only the CSRF token (pay, open the portal)."""
