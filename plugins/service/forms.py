"""Forms of the service pages. Selects do not check their choices: the service functions
check every value (one message whether it came from a page, the API or an import)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields import SelectChoice
from wtforms.validators import Optional

from .business_hours import WEEKDAYS
from .models import (
    AGENT_STATUS_LABELS,
    AGENT_STATUSES,
    ARTICLE_STATUS_LABELS,
    ARTICLE_STATUSES,
    ARTICLE_VISIBILITY,
    ARTICLE_VISIBILITY_LABELS,
    ASSIGNMENT_LABELS,
    ASSIGNMENT_MODES,
    CALL_DIRECTION_LABELS,
    CALL_DIRECTIONS,
    CALL_OUTCOME_LABELS,
    CALL_OUTCOMES,
    ESCALATION_ACTION_LABELS,
    ESCALATION_ACTIONS,
    ESCALATION_TRIGGER_LABELS,
    ESCALATION_TRIGGERS,
    PRIORITIES,
    PRIORITY_LABELS,
    STATUS_LABELS,
    STATUSES,
)

NONE = SelectChoice("", "—")
WEEKDAY_LABELS = {
    "mon": _l("Monday"),
    "tue": _l("Tuesday"),
    "wed": _l("Wednesday"),
    "thu": _l("Thursday"),
    "fri": _l("Friday"),
    "sat": _l("Saturday"),
    "sun": _l("Sunday"),
}


def choices(values: tuple[str, ...], labels: dict[str, Any]) -> list[SelectChoice]:
    """Options of ``values``, labelled, in their order."""
    return [SelectChoice(v, labels[v]) for v in values]


def options(pairs: Any) -> list[SelectChoice]:
    """Options of ``(value, label)`` pairs (ids and names read from the database)."""
    return [SelectChoice(str(value), label) for value, label in pairs]


def Select(label: Any, items: list[SelectChoice] | None = None) -> SelectField:  # noqa: N802
    """A select whose value the service checks."""
    return SelectField(label, choices=items or [NONE], default="", validate_choice=False)


class ButtonForm(FlaskForm):
    """Only the CSRF token (buttons that post)."""


class TicketForm(FlaskForm):
    subject = StringField(_l("Subject"))
    description = TextAreaField(_l("Description"))
    requester_email = StringField(_l("Customer's e-mail"), render_kw={"inputmode": "email"})
    requester_name = StringField(_l("Customer's name"))
    contact_id = HiddenField()
    account_id = HiddenField()
    channel = Select(
        _l("Channel"),
        [
            SelectChoice("agent", _l("Agent")),
            SelectChoice("phone", _l("Phone")),
            SelectChoice("email", _l("E-mail")),
        ],
    )
    priority = Select(_l("Priority"), choices(PRIORITIES, PRIORITY_LABELS))
    queue_id = Select(_l("Queue"))
    assignee_id = Select(_l("Assignee"))
    category = StringField(_l("Category"), render_kw={"list": "categories"})
    order_ref = StringField(_l("Order number"))
    attachments = MultipleFileField(_l("Attachments"))


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Message"), render_kw={"rows": 8})
    canned_id = Select(_l("Canned response"))
    public = RadioField(
        _l("Send as"),
        choices=[
            SelectChoice("1", _l("Public reply (e-mailed to the customer)")),
            SelectChoice("0", _l("Internal note")),
        ],
        default="1",
        validate_choice=False,
    )
    status = SelectField(
        _l("Then set the status to"),
        choices=[NONE],
        default="",
        validate_choice=False,
        id="reply-status",  # the properties form on the same page has its own "status"
    )
    attachments = MultipleFileField(_l("Attachments"))


class PropertiesForm(FlaskForm):
    status = Select(_l("Status"), choices(STATUSES, STATUS_LABELS))
    priority = Select(_l("Priority"), choices(PRIORITIES, PRIORITY_LABELS))
    queue_id = Select(_l("Queue"))
    assignee_id = Select(_l("Assignee"))
    category = StringField(_l("Category"), render_kw={"list": "categories"})
    order_ref = StringField(_l("Order number"))


class CustomerForm(FlaskForm):
    requester_email = StringField(_l("Customer's e-mail"))
    contact_id = Select(_l("Contact"))


class MergeForm(FlaskForm):
    target = StringField(_l("Merge into ticket number"), render_kw={"inputmode": "numeric"})


class CallForm(FlaskForm):
    number = StringField(_l("Phone number"), render_kw={"inputmode": "tel"})
    direction = Select(_l("Direction"), choices(CALL_DIRECTIONS, CALL_DIRECTION_LABELS))
    outcome = Select(_l("Outcome"), choices(CALL_OUTCOMES, CALL_OUTCOME_LABELS))
    duration = StringField(_l("Duration (mm:ss)"))
    recording_url = StringField(_l("Recording URL"), render_kw={"inputmode": "url"})
    notes = TextAreaField(_l("Notes"))
    contact_id = Select(_l("Contact"))
    account_id = HiddenField()
    ticket_id = Select(_l("Ticket"))
    queue_id = Select(_l("Queue"))
    new_ticket = StringField(_l("Or open a ticket with this subject"))


class CallbackForm(FlaskForm):
    due_date = DateField(_l("Call back on"), validators=[Optional()])
    owner_id = Select(_l("Who calls back"))
    note = TextAreaField(_l("Note"))


class AgentStatusForm(FlaskForm):
    status = Select(_l("My status"), choices(AGENT_STATUSES, AGENT_STATUS_LABELS))


class ArticleForm(FlaskForm):
    title = StringField(_l("Title"))
    body = TextAreaField(_l("Text"), render_kw={"rows": 14})
    category_id = Select(_l("Category"))
    visibility = Select(_l("Visibility"), choices(ARTICLE_VISIBILITY, ARTICLE_VISIBILITY_LABELS))
    status = Select(_l("Status"), choices(ARTICLE_STATUSES, ARTICLE_STATUS_LABELS))


class HelpForm(FlaskForm):
    """The public "contact support" form."""

    name = StringField(_l("Your name"))
    email = StringField(_l("Your e-mail"), render_kw={"inputmode": "email"})
    subject = StringField(_l("Subject"))
    description = TextAreaField(_l("How can we help?"), render_kw={"rows": 6})
    website = StringField(_l("Leave this empty"))  # a trap for robots


class SurveyForm(FlaskForm):
    rating = RadioField(
        _l("How satisfied are you?"),
        choices=[
            SelectChoice("5", _l("5 – Very satisfied")),
            SelectChoice("4", _l("4 – Satisfied")),
            SelectChoice("3", _l("3 – Neutral")),
            SelectChoice("2", _l("2 – Dissatisfied")),
            SelectChoice("1", _l("1 – Very dissatisfied")),
        ],
        validate_choice=False,
    )
    comment = TextAreaField(_l("Anything you would like to tell us?"))


class SettingsForm(FlaskForm):
    acknowledge = BooleanField(_l("Answer new e-mail and web requests with their ticket number"))
    csat = BooleanField(_l("Send a satisfaction survey when a ticket is solved"))
    public_kb = BooleanField(_l("Show public articles on the public help pages"))
    auto_close_days = IntegerField(
        _l("Close solved tickets after this many days (0: never)"), validators=[Optional()]
    )


class QueueForm(FlaskForm):
    name = StringField(_l("Name"))
    description = TextAreaField(_l("Description"))
    assignment = Select(_l("New tickets go to"), choices(ASSIGNMENT_MODES, ASSIGNMENT_LABELS))
    is_default = BooleanField(_l("Default queue (new tickets with no queue go here)"))
    members = SelectMultipleField(
        _l("Agents"),
        choices=[],
        validate_choice=False,
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
    )


class PolicyForm(FlaskForm):
    name = StringField(_l("Name"))
    match_tag = StringField(_l("For customers tagged (empty: the default policy)"))
    calendar_id = Select(_l("Business hours"))
    warn_percent = IntegerField(
        _l("Warn when this percentage of a target is used"), validators=[Optional()]
    )


def add_target_fields(form_class: type) -> type:
    """Give the policy form a first-response and a resolution field per priority."""
    for priority in PRIORITIES:
        setattr(form_class, f"{priority}_response", StringField(_l("First response (hours)")))
        setattr(form_class, f"{priority}_resolution", StringField(_l("Resolution (hours)")))
    return form_class


add_target_fields(PolicyForm)


class CalendarForm(FlaskForm):
    name = StringField(_l("Name"))
    timezone = StringField(_l("Time zone"), render_kw={"list": "timezones"})


for _day in WEEKDAYS:
    setattr(CalendarForm, f"{_day}_from", StringField(WEEKDAY_LABELS[_day]))
    setattr(CalendarForm, f"{_day}_to", StringField(WEEKDAY_LABELS[_day]))


class HolidayForm(FlaskForm):
    day = DateField(_l("Day"), validators=[Optional()])
    name = StringField(_l("Name"))


class CannedForm(FlaskForm):
    title = StringField(_l("Title"))
    body = TextAreaField(_l("Text"), render_kw={"rows": 8})


class EscalationForm(FlaskForm):
    name = StringField(_l("Name"))
    trigger = Select(_l("When"), choices(ESCALATION_TRIGGERS, ESCALATION_TRIGGER_LABELS))
    queue_id = Select(_l("Queue"))
    priority = Select(_l("Priority"), [NONE, *choices(PRIORITIES, PRIORITY_LABELS)])
    action = Select(_l("Then"), choices(ESCALATION_ACTIONS, ESCALATION_ACTION_LABELS))
    user_id = Select(_l("Member"))


class ScriptForm(FlaskForm):
    title = StringField(_l("Title"))
    queue_id = Select(_l("Queue (empty: every queue)"))
    steps = TextAreaField(_l("Steps, one per line"), render_kw={"rows": 8})


class CategoryForm(FlaskForm):
    name = StringField(_l("Name"))
