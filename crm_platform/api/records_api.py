"""``/api/v1/accounts`` and ``/api/v1/contacts``: list (filters, keyset pages), get, create,
update (PATCH) and delete (to the trash), all through the records service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, g, request, url_for
from flask_login import current_user

from ..access import require_permission
from ..extensions import db
from ..provisioning import ValidationFailed
from ..records.listing import BadCursor, custom_filter_names, list_page, parse_list_args
from ..records.service import create_record, delete_record, get_record, update_record
from .blueprint import bp
from .errors import validation_error
from .helpers import api_doc, bad_cursor, json_body, page_args
from .serialize import active_fields, api_fields, record_input, record_json, records_json

PLURAL = {"account": "accounts", "contact": "contacts"}
SCHEMA = {"account": "Account", "contact": "Contact"}
#: API query parameter -> the list pages' parameter.
FILTERS = {
    "q": "q",
    "lifecycle_stage": "stage",
    "owner": "owner",
    "tag": "tag",
    "region": "region",
    "team": "team",
    "email": "email",
    "email_prefix": "email_prefix",
    "name_prefix": "name_prefix",
    "updated_since": "updated_since",
}
EXTRA_FILTERS = {"account": {"industry": "industry"}, "contact": {"account": "account"}}
PAGING = ("limit", "cursor", "sort", "dir")


def _filter_params(kind: str) -> list[dict[str, Any]]:
    descriptions = {
        "q": "Name, e-mail or phone contains this text (reads every record: at scale, prefer "
        "the filters below).",
        "email": "This exact e-mail address (any case).",
        "email_prefix": "E-mail addresses starting with this text.",
        "name_prefix": "Names starting with this text (first name first; case, width and "
        "punctuation ignored).",
        "updated_since": "Changed at or after this time (ISO 8601, UTC unless an offset is "
        "given), e.g. 2026-01-31T08:00:00Z; with sort=updated for syncing.",
        "account": "Contacts of this account id.",
        "lifecycle_stage": "prospect, lead, customer, loyal or churned.",
        "owner": "A member's user id, 'me' (the key's creator) or 'none'.",
        "tag": "Records with this tag.",
        "region": "Records of this region.",
        "team": "A team id.",
        "industry": "Accounts of this industry.",
        "sort": "name (default), stage, created, updated; accounts also industry, region.",
        "dir": "asc (default) or desc.",
    }
    names = [*FILTERS, *EXTRA_FILTERS[kind], "sort", "dir"]
    return [
        {
            "name": n,
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": descriptions[n],
        }
        for n in names
    ]


def _list(kind: str) -> Any:
    fields = active_fields(kind)
    limit, cursor = page_args()
    mapping = {**FILTERS, **EXTRA_FILTERS[kind]}
    custom_names = custom_filter_names(fields)
    errors: dict[str, str] = {}
    for name in request.args:
        if name not in mapping and name not in PAGING and name not in custom_names:
            errors[name] = "Unknown query parameter."
    args: dict[str, str] = {mapping[n]: request.args[n] for n in mapping if n in request.args}
    args.update({n: request.args[n] for n in custom_names if n in request.args})
    direction = request.args.get("dir", "asc")
    if direction not in ("asc", "desc"):
        errors["dir"] = "Use asc or desc."
    args.update(sort=request.args.get("sort", "name"), dir=direction, after=cursor)
    state, list_errors = parse_list_args(kind, args, fields)
    back = {v: k for k, v in mapping.items()}
    errors.update({back.get(k, k): str(v) for k, v in list_errors.items()})
    if errors:
        raise validation_error(errors, "Some query parameters are not valid.")
    try:
        page = list_page(state, g.membership, fields, size=limit, related=False)
    except BadCursor as exc:
        raise bad_cursor() from exc
    return {"data": records_json(kind, page.rows), "next_cursor": page.next_cursor}


def _get(kind: str, record_id: str) -> Any:
    return record_json(get_record(kind, record_id, g.membership))


def _create(kind: str) -> Any:
    data = record_input(kind, json_body())
    try:
        record = create_record(kind, data, actor=current_user, membership=g.membership)
    except ValidationFailed as exc:
        db.session.rollback()
        raise validation_error(api_fields(exc.errors)) from exc
    db.session.commit()
    location = url_for(f"api.{kind}_get", record_id=record.id)
    return record_json(record), 201, {"Location": location}


def _update(kind: str, record_id: str) -> Any:
    record = get_record(kind, record_id, g.membership)
    data = record_input(kind, json_body())
    try:
        update_record(record, data, actor=current_user, membership=g.membership)
    except ValidationFailed as exc:
        db.session.rollback()
        raise validation_error(api_fields(exc.errors)) from exc
    db.session.commit()
    return record_json(record)


def _delete(kind: str, record_id: str) -> Any:
    record = get_record(kind, record_id, g.membership)
    delete_record(record, actor=current_user)
    db.session.commit()
    return Response(status=204)


def _view(func: Callable[..., Any], name: str, doc: str, permission: str) -> Callable[..., Any]:
    func.__name__ = name
    func.__doc__ = doc
    return require_permission(permission)(func)


def _register(kind: str) -> None:
    plural, schema = PLURAL[kind], SCHEMA[kind]
    base = f"/{plural}"
    item = f"{base}/<record_id>"

    def list_view() -> Any:
        return _list(kind)

    def get_view(record_id: str) -> Any:
        return _get(kind, record_id)

    def create_view() -> Any:
        return _create(kind)

    def update_view(record_id: str) -> Any:
        return _update(kind, record_id)

    def delete_view(record_id: str) -> Any:
        return _delete(kind, record_id)

    custom = (
        f"Custom fields filter as cf_<key> (numbers and dates as cf_<key>_min / cf_<key>_max); "
        f"see GET /api/v1/custom-fields?entity={kind}."
    )
    views = [
        (
            base,
            "GET",
            list_view,
            f"{kind}_list",
            f"List {plural} (filters, keyset pages).",
            "records.read",
            api_doc(
                response_schema=schema,
                many=True,
                parameters=_filter_params(kind),
                description=custom,
            ),
        ),
        (
            base,
            "POST",
            create_view,
            f"{kind}_create",
            f"Create a {kind}.",
            "records.write",
            api_doc(request_schema=f"{schema}Input", response_schema=schema, status=201),
        ),
        (
            item,
            "GET",
            get_view,
            f"{kind}_get",
            f"Get one {kind}.",
            "records.read",
            api_doc(response_schema=schema),
        ),
        (
            item,
            "PATCH",
            update_view,
            f"{kind}_update",
            f"Change some fields of a {kind} (custom values merge by key; null clears).",
            "records.write",
            api_doc(request_schema=f"{schema}Patch", response_schema=schema),
        ),
        (
            item,
            "DELETE",
            delete_view,
            f"{kind}_delete",
            f"Move a {kind} to the trash.",
            "records.delete",
            api_doc(status=204),
        ),
    ]
    for rule, method, func, name, doc, permission, describe in views:
        view = describe(_view(func, name, doc, permission))
        bp.add_url_rule(rule, name, view, methods=[method])


for _kind in PLURAL:
    _register(_kind)
