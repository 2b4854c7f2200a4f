"""The core's import targets, accounts and contacts, with a fast batch importer.

Every row goes through the records service's own validation (:func:`check_values`, given a
:class:`CheckContext` so it runs no query per row). Per chunk of rows there is one query for
the accounts that contacts name, one for existing records that match (dedupe), then one bulk
``INSERT`` of the new records (and one of their tags); updated records go through the ORM.

Friendly input: the owner may be given as a member's e-mail, the team and (for contacts) the
account by name; stage, size and source by their value or their label in any language; a
multiple-choice custom field as ``a, b``. New records without an owner get the importer;
without a source, ``import``.

Dedupe: contacts match on e-mail, accounts on name (compared like duplicate detection:
case-, width- and punctuation-blind) or website (scheme and ``www.`` ignored), among the live
records the importer may see. A row matching an earlier row of the same file is rejected.
Bulk imports emit no ``<kind>.created`` events: the import emits one ``<target>.imported``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import lru_cache, partial
from operator import itemgetter
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from ..customers import LIFECYCLE_STAGES, RECORD_MODELS, SIZES, SOURCES, Account, name_key
from ..extensions import db
from ..identity import Membership, User
from ..ids import parse_uuid, uuid7s
from ..plugin_types import ImportTarget
from ..policy import record_limit_problem
from ..provisioning import ValidationFailed
from ..records.custom_fields import ENTITY_LABELS
from ..records.labels import SIZE_LABELS, SOURCE_LABELS, STAGE_LABELS
from ..records.listing import one_of
from ..records.service import (
    FIELDS,
    check_context,
    check_many,
    check_values,
    record_count,
    record_label,
)
from ..records.tags import RecordTag, tag_key
from ..records.teams import Team
from ..records.validation import clean_email
from ..records.visibility import live_and_visible
from ..tenancy import require_tenant, utcnow
from .bulk import BulkWriter, default_plans, prefer_generic_plans
from .engine import ImportProblem, RowResult, SourceRow
from .mapping import header_key

TARGET_KEYS = {"account": "accounts", "contact": "contacts"}
KINDS = {v: k for k, v in TARGET_KEYS.items()}
DEDUPE_FIELDS = {"account": ("name", "website"), "contact": ("email",)}
REQUIRED = {"account": ("name",), "contact": ("first_name",)}
#: More header names that suggest a field (compared with :func:`header_key`).
ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "company",
        "company name",
        "account",
        "account name",
        "organisation",
        "organization",
        "公司",
        "公司名称",
        "客户名称",
        "企业名称",
    ),
    "first_name": ("first", "firstname", "given name", "forename", "名"),
    "last_name": ("last", "lastname", "surname", "family name", "姓", "姓氏"),
    "email": (
        "email",
        "e-mail address",
        "email address",
        "mail",
        "邮箱",
        "电子邮件",
        "电子邮箱",
        "邮件",
    ),
    "phone": (
        "telephone",
        "tel",
        "mobile",
        "phone number",
        "cell",
        "电话",
        "手机",
        "手机号",
        "联系电话",
    ),
    "title": ("title", "position", "job", "职位", "职务"),
    "account_id": (
        "account",
        "company",
        "company name",
        "organisation",
        "organization",
        "公司",
        "客户",
        "公司名称",
    ),
    "owner_id": ("owner", "owner e-mail", "account owner", "负责人"),
    "team_id": ("team", "团队"),
    "lifecycle_stage": ("stage", "status", "lifecycle", "阶段"),
    "website": ("web", "url", "homepage", "site", "网站", "网址"),
    "industry": ("sector", "行业"),
    "region": ("city", "province", "state", "area", "地区", "城市", "省份"),
    "address": ("street", "地址"),
    "tags": ("tag", "labels", "标签"),
    "notes": ("note", "comments", "description", "备注"),
    "source": ("lead source", "来源"),
    "size": ("employees", "company size", "规模"),
    "birthday": ("date of birth", "birth date", "dob", "生日"),
}
_MULTI_SPLIT = re.compile(r"[,;，；、]")
#: Names and tags repeat across the rows of a file: normalise each once.
_name_key = lru_cache(maxsize=1 << 16)(name_key)
_tag_key = lru_cache(maxsize=1 << 12)(tag_key)
#: An account name of the file that no account has.
_NO_ACCOUNT = object()
_TAG_COLUMNS = ("tenant_id", "id", "kind", "record_id", "tag")
#: The columns of a new record's table row that _build works out itself, in this order.
_BUILT_COLUMNS = ("tenant_id", "id", "custom", "tags", "created_at", "updated_at", "name_key")


def _cells_of(names: Sequence[str]) -> Any:
    """A function of a dict returning the tuple of its values of ``names``, at C speed."""
    if len(names) > 1:
        return itemgetter(*names)
    if names:
        name = names[0]
        return lambda values: (values[name],)
    return lambda values: ()


def _try(clean: Any, raw: Any) -> tuple[bool, Any]:
    try:
        return True, clean(raw)
    except ValueError:
        return False, None


def _label_variants(labels: dict[str, Any]) -> dict[str, list[str]]:
    """Each label in every language of the UI, by key."""
    out: dict[str, list[str]] = {k: [] for k in labels}
    for code in current_app.config.get("LANGUAGES", ["en"]):
        with force_locale(code):
            for key, label in labels.items():
                out[key].append(str(label))
    return out


def _choice_map(values: Sequence[str], labels: dict[str, Any]) -> dict[str, str]:
    out = {header_key(v): v for v in values}
    for value, variants in _label_variants({v: labels[v] for v in values if v in labels}).items():
        for variant in variants:
            out.setdefault(header_key(variant), value)
    return out


def import_fields(kind: str) -> tuple[dict[str, str], dict[str, tuple[str, ...]], list[Any]]:
    """Fields by name with their labels, aliases (labels in every language) and custom fields."""
    from ..records.custom_fields import fields_of

    specs = FIELDS[kind]
    custom = fields_of(kind)
    fields = {spec.name: str(spec.label) for spec in specs}
    fields.update({f"cf_{f.key}": f.label for f in custom})
    variants = _label_variants({spec.name: spec.label for spec in specs})
    aliases = {name: tuple(variants.get(name, [])) + ALIASES.get(name, ()) for name in fields}
    return fields, aliases, custom


def core_targets() -> list[ImportTarget]:
    """The accounts and contacts targets of the tenant in context."""
    out = []
    for kind in ("account", "contact"):
        fields, aliases, custom = import_fields(kind)
        required = REQUIRED[kind] + tuple(
            f"cf_{f.key}" for f in custom if f.required and f.type != "checkbox"
        )
        out.append(
            ImportTarget(
                key=TARGET_KEYS[kind],
                label=str(ENTITY_LABELS[kind]),
                fields=fields,
                import_row=partial(import_one, kind),
                required=required,
                aliases=aliases,
                permission="records.write",
                dedupe_fields=DEDUPE_FIELDS[kind],
                batch=partial(RecordImporter, kind),
            )
        )
    return out


def import_one(kind: str, values: dict[str, Any]) -> Any:
    """Import one row (``import_row`` of the core targets); returns the new record's id."""
    importer = RecordImporter(kind, dedupe="create")
    (result,) = importer.check([SourceRow(0, [], {k: str(v) for k, v in values.items()})])
    if result.action == "reject":
        raise ValidationFailed(result.errors)
    importer.write([result])
    importer.close()
    return result.payload[2]


