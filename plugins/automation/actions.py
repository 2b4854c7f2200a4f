"""The built-in actions of workflow rules, offered through ``crm_automation_actions``.

Each is an ``AutomationAction`` written against the SDK only: set a field, assign an owner,
create a task, send an e-mail from a template, call a webhook (signed, through the
platform's SSRF guard), post a note to the record's timeline. Other modules add their own
through the same hook (marketing: add to a segment).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select

from crm_platform.sdk import (
    AutomationAction,
    Membership,
    User,
    ValidationFailed,
    create_activity,
    custom_fields_of,
    db,
    parse_uuid,
    post_signed_json,
    send_mail,
    update_record,
    utcnow,
)

from .models import EmailTemplate

#: Fields of accounts and contacts the *set field* action may change.
SETTABLE = {
    "account": ("name", "industry", "size", "website", "lifecycle_stage", "region", "source",
                "email", "phone", "notes", "tags"),
    "contact": ("first_name", "last_name", "title", "lifecycle_stage", "region", "source",
                "email", "phone", "notes", "tags"),
}  # fmt: skip
RECORD_KINDS = ("account", "contact")
_SANDBOX = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class ActionFailed(RuntimeError):
    """An action could not do its work; the message is shown in the run history."""


def render(text: str, values: dict[str, Any]) -> str:
    """``text`` as a sandboxed Jinja template with the record's fields as variables."""
    try:
        return _SANDBOX.from_string(text or "").render(**values)
    except TemplateError as exc:
        raise ActionFailed(_("The template could not be rendered: %(error)s", error=exc)) from exc


def check_template(text: str) -> str | None:
    """Why ``text`` is not a valid template, or ``None``."""
    try:
        _SANDBOX.parse(text or "")
    except TemplateError as exc:
        return _("This is not a valid template: %(error)s", error=exc)
    return None


def _members() -> list[tuple[str, str]]:
    rows = db.session.execute(
        select(Membership.user_id, User.name, User.email)
        .join(User, User.id == Membership.user_id)
        .order_by(User.name)
    ).all()
    return [(str(uid), name or email) for uid, name, email in rows]


def _is_member(value: Any) -> bool:
    uid = parse_uuid(value)
    return (
        uid is not None
        and db.session.scalar(select(Membership.user_id).where(Membership.user_id == uid))
        is not None
    )


def _required(params: dict[str, Any], *names: str) -> dict[str, str]:
    return {n: _("This field is required.") for n in names if not str(params.get(n) or "").strip()}


def _record(context: Any) -> Any:
    if context.record is None:
        raise ActionFailed(_("The record no longer exists."))
    return context.record


# --------------------------------------------------------------------------- set field


