"""Forms of the sales pages (Flask-WTF: CSRF and rendering; the services validate values).

Selects take any value (``validate_choice=False``) because the services check them and give
one message for forms, imports and the API alike; their choices are filled in per request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields import SelectChoice
from wtforms.validators import Length, Optional

from .assignment import MATCH_FIELDS
from .deals import CATEGORY_LABELS
from .leads import STATUS_LABELS
from .pipelines import OUTCOME_LABELS
from .scoring import ACTIVITY_KINDS, FIELDS, OPERATORS


def options(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """``(value, label)`` pairs as select options."""
    return [SelectChoice(str(value), label) for value, label in pairs]


def Select(label: Any, choices: Iterable[tuple[Any, Any]] = ()) -> SelectField:  # noqa: N802
    """A select whose value the service checks."""
    return SelectField(label, choices=options(choices), default="", validate_choice=False)


class ButtonForm(FlaskForm):
    """Only the CSRF token (buttons that post)."""


class DealForm(FlaskForm):
    name = StringField(_l("Deal name"), validators=[Length(max=200)])
    account_id = Select(_l("Account"))
    contact_id = Select(_l("Contact"))
    stage_id = Select(_l("Stage"))
    amount = StringField(_l("Amount"), render_kw={"inputmode": "decimal"})
    currency = StringField(_l("Currency"), validators=[Length(max=3)])
    expected_close = DateField(_l("Expected close date"), validators=[Optional()])
    owner_id = Select(_l("Owner"))
    forecast_category = Select(
        _l("Forecast category"), choices=[(k, v) for k, v in CATEGORY_LABELS.items()]
    )
    competitors = StringField(_l("Competitors"), validators=[Length(max=2000)])
    close_reason = TextAreaField(_l("Win or loss reason"), validators=[Length(max=2000)])
    version = HiddenField()


class MoveForm(FlaskForm):
    """Move a deal (the board's cards and the deal page)."""

    stage_id = Select(_l("Move to"))
    version = HiddenField()
    close_reason = TextAreaField(_l("Why was it won or lost?"), validators=[Length(max=2000)])


class LeadForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=200)])
    company = StringField(_l("Company"), validators=[Length(max=200)])
    title = StringField(_l("Job title"), validators=[Length(max=120)])
    email = StringField(_l("E-mail"), validators=[Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Length(max=40)])
    source = Select(_l("Source"))
    status = Select(
        _l("Status"), choices=[(k, v) for k, v in STATUS_LABELS.items() if k != "converted"]
    )
    owner_id = Select(_l("Owner"))
    region = StringField(_l("Region"), validators=[Length(max=80)])
    industry = StringField(_l("Industry"), validators=[Length(max=80)])
    notes = TextAreaField(_l("Notes"), validators=[Length(max=10000)])


class LeadActivityForm(FlaskForm):
    kind = Select(_l("Kind"), choices=[(k, k) for k in ACTIVITY_KINDS])
    subject = StringField(_l("Subject"), validators=[Length(max=200)])
    body = TextAreaField(_l("Details"), validators=[Length(max=10000)])


class ConvertForm(FlaskForm):
    account = RadioField(_l("Account"), choices=[], validate_choice=False, default="new")
    account_name = StringField(_l("New account's name"), validators=[Length(max=200)])
    contact = RadioField(_l("Contact"), choices=[], validate_choice=False, default="new")
    create_deal = BooleanField(_l("Open a deal"), default=True)
    deal_name = StringField(_l("Deal name"), validators=[Length(max=200)])
    deal_amount = StringField(_l("Amount"), render_kw={"inputmode": "decimal"})
    deal_currency = StringField(_l("Currency"), validators=[Length(max=3)])
    deal_stage_id = Select(_l("Stage"))
    deal_expected_close = DateField(_l("Expected close date"), validators=[Optional()])


class SettingsForm(FlaskForm):
    currency = StringField(_l("Currency"), validators=[Length(max=3)])
    pool_days = IntegerField(
        _l("Return leads to the pool after this many days without work"),
        validators=[Optional()],
    )
    lead_sources = TextAreaField(_l("Lead sources (one a line)"), validators=[Length(max=3000)])
    webform_enabled = BooleanField(_l("Accept leads from the web form"))
    webform_thanks = StringField(_l("Thank-you message"), validators=[Length(max=300)])


class PipelineForm(FlaskForm):
    name = StringField(_l("Pipeline name"), validators=[Length(max=100)])


class StageForm(FlaskForm):
    name = StringField(_l("Stage"), validators=[Length(max=100)])
    probability = StringField(_l("Probability %"), render_kw={"inputmode": "numeric"})
    rotting_days = StringField(_l("Rotting after days"), render_kw={"inputmode": "numeric"})
    outcome = Select(_l("Outcome"), choices=[(k, v) for k, v in OUTCOME_LABELS.items()])


class ScoringRuleForm(FlaskForm):
    kind = RadioField(
        _l("Points for"),
        choices=options([("field", _l("a field")), ("activity", _l("each activity"))]),
        default="field",
        validate_choice=False,
    )
    field = Select(_l("Field"), choices=[(k, v) for k, v in FIELDS.items()])
    operator = Select(_l("Condition"), choices=[(k, v) for k, v in OPERATORS.items()])
    value = StringField(_l("Value"), validators=[Length(max=200)])
    activity_kind = Select(_l("Activity"), choices=[(k, k) for k in ACTIVITY_KINDS])
    points = StringField(_l("Points"), render_kw={"inputmode": "numeric"})


class AssignmentRuleForm(FlaskForm):
    name = StringField(_l("Rule name"), validators=[Length(max=100)])
    match_field = Select(_l("Leads"), choices=[(k, v) for k, v in MATCH_FIELDS.items()])
    match_value = StringField(_l("Values (comma-separated)"), validators=[Length(max=200)])
    member_ids = SelectMultipleField(
        _l("Assign in turn to"),
        choices=[],
        validate_choice=False,
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
    )
    active = BooleanField(_l("Active"), default=True)


def apply_errors(form: FlaskForm, errors: dict[str, str], fallback: str) -> None:
    """Show each service error under its form field (unknown names under ``fallback``)."""
    for name, message in errors.items():
        target = form._fields.get(name) or form._fields[fallback]
        target.errors = [*(target.errors or []), message]
