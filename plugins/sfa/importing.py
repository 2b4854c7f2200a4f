"""The ``leads`` import target: spreadsheets of leads through the core's importer.

Each row is checked by the lead service's own validation (a preview shows what each row will
do) and written through it, so imported leads are assigned by the rules (unless the row names
an owner, by e-mail) and scored like any other. Dedupe on e-mail: an open lead with the same
address is skipped, updated or duplicated, as the person importing chooses; a row repeating an
earlier row's address is rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm_platform.sdk import (
    ImportTarget,
    Membership,
    RowResult,
    SourceRow,
    User,
    ValidationFailed,
    clean_email,
    db,
    parse_uuid,
)

from .leads import add_lead, check_lead, update_lead
from .models import Lead
from .scoring import all_rules
from .settings import sales_settings

FIELDS = {
    "name": _l("Name"),
    "company": _l("Company"),
    "title": _l("Job title"),
    "email": _l("E-mail"),
    "phone": _l("Phone"),
    "source": _l("Source"),
    "status": _l("Status"),
    "owner_id": _l("Owner (member's e-mail)"),
    "region": _l("Region"),
    "industry": _l("Industry"),
    "notes": _l("Notes"),
}
ALIASES = {
    "name": ("full name", "contact", "contact name", "lead", "姓名", "联系人"),
    "company": ("company name", "organisation", "organization", "account", "公司", "公司名称"),
    "email": ("e-mail address", "email address", "mail", "邮箱", "电子邮件"),
    "phone": ("telephone", "mobile", "tel", "电话", "手机"),
    "title": ("job", "position", "职位"),
    "owner_id": ("owner", "sales rep", "负责人"),
    "source": ("lead source", "来源"),
    "region": ("territory", "area", "地区"),
    "industry": ("sector", "行业"),
    "notes": ("note", "comments", "备注"),
}


class LeadImporter:
    """The batch importer of leads (see ``ImportTarget.batch``)."""

    checks_before_writing = True

    def __init__(self, *, dedupe: str = "skip", membership: Any = None, actor: Any = None) -> None:
        self.dedupe = dedupe
        self.actor = actor
        rows = db.session.execute(
            select(Membership.user_id, User.email).join(User, User.id == Membership.user_id)
        )
        self.members = {email.lower(): uid for uid, email in rows}
        self.member_ids = set(self.members.values())
        self.sources = sales_settings().lead_sources
        self.rules = all_rules()
        self.seen: dict[str, int] = {}

    def _owner(self, raw: str) -> Any:
        raw = (raw or "").strip()
        if not raw:
            return None
        uid = parse_uuid(raw) or self.members.get(raw.lower())
        if uid not in self.member_ids:
            raise ValueError(_("No member has the e-mail address “%(email)s”.", email=raw))
        return uid

    def _existing(self, rows: Sequence[SourceRow]) -> dict[str, Lead]:
        emails = set()
        for row in rows:
            try:
                email = clean_email(row.values.get("email"))
            except ValueError:
                continue
            if email:
                emails.add(email)
        if not emails or self.dedupe == "create":
            return {}
        stmt = select(Lead).where(Lead.email.in_(emails), Lead.status != "converted")
        found: dict[str, Lead] = {}
        for lead in db.session.scalars(stmt.order_by(Lead.id)).unique():
            found.setdefault(lead.email or "", lead)
        return found

    def check(self, rows: Sequence[SourceRow], *, preview: bool = False) -> list[RowResult]:
        """What each row will do; writes nothing."""
        existing = self._existing(rows)
        return [self._check_row(row, existing) for row in rows]

    def _check_row(self, row: SourceRow, existing: dict[str, Lead]) -> RowResult:
        data = {k: v for k, v in row.values.items() if k in FIELDS}
        errors: dict[str, str] = {}
        owner = None
        try:
            owner = self._owner(data.pop("owner_id", ""))
        except ValueError as exc:
            errors["owner_id"] = str(exc)
        try:
            values = check_lead(data, sources=self.sources)
        except ValidationFailed as exc:
            errors.update(exc.errors)
        if errors:
            return RowResult(row.line, "reject", errors=errors, shown=dict(row.values))
        email = values.get("email")
        if email and email in self.seen:
            message = _("Same as line %(line)d.", line=self.seen[email])
            return RowResult(row.line, "reject", errors={"email": message}, shown=dict(row.values))
        if email:
            self.seen[email] = row.line
        if owner is not None:
            values["owner_id"] = owner
        match = existing.get(email or "")
        if match is not None and self.dedupe == "skip":
            return RowResult(row.line, "skip", shown=dict(row.values))
        if match is not None and self.dedupe == "update":
            changes = {k: v for k, v in values.items() if v not in (None, "")}
            return RowResult(row.line, "update", shown=dict(row.values), payload=(match, changes))
        return RowResult(row.line, "create", shown=dict(row.values), payload=(None, values))

    def write(self, results: Sequence[RowResult]) -> None:
        """Write the rows to create or update."""
        for result in results:
            if result.action == "create":
                values = result.payload[1]
                add_lead(
                    values,
                    actor=self.actor,
                    via="import",
                    assign="owner_id" not in values,
                    rules=self.rules,
                )
            elif result.action == "update":
                lead, changes = result.payload
                try:
                    update_lead(lead, changes, actor=self.actor)
                except ValidationFailed as exc:
                    result.action, result.errors = "reject", dict(exc.errors)


def import_one(values: dict[str, Any]) -> Lead:
    """Import one row (``import_row``); raises ``ValidationFailed``."""
    importer = LeadImporter(dedupe="create")
    (result,) = importer.check([SourceRow(0, [], {k: str(v) for k, v in values.items()})])
    if result.action == "reject":
        raise ValidationFailed(result.errors)
    importer.write([result])
    return result


def import_targets() -> list[ImportTarget]:
    """The ``leads`` target."""
    return [
        ImportTarget(
            key="leads",
            label=str(_l("Leads")),
            fields=FIELDS,
            import_row=import_one,
            required=("name",),
            aliases=ALIASES,
            permission="sfa.write",
            dedupe_fields=("email",),
            batch=LeadImporter,
        )
    ]
