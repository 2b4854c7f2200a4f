"""The module's forms (Flask-WTF: every form carries a CSRF token) and the segment builder's
form parsing (its rows are dynamic: ``g<group>_r<rule>_field`` ...)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from .segment_fields import LIST_VALUE, PAIR_VALUE


class ButtonForm(FlaskForm):
    """A form with only the CSRF token (buttons that post)."""


class CampaignForm(FlaskForm):
    """An e-mail (or recorded) campaign."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=160)])
    channel = SelectField(_l("Channel"), choices=[], validate_choice=False)
    segment_id = SelectField(_l("Segment"), choices=[], validate_choice=False)
    topic = SelectField(_l("Topic"), choices=[], validate_choice=False)
    template_id = SelectField(_l("Start from template"), choices=[], validate_choice=False)
    subject = StringField(_l("Subject"), validators=[Optional(), Length(max=300)])
    subject_b = StringField(_l("Subject B (A/B test)"), validators=[Optional(), Length(max=300)])
    ab_test_percent = IntegerField(
        _l("Test group (percent of recipients)"), validators=[Optional(), NumberRange(0, 100)]
    )
    ab_wait_hours = IntegerField(
        _l("Pick the winner after (hours)"), validators=[Optional(), NumberRange(1, 168)]
    )
    body_html = TextAreaField(_l("Body (HTML)"), validators=[Optional(), Length(max=200_000)])
    from_name = StringField(_l("From name"), validators=[Optional(), Length(max=120)])
    reply_to = StringField(_l("Reply-to address"), validators=[Optional(), Length(max=254)])
    rate_per_minute = IntegerField(
        _l("Send at most (e-mails per minute, 0: no limit)"), validators=[Optional()]
    )
    cost = StringField(_l("Cost"), validators=[Optional(), Length(max=20)])
    currency = StringField(_l("Currency"), default="USD", validators=[Optional(), Length(max=3)])
    responses = IntegerField(
        _l("Responses (attendees, answered calls...)"), validators=[Optional()]
    )
    conversion_days = IntegerField(
        _l("Count conversions for (days)"), default=30, validators=[Optional()]
    )
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])


class ScheduleForm(FlaskForm):
    """When to send."""

    scheduled_at = StringField(_l("Send at"), render_kw={"type": "datetime-local"})
    timezone_offset = StringField(default="0")


class TemplateForm(FlaskForm):
    """A reusable e-mail template."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=300)])
    body_html = TextAreaField(_l("Body (HTML)"), validators=[DataRequired(), Length(max=200_000)])


class SuppressionForm(FlaskForm):
    """An address added to the suppression list by hand."""

    email = StringField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    scope = SelectField(_l("Suppressed for"), choices=[], validate_choice=False)
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])


class BounceForm(FlaskForm):
    """A bounce message (delivery status notification) pasted in."""

    raw = TextAreaField(_l("Bounce message (the whole e-mail)"), validators=[DataRequired()])


class SettingsForm(FlaskForm):
    """Lifecycle thresholds and subscription topics."""

    new_days = IntegerField(_l("New: first order within (days)"), validators=[NumberRange(1, 365)])
    risk_days = IntegerField(_l("At risk: no order for (days)"), validators=[NumberRange(1, 3650)])
    churn_days = IntegerField(_l("Churned: no order for (days)"), validators=[NumberRange(1, 3650)])
    loyal_orders = IntegerField(_l("Loyal: at least (orders)"), validators=[NumberRange(1, 1000)])
    topics = TextAreaField(
        _l("Subscription topics (one per line: key = label)"), validators=[Length(max=4000)]
    )


class SequenceForm(FlaskForm):
    """A sequence's name and settings (steps are parsed from ``s<n>_*`` fields)."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    topic = SelectField(_l("Topic"), choices=[], validate_choice=False)
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("active", _l("active")), SelectChoice("paused", _l("paused"))],
    )
    from_name = StringField(_l("From name"), validators=[Optional(), Length(max=120)])


_RULE = re.compile(r"^g(\d+)_r(\d+)_field$")
_GROUP = re.compile(r"^g(\d+)_match$")
_STEP = re.compile(r"^s(\d+)_kind$")


def builder_state(form: Mapping[str, Any] | MultiDict) -> dict[str, Any]:
    """The segment definition a builder form holds (raw values, not checked), applying the
    structural ``action`` (add/remove a rule or group) the form was posted with."""
    getlist = form.getlist if isinstance(form, MultiDict) else lambda k: [form.get(k)]
    groups: dict[int, dict[str, Any]] = {}
    for key in form:
        match = _GROUP.match(key)
        if match:
            groups.setdefault(int(match.group(1)), {"match": "all", "rules": {}})
        match = _RULE.match(key)
        if match:
            groups.setdefault(int(match.group(1)), {"match": "all", "rules": {}})
    for gi, group in groups.items():
        group["match"] = form.get(f"g{gi}_match") or "all"
        for key in form:
            match = _RULE.match(key)
            if not match or int(match.group(1)) != gi:
                continue
            ri = int(match.group(2))
            prefix = f"g{gi}_r{ri}_"
            op = form.get(prefix + "op") or ""
            if op in LIST_VALUE:
                value: Any = [v for v in getlist(prefix + "value") if v]
            elif op in PAIR_VALUE:
                value = [form.get(prefix + "value") or "", form.get(prefix + "value2") or ""]
            else:
                value = form.get(prefix + "value")
            group["rules"][ri] = {"field": form.get(key) or "", "op": op, "value": value}
    definition = {
        "match": form.get("match") or "all",
        "groups": [
            {"match": g["match"], "rules": [g["rules"][r] for r in sorted(g["rules"])]}
            for _i, g in sorted(groups.items())
        ],
    }
    return apply_action(definition, str(form.get("action") or ""))


def apply_action(definition: dict[str, Any], action: str) -> dict[str, Any]:
    """Add or remove a rule or a group (``add_rule:0``, ``remove_rule:0:1``, ``add_group``,
    ``remove_group:1``); other actions leave the definition as it is."""
    groups = definition["groups"]
    parts = action.split(":")
    try:
        if parts[0] == "add_group":
            groups.append({"match": "all", "rules": [{"field": "", "op": "", "value": ""}]})
        elif parts[0] == "add_rule":
            groups[int(parts[1])]["rules"].append({"field": "", "op": "", "value": ""})
        elif parts[0] == "remove_rule":
            del groups[int(parts[1])]["rules"][int(parts[2])]
        elif parts[0] == "remove_group":
            del groups[int(parts[1])]
    except (IndexError, ValueError):
        pass
    if not groups:
        groups.append({"match": "all", "rules": []})
    return definition


def sequence_steps(form: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The steps a sequence form holds (rows left empty are dropped)."""
    indexes = sorted(int(m.group(1)) for m in (_STEP.match(k) for k in form) if m)
    steps = []
    for i in indexes:
        step = {
            "kind": form.get(f"s{i}_kind") or "email",
            "delay_hours": form.get(f"s{i}_delay_hours") or "0",
            "subject": form.get(f"s{i}_subject") or "",
            "body_html": form.get(f"s{i}_body_html") or "",
        }
        if step["subject"].strip() or step["body_html"].strip():
            steps.append(step)
    return steps