def website_host(value: Any) -> str | None:
    """A web address reduced to its host for matching (no scheme, ``www.`` or path)."""
    text = str(value or "").strip().lower()
    if not text:
        return None
    text = re.sub(r"^[a-z]+://", "", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if text.startswith("www."):
        text = text[4:]
    return text or None


def _host_variants(host: str) -> list[str]:
    return [
        f"{scheme}{www}{host}{slash}"
        for scheme in ("https://", "http://")
        for www in ("", "www.")
        for slash in ("", "/")
    ]


@dataclass(frozen=True, slots=True)
class FieldCopy:
    """What validating a value of a custom field reads of its definition (a plain copy)."""

    key: str
    type: str
    label: str
    required: bool
    choices: tuple[str, ...]

    @classmethod
    def of(cls, field: Any) -> FieldCopy:
        """A copy of ``field`` (a :class:`~crm_platform.records.custom_fields.CustomField`)."""
        return cls(field.key, field.type, field.label, field.required, tuple(field.choices or ()))

    @property
    def form_name(self) -> str:
        """``cf_<key>``, as the field's own."""
        return f"cf_{self.key}"


class RecordImporter:
    """The batch importer of accounts or contacts (see the module docstring)."""

    checks_before_writing = True

    def __init__(
        self, kind: str, *, dedupe: str = "skip", membership: Any = None, actor: Any = None
    ) -> None:
        self.kind = kind
        self.model = RECORD_MODELS[kind]
        self.dedupe = dedupe
        self.membership = membership
        self.context = check_context(kind)
        # Plain copies of the field definitions: check_values reads them for every row.
        self.context.custom_fields = [FieldCopy.of(f) for f in self.context.custom_fields]
        self.custom = {f.form_name: f for f in self.context.custom_fields}
        rows = db.session.execute(
            select(Membership.user_id, User.email).join(User, User.id == Membership.user_id)
        )
        self.members = {email.lower(): uid for uid, email in rows}
        self.teams = {
            name_key(name): tid for tid, name in db.session.execute(select(Team.id, Team.name))
        }
        self.choices = {
            "lifecycle_stage": _choice_map(LIFECYCLE_STAGES, STAGE_LABELS),
            "size": _choice_map(SIZES, SIZE_LABELS),
            "source": _choice_map(SOURCES, SOURCE_LABELS),
        }
        actor_id = getattr(actor, "id", None)
        self.default_owner = actor_id if actor_id in self.context.member_ids else None
        self.tenant_id = require_tenant().id
        prefer_generic_plans()
        self.writer = BulkWriter()
        self.writer.generic_plans = True
        self.seen: dict[str, int] = {}
        self.columns = [c.key for c in self.model.__table__.columns]
        self.position = {name: i for i, name in enumerate(self.columns)}
        #: Account references of the file (as written) → the account id, or _NO_ACCOUNT.
        self.account_refs: dict[str, Any] = {}
        self.known_choices: dict[tuple[str, str], str] = {}
        self.plans: dict[tuple[str, ...], Any] = {}
        #: check_values' outcomes by field and raw value (see its ``memo``).
        self.memo: dict[Any, Any] = {}
        self.encoded: dict[Any, Any] = {}
        #: _layout's outcome by the fields of checked values; _tagged's by tag list.
        self.layouts: dict[tuple[str, ...], Any] = {}
        self.tag_lists: dict[tuple[str, ...], tuple[Any, tuple[str, ...]]] = {}
        self._no_tags = self.writer.json([])

    # ------------------------------------------------------------------ preparing rows

    def _prepare(self, values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        """Raw cells → data for ``check_values``, and errors found on the way."""
        standard, custom_fields, choices = self._plan(values)
        data: dict[str, Any] = {name: values[name] for name in standard}
        custom: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, f in custom_fields:
            raw = values[name]
            custom[f.key] = _MULTI_SPLIT.split(raw) if (f.type == "multi_choice" and raw) else raw
        for name in choices:
            raw = data[name]
            if raw:
                data[name] = self._choice(name, raw)
        tags = data.get("tags")
        if tags:
            # One string (the records service splits it at commas), so its check is memoised.
            data["tags"] = _MULTI_SPLIT.sub(",", tags)
        owner = data.get("owner_id")
        if owner:
            # A member's e-mail address (members' addresses have an @, ids do not) or an id.
            found = self.members.get(owner.lower())
            if found is not None:
                data["owner_id"] = found
            elif parse_uuid(owner) is None:
                errors["owner_id"] = _("No member has the e-mail address “%(email)s”.", email=owner)
                data["owner_id"] = None
        team = data.get("team_id")
        if team and parse_uuid(team) is None:
            found = self.teams.get(_name_key(team))
            if found is None:
                errors["team_id"] = _("No team is called “%(name)s”.", name=team)
            data["team_id"] = found
        data["custom"] = custom
        return data, errors

    def _plan(self, values: dict[str, str]) -> tuple[list[str], list[tuple[str, Any]], list[str]]:
        """How to read rows with these fields: standard fields, custom fields, choice fields
        (worked out once per set of mapped fields, which every row of a file shares)."""
        names = tuple(values)
        plan = self.plans.get(names)
        if plan is None:
            standard = [n for n in names if not n.startswith("cf_")]
            custom = [(n, self.custom[n]) for n in names if n in self.custom]
            choices = [n for n in standard if n in self.choices]
            plan = self.plans[names] = (standard, custom, choices)
        return plan

    def _choice(self, name: str, raw: str) -> str:
        """A stage, size or source given by value or label, as its value (else as given)."""
        key = (name, raw)
        value = self.known_choices.get(key)
        if value is None:
            value = self.known_choices[key] = self.choices[name].get(header_key(raw), raw)
        return value

    def _resolve_accounts(self, prepared: list[tuple[dict[str, Any], dict[str, str]]]) -> None:
        """Contacts' accounts given by id or name → ids (each reference looked up once)."""
        refs = {d["account_id"] for d, _e in prepared if d.get("account_id")}
        new = refs - self.account_refs.keys()
        if new:
            self._look_up_accounts(new)
        for data, errors in prepared:
            ref = data.get("account_id")
            if not ref:
                continue
            aid = self.account_refs[ref]
            if aid is _NO_ACCOUNT:
                errors["account_id"] = _("No account is called “%(name)s”.", name=ref)
                aid = None
            data["account_id"] = aid

    def _look_up_accounts(self, refs: set[str]) -> None:
        ids = {u for u in (parse_uuid(r) for r in refs) if u is not None}
        names = {_name_key(r) for r in refs if parse_uuid(r) is None} - {""}
        stmt = (
            select(Account.id, Account.name_key)
            .where(
                *live_and_visible(Account, self.membership),
                or_(one_of(Account.id, ids), one_of(Account.name_key, names)),
            )
            .order_by(Account.id)
        )
        self.writer.wait()
        by_name: dict[str, uuid.UUID] = {}
        for aid, key in db.session.execute(stmt):
            self.context.account_ids.add(aid)
            by_name.setdefault(key, aid)
        for ref in refs:
            # An id stays an id (check_values says whether it is an account the member sees).
            aid = parse_uuid(ref) or by_name.get(_name_key(ref))
            self.account_refs[ref] = aid if aid is not None else _NO_ACCOUNT

    # ------------------------------------------------------------------ dedupe

    def _keys(self, data: dict[str, Any]) -> list[str]:
        """The row's dedupe keys."""
        if self.kind == "contact":
            raw = data.get("email")
            # Checked already (check_values' memo); clean_email otherwise.
            ok, email = self.memo.get(("email", raw)) or _try(clean_email, raw)
            return [f"e:{email}"] if ok and email else []
        keys = []
        nk = name_key(data.get("name"))
        if nk:
            keys.append(f"n:{nk}")
        host = website_host(data.get("website"))
        if host:
            keys.append(f"w:{host}")
        return keys

    def _existing(self, all_keys: list[list[str]]) -> Future[dict[str, Any]]:
        """Live, visible records matching any of the keys (one query), by key: beside the
        write in flight (``skip``: :meth:`~.bulk.BulkWriter.read`) or queued after it
        (``update``: :meth:`~.bulk.BulkWriter.query`)."""
        flat = {k for keys in all_keys for k in keys}
        if not flat or self.dedupe == "create":
            return self.writer.query(dict)
        model = self.model
        wanted: Any = model if self.dedupe == "update" else model.id
        if self.kind == "contact":
            emails = [k[2:] for k in flat]
            columns = (model.email,)
            where: Any = one_of(model.email, emails)
        else:
            names = [k[2:] for k in flat if k.startswith("n:")]
            hosts = [k[2:] for k in flat if k.startswith("w:")]
            variants = [v for h in hosts for v in _host_variants(h)]
            where = or_(one_of(model.name_key, names), one_of(func.lower(model.website), variants))
            columns = (model.name_key, model.website)
        stmt = (
            select(wanted, *columns)
            .where(*live_and_visible(model, self.membership), where)
            .order_by(model.id)
        )
        contact = self.kind == "contact"

        def run(session: Any) -> dict[str, Any]:
            matches: dict[str, Any] = {}
            for row in session.execute(stmt):
                found = row[0]
                if contact:
                    matches.setdefault(f"e:{row[1]}", found)
                else:
                    matches.setdefault(f"n:{row[1]}", found)
                    host = website_host(row[2])
                    if host:
                        matches.setdefault(f"w:{host}", found)
            return matches

        if self.dedupe == "skip":
            # Only ids: no need to wait for the writes queued before (see BulkWriter.read);
            # the records this import wrote are in self.seen.
            return self.writer.read(run)
        # "update" loads the records to change into the import's own session.
        return self.writer.query(lambda: run(db.session))

    # ------------------------------------------------------------------ the protocol

    def check(self, rows: Sequence[SourceRow], *, preview: bool = False) -> list[RowResult]:
        """What each row will do; no writes (see :class:`~.engine.BatchImporter`)."""
        prepared = [self._prepare(r.values) for r in rows]
        if self.kind == "contact":
            self._resolve_accounts(prepared)
        # Every row is validated as a new record (no query) while the database writes the
        # previous chunk; the dedupe lookup runs while the table rows are built.
        checked = self._validate_all([data for data, _e in prepared])
        keys = [self._keys(data) for data, _e in prepared]
        lookup = self._existing(keys)
        if not preview:
            self._build(checked)
        existing = lookup.result()
        out = []
        seen = self.seen
        for row, (data, errors), valid, row_keys in zip(rows, prepared, checked, keys, strict=True):
            if not (errors or preview) and valid.__class__ is tuple:
                for key in row_keys:
                    if key in seen or key in existing:
                        break
                else:
                    # The common case: a valid new record (what _check_row would say).
                    for key in row_keys:
                        seen[key] = row.line
                    out.append(RowResult(row.line, "create", payload=valid))
                    continue
            result = self._check_row(row, data, errors, row_keys, existing, valid)
            if result.action != "reject":
                for key in row_keys:
                    seen.setdefault(key, row.line)
            if preview:
                result.shown = self._shown(row, result)
            out.append(result)
        return out

    def _validate_all(self, rows: list[dict[str, Any]]) -> list[Any]:
        """:meth:`_validate` of every row, a field at a time (``check_many``)."""
        out = check_many(self.kind, rows, context=self.context, memo=self.memo)
        owner = self.default_owner
        for checked in out:
            if isinstance(checked, tuple):
                values = checked[0]
                if values.get("owner_id") is None:
                    values["owner_id"] = owner
                if values.get("source") is None:
                    values["source"] = "import"
        return out

    def _build(self, checked: list[Any]) -> None:
        """The table rows (and tag rows) of every row that is valid as a new record, made
        while the database still works on the previous chunk; :meth:`write` sends the ones
        created. Each valid ``(values, custom)`` gets them appended:
        ``(..., id, row, tags, columns)``, the row's cells in the order of ``columns``.
        """
        valid = [i for i, c in enumerate(checked) if isinstance(c, tuple)]
        now = utcnow()
        tenant_id, kind = self.tenant_id, self.kind
        encode, tagged = self._encode, self._tagged
        ids = uuid7s(len(valid))
        for i, rid in zip(valid, ids, strict=True):
            values, custom = checked[i]
            columns, pick, nones = self._layout(values)
            tags_json, tag_keys = tagged(values.get("tags"))
            if kind == "contact":
                key = _name_key(values.get("first_name"), values.get("last_name"))
            else:
                key = _name_key(values.get("name"))
            # The cells in the order of _layout's columns: these first, then the values'.
            row = (tenant_id, rid, encode(custom), tags_json, now, now, key, *pick(values), *nones)
            tags = [(tenant_id, kind, rid, t) for t in tag_keys] if tag_keys else []
            checked[i] = (values, custom, rid, row, tags, columns)

    def _layout(self, values: dict[str, Any]) -> tuple[tuple[str, ...], Any, tuple[None, ...]]:
        """The columns of the table rows that :meth:`_build` makes of checked ``values``, the
        getter of the values' own cells and the empty cells of the other columns (worked out
        once per set of fields)."""
        names = tuple(values)
        layout = self.layouts.get(names)
        if layout is None:
            own = [n for n in names if n in self.position and n not in _BUILT_COLUMNS]
            rest = [c for c in self.columns if c not in _BUILT_COLUMNS and c not in own]
            layout = self.layouts[names] = (
                (*_BUILT_COLUMNS, *own, *rest),
                _cells_of(own),
                (None,) * len(rest),
            )
        return layout

    def _tagged(self, tags: Any) -> tuple[Any, tuple[str, ...]]:
        """A row's tags as the JSON of the ``tags`` column and the keys of its tag rows (a
        file's tag lists repeat: each distinct one is worked out once)."""
        if not tags:
            return self._no_tags, ()
        key = tuple(tags)
        out = self.tag_lists.get(key)
        if out is None:
            keys = tuple(t for t in dict.fromkeys(map(_tag_key, tags)) if t)
            out = self.tag_lists[key] = (self.writer.json(list(tags)), keys)
        return out

    def _encode(self, value: Any) -> Any:
        """A JSON value for the writer; the custom values and tags of a file repeat, so each
        distinct one is encoded once."""
        try:
            key = (value.__class__, tuple(value.items() if isinstance(value, dict) else value))
            return self.encoded[key]
        except TypeError:  # a list among the values
            return self.writer.json(value)
        except KeyError:
            out = self.encoded[key] = self.writer.json(value)
            return out

    def _check_row(
        self,
        row: SourceRow,
        data: dict[str, Any],
        errors: dict[str, str],
        keys: list[str],
        existing: dict[str, Any],
        checked: Any,
    ) -> RowResult:
        for key in keys:
            if key in self.seen:
                name = {"e": "email", "n": "name", "w": "website"}[key[0]]
                errors.setdefault(name, _("Same as line %(line)d.", line=self.seen[key]))
        if errors:
            # Report every problem of the row at once, not only the first ones found.
            if isinstance(checked, dict):
                errors = {**checked, **errors}
            return RowResult(row.line, "reject", errors=errors)
        match = next((existing[k] for k in keys if k in existing), None)
        if match is not None and self.dedupe == "skip":
            return RowResult(row.line, "skip")
        if match is not None and self.dedupe == "update":
            changes = {k: v for k, v in data.items() if k != "custom" and v not in (None, "")}
            changes["custom"] = {k: v for k, v in data["custom"].items() if v not in ("", [])}
            try:
                values, custom = check_values(
                    self.kind, changes, record=match, context=self.context, memo=self.memo
                )
            except ValidationFailed as exc:
                return RowResult(row.line, "reject", errors=dict(exc.errors))
            return RowResult(row.line, "update", payload=(values, custom, match))
        if isinstance(checked, dict):
            return RowResult(row.line, "reject", errors=dict(checked))
        # (values, custom), or after _build (values, custom, id, table row, tag rows)
        return RowResult(row.line, "create", payload=checked)

    def _shown(self, row: SourceRow, result: RowResult) -> dict[str, Any]:
        """The row's values as they will be stored (for the preview)."""
        if result.action not in ("create", "update"):
            return dict(row.values)
        values, custom = result.payload[:2]
        shown: dict[str, Any] = {}
        for name, raw in row.values.items():
            if name in ("owner_id", "team_id", "account_id"):
                shown[name] = raw
            elif name.startswith("cf_"):
                value = custom.get(name[3:])
                shown[name] = ", ".join(map(str, value)) if isinstance(value, list) else value
            else:
                value = values.get(name, raw)
                shown[name] = ", ".join(value) if isinstance(value, list) else value
        return shown

    def write(self, results: Sequence[RowResult]) -> None:
        """Insert the new records in bulk (in the background on PostgreSQL: see
        :class:`~.bulk.BulkWriter`), apply updates; nothing is committed here."""
        created = [r for r in results if r.action == "create"]
        updated = [r for r in results if r.action == "update"]
        if updated:
            self.writer.wait()
            now = utcnow()
            for result in updated:
                values, custom, record = result.payload
                self._apply(record, values, custom, now)
            db.session.flush()
        if not created:
            return
        if len(created[0].payload) == 2:  # checked for a preview, then written
            payloads = [r.payload for r in created]
            self._build(payloads)
            for result, payload in zip(created, payloads, strict=True):
                result.payload = payload
        limit = record_limit_problem(
            TARGET_KEYS[self.kind],
            self._count,
            adding=len(created),
            label=record_label(self.kind),
        )
        if limit:
            raise ImportProblem(limit)
        by_columns: dict[tuple[str, ...], list[tuple]] = {}
        for result in created:
            by_columns.setdefault(result.payload[5], []).append(result.payload[3])
        tags = [t for r in created for t in r.payload[4]]
        tag_rows = [
            (t, i, k, r, g) for i, (t, k, r, g) in zip(uuid7s(len(tags)), tags, strict=True)
        ]
        table = self.model.__table__
        self.writer.write(
            [
                *((table, columns, rows) for columns, rows in by_columns.items()),
                (RecordTag.__table__, _TAG_COLUMNS, tag_rows),
            ]
        )

    def _count(self) -> int:
        """The tenant's records of this kind, the ones being written included."""
        self.writer.wait()
        return record_count(self.kind)

    def close(self, *, failed: bool = False) -> None:
        """Wait for the last write (see :class:`~.engine.BatchImporter`)."""
        self.writer.close(failed=failed)
        if not failed:
            default_plans()

    @staticmethod
    def _apply(record: Any, values: dict[str, Any], custom: dict[str, Any], now: Any) -> None:
        changed = False
        for name, value in values.items():
            if getattr(record, name) != value:
                setattr(record, name, value)
                changed = True
        if dict(record.custom or {}) != custom:
            record.custom = custom
            changed = True
        if changed:
            record.updated_at = now