def _settable(kind: str | None = None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k in (kind,) if kind else RECORD_KINDS:
        out += [(name, name) for name in SETTABLE[k]]
        out += [(f"cf_{f.key}", f"cf_{f.key}") for f in custom_fields_of(k)]
    return sorted(set(out))


def _check_set_field(params: dict[str, Any]) -> dict[str, str]:
    errors = _required(params, "field")
    if not errors and params["field"] not in dict(_settable()):
        errors["field"] = _("Choose a field of accounts or contacts.")
    return errors


def _set_field(params: dict[str, Any], context: Any) -> str:
    record = _record(context)
    name, value = params["field"], render(str(params.get("value") or ""), context.values)
    if name.startswith("cf_"):
        data: dict[str, Any] = {"custom": {name[3:]: value}}
    else:
        data = {name: value}
    try:
        changed = update_record(record, data, source=context.source)
    except ValidationFailed as exc:
        raise ActionFailed("; ".join(f"{k}: {v}" for k, v in exc.errors.items())) from exc
    return f"{name} = {value}" if changed else _("no change")


# --------------------------------------------------------------------------- assign


def _check_assign(params: dict[str, Any]) -> dict[str, str]:
    errors = _required(params, "owner_id")
    if not errors and not _is_member(params["owner_id"]):
        errors["owner_id"] = _("Choose a member of this workspace.")
    return errors


def _assign(params: dict[str, Any], context: Any) -> str:
    record = _record(context)
    changed = update_record(record, {"owner_id": params["owner_id"]}, source=context.source)
    return _("assigned") if changed else _("no change")


# --------------------------------------------------------------------------- task and note


def _links(context: Any) -> dict[str, Any]:
    """The account and contact an activity about the record is logged on."""
    values = context.values
    if context.kind == "account":
        return {"account_id": context.record_id}
    if context.kind == "contact":
        return {"contact_id": context.record_id}
    links = {k: values.get(k) for k in ("account_id", "contact_id") if values.get(k)}
    if not links:
        raise ActionFailed(_("The record is not linked to an account or a contact."))
    return links


def _check_task(params: dict[str, Any]) -> dict[str, str]:
    errors = _required(params, "subject")
    days = str(params.get("due_in_days") or "0").strip()
    if not days.lstrip("-").isdigit() or abs(int(days)) > 3650:
        errors["due_in_days"] = _("Enter a whole number of days.")
    if params.get("owner_id") and not _is_member(params["owner_id"]):
        errors["owner_id"] = _("Choose a member of this workspace.")
    return errors


def _task(params: dict[str, Any], context: Any) -> str:
    due = utcnow().date() + timedelta(days=int(str(params.get("due_in_days") or "0")))
    owner = params.get("owner_id") or context.values.get("owner_id")
    activity = create_activity(
        {
            "kind": "task",
            "subject": render(params["subject"], context.values)[:200],
            "due_date": due.isoformat(),
            "owner_id": str(owner) if owner else None,
            **{k: str(v) for k, v in _links(context).items()},
        }
    )
    return str(activity.id)


def _check_note(params: dict[str, Any]) -> dict[str, str]:
    errors = _required(params, "text")
    if not errors and (problem := check_template(params["text"])):
        errors["text"] = problem
    return errors


def _note(params: dict[str, Any], context: Any) -> str:
    text = render(params["text"], context.values)
    activity = create_activity(
        {
            "kind": "note",
            "subject": text.splitlines()[0][:200] if text else _("Automation"),
            "body": text,
            **{k: str(v) for k, v in _links(context).items()},
        }
    )
    return str(activity.id)


# --------------------------------------------------------------------------- e-mail


def _templates() -> list[tuple[str, str]]:
    rows = db.session.scalars(select(EmailTemplate).order_by(EmailTemplate.name))
    return [(str(t.id), t.name) for t in rows]


def _check_email(params: dict[str, Any]) -> dict[str, str]:
    errors = _required(params, "template_id", "to")
    if "template_id" not in errors and params["template_id"] not in dict(_templates()):
        errors["template_id"] = _("Choose one of the e-mail templates.")
    to = str(params.get("to") or "").strip()
    if to and to not in ("owner", "record") and "@" not in to:
        errors["to"] = _("Enter an e-mail address, or choose the owner or the record.")
    return errors


def _recipient(to: str, context: Any) -> str:
    if to == "record":
        address = context.values.get("email")
    elif to == "owner":
        owner = parse_uuid(context.values.get("owner_id"))
        address = db.session.scalar(select(User.email).where(User.id == owner)) if owner else None
    else:
        address = to
    if not address:
        raise ActionFailed(_("There is no e-mail address to send to."))
    return str(address)


def _email(params: dict[str, Any], context: Any) -> str:
    template = db.session.scalars(
        select(EmailTemplate).where(EmailTemplate.id == parse_uuid(params["template_id"]))
    ).one_or_none()
    if template is None:
        raise ActionFailed(_("The e-mail template was deleted."))
    to = _recipient(str(params["to"]).strip(), context)
    subject = render(template.subject, context.values).replace("\n", " ")[:200]
    send_mail(to, subject, render(template.body, context.values))
    return to


# --------------------------------------------------------------------------- webhook


def _check_webhook(params: dict[str, Any]) -> dict[str, str]:
    errors = _required(params, "url")
    url = str(params.get("url") or "").strip()
    if url and not url.lower().startswith(("http://", "https://")):
        errors["url"] = _("Only http:// and https:// URLs can receive webhooks.")
    return errors


def _webhook(params: dict[str, Any], context: Any) -> str:
    secret = str(params.get("secret") or "")
    if not secret:
        raise ActionFailed(_("The webhook has no signing secret: save the rule again."))
    payload = {
        "rule": context.rule_name,
        "event": context.event,
        "kind": context.kind,
        "record_id": str(context.record_id) if context.record_id else None,
        "data": context.values,
    }
    try:
        result = post_signed_json(params["url"], payload, secret=secret, event=context.event)
    except ValueError as exc:  # the SSRF guard refused the address
        raise ActionFailed(str(exc)) from exc
    if not result.ok:
        raise ActionFailed(result.error or _("The webhook call failed."))
    return f"HTTP {result.status}"


def new_secret() -> str:
    """A signing secret for a webhook action."""
    return "whsec_" + secrets.token_urlsafe(24)


# --------------------------------------------------------------------------- the list


def builtin_actions() -> list[AutomationAction]:
    """The actions the automation module itself contributes."""
    members = {"owner_id": _members}
    return [
        AutomationAction(
            key="set_field",
            label=_l("Set a field"),
            fields={"field": _l("Field"), "value": _l("New value")},
            choices=lambda: {"field": _settable()},
            kinds=RECORD_KINDS,
            check=_check_set_field,
            run=_set_field,
        ),
        AutomationAction(
            key="assign",
            label=_l("Assign an owner"),
            fields={"owner_id": _l("Owner")},
            choices=lambda: {k: f() for k, f in members.items()},
            kinds=RECORD_KINDS,
            check=_check_assign,
            run=_assign,
        ),
        AutomationAction(
            key="create_task",
            label=_l("Create a task"),
            fields={
                "subject": _l("Subject"),
                "due_in_days": _l("Due in days"),
                "owner_id": _l("Owner (empty: the record's owner)"),
            },
            choices=lambda: {"owner_id": [("", "—"), *_members()]},
            check=_check_task,
            run=_task,
        ),
        AutomationAction(
            key="send_email",
            label=_l("Send an e-mail from a template"),
            fields={"template_id": _l("Template"), "to": _l("To (owner, record or an address)")},
            choices=lambda: {"template_id": _templates()},
            check=_check_email,
            run=_email,
        ),
        AutomationAction(
            key="call_webhook",
            label=_l("Call a webhook"),
            fields={"url": _l("URL")},
            check=_check_webhook,
            run=_webhook,
        ),
        AutomationAction(
            key="timeline_note",
            label=_l("Post a note to the timeline"),
            fields={"text": _l("Text")},
            check=_check_note,
            run=_note,
        ),
    ]
