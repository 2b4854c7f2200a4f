"""Forms of the webhook pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField, widgets
from wtforms.validators import Length, Optional

from .events import event_choices


class WebhookForm(FlaskForm):
    url = StringField(
        _l("Payload URL"),
        render_kw={"placeholder": "https://example.com/crm-webhook", "inputmode": "url"},
    )
    description = StringField(_l("Description"), validators=[Optional(), Length(max=200)])
    events = SelectMultipleField(
        _l("Events"),
        choices=event_choices,
        validate_choice=False,
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
    )
    active = BooleanField(_l("Active: send events to this URL"), default=True)


class ButtonForm(FlaskForm):
    """A form with only the CSRF token (buttons that post)."""
