"""Forms of the customer database pages (record forms get their custom fields added per tenant)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ..customers import LIFECYCLE_STAGES, SIZES, SOURCES
from .activities import ACTIVITY_KINDS, KIND_LABELS
from .custom_fields import FIELD_TYPES, TYPE_LABELS, CustomField
from .labels import SIZE_LABELS, SOURCE_LABELS, STAGE_LABELS
from .visibility import RULE_LABELS, RULES

NONE = SelectChoice("", "—")


def _stage_choices() -> list[SelectChoice]:
    return [SelectChoice(s, STAGE_LABELS[s]) for s in LIFECYCLE_STAGES]


def _Select(label: Any, choices: list[SelectChoice]) -> SelectField:  # noqa: N802
    """A select whose value the record service checks (one message for forms and imports)."""
    return SelectField(label, choices=choices, default="", validate_choice=False)


class ButtonForm(FlaskForm):
    """A form with only the CSRF token (buttons that post)."""


class _RecordForm(FlaskForm):
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    region = StringField(_l("Region"), validators=[Optional(), Length(max=80)])
    address = TextAreaField(_l("Address"), validators=[Optional(), Length(max=500)])
    source = _Select(
        _l("Source"), choices=[NONE] + [SelectChoice(s, SOURCE_LABELS[s]) for s in SOURCES]
    )
    lifecycle_stage = _Select(_l("Lifecycle stage"), choices=_stage_choices())
    owner_id = _Select(_l("Owner"), choices=[NONE])
    team_id = _Select(_l("Team"), choices=[NONE])
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=1000)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=10000)])


class AccountForm(_RecordForm):
    name = StringField(_l("Company name"), validators=[DataRequired(), Length(max=200)])
    industry = StringField(_l("Industry"), validators=[Optional(), Length(max=80)])
    size = _Select(_l("Size"), choices=[NONE] + [SelectChoice(s, SIZE_LABELS[s]) for s in SIZES])
    website = StringField(_l("Website"), validators=[Optional(), Length(max=254)])


class ContactForm(_RecordForm):
    first_name = StringField(_l("First name"), validators=[DataRequired(), Length(max=100)])
    last_name = StringField(_l("Last name"), validators=[Optional(), Length(max=100)])
    title = StringField(_l("Job title"), validators=[Optional(), Length(max=120)])
    account_id = _Select(_l("Account"), choices=[NONE])
    birthday = DateField(_l("Birthday"), validators=[Optional()])
    anniversary = DateField(_l("Anniversary"), validators=[Optional()])


#: Standard fields of each form, in the order the page shows them.
FORM_FIELDS = {
    "account": [
        "name",
        "industry",
        "size",
        "lifecycle_stage",
        "website",
        "email",
        "phone",
        "region",
        "address",
        "source",
        "owner_id",
        "team_id",
        "tags",
        "notes",
    ],
    "contact": [
        "first_name",
        "last_name",
        "title",
        "account_id",
        "lifecycle_stage",
        "email",
        "phone",
        "region",
        "address",
        "source",
        "birthday",
        "anniversary",
        "owner_id",
        "team_id",
        "tags",
        "notes",
    ],
}
FORM_CLASSES: dict[str, type[_RecordForm]] = {"account": AccountForm, "contact": ContactForm}


def _custom_form_field(field: CustomField) -> Any:
    label = field.label + (" *" if field.required else "")
    if field.type == "checkbox":
        return BooleanField(label)
    if field.type == "choice":
        choices = [NONE] + [SelectChoice(c, c) for c in field.choices]
        return SelectField(label, choices=choices, validate_choice=False)
    if field.type == "multi_choice":
        return SelectMultipleField(
            label,
            choices=[SelectChoice(c, c) for c in field.choices],
            validate_choice=False,
            widget=widgets.ListWidget(prefix_label=False),
            option_widget=widgets.CheckboxInput(),
        )
    render = {"number": {"inputmode": "decimal"}, "date": {"type": "date"}}.get(field.type, {})
    max_length = 500 if field.type == "text" else 40
    return StringField(label, validators=[Optional(), Length(max=max_length)], render_kw=render)


def record_form(kind: str, fields: list[CustomField], **kwargs: Any) -> _RecordForm:
    """The form of a ``kind`` record with the tenant's custom ``fields`` added."""
    attrs = {f.form_name: _custom_form_field(f) for f in fields}
    form_class = type(f"{kind.title()}FormWithFields", (FORM_CLASSES[kind],), attrs)
    return form_class(**kwargs)


class ActivityForm(FlaskForm):
    kind = SelectField(
        _l("Type"), choices=[SelectChoice(k, KIND_LABELS[k]) for k in ACTIVITY_KINDS]
    )
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Details"), validators=[Optional(), Length(max=10000)])
    due_date = DateField(_l("Due date"), validators=[Optional()])
    owner_id = SelectField(_l("Assigned to"), choices=[NONE])
    done = BooleanField(_l("Done"))
    account_id = HiddenField()
    contact_id = HiddenField()


class CustomFieldForm(FlaskForm):
    label = StringField(_l("Label"), validators=[DataRequired(), Length(max=100)])
    key = StringField(_l("Key"), validators=[Optional(), Length(max=40)])
    type = SelectField(_l("Type"), choices=[SelectChoice(t, TYPE_LABELS[t]) for t in FIELD_TYPES])
    choices = TextAreaField(_l("Options"), validators=[Optional(), Length(max=6000)])
    required = BooleanField(_l("Required"))


class TeamForm(FlaskForm):
    name = StringField(_l("Team name"), validators=[DataRequired(), Length(max=100)])


class TeamMemberForm(FlaskForm):
    user_id = SelectField(_l("Member"), choices=[])


class VisibilityForm(FlaskForm):
    member = SelectField(
        _l("Members see"), choices=[SelectChoice(r, RULE_LABELS[r]) for r in RULES]
    )
    readonly = SelectField(
        _l("Read-only members see"), choices=[SelectChoice(r, RULE_LABELS[r]) for r in RULES]
    )


class SavedViewForm(FlaskForm):
    name = StringField(_l("View name"), validators=[DataRequired(), Length(max=80)])
    entity = HiddenField()
    query = HiddenField(validators=[Length(max=2000)])
