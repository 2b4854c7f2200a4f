"""Finding connectors (the ``erp_connectors`` hook) and a connection's effective objects
(the connector's objects with the tenant's mapping overrides applied)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import db, is_sealed, unseal

from .connector import CRM_FIELDS, DIRECTIONS, POLICIES, Connector, FieldMap, SyncObject
from .models import Connection, ObjectMapping

#: Order in which objects are pulled: what others refer to first.
#: The purpose a connection's secret settings are sealed for (``crm_platform.sdk.seal``).
CREDENTIALS = "erp"
KIND_ORDER = ("account", "contact", "product", "order", "invoice", "stock", "quote")
#: CRM fields that hold the external id of another object, and the kind they refer to.
REF_FIELDS: dict[str, dict[str, str]] = {
    "contact": {"account": "account"},
    "order": {"account": "account", "contact": "contact"},
    "invoice": {"account": "account", "order": "order"},
    "stock": {"product": "product"},
    "quote": {"account": "account"},
}


def connectors() -> dict[str, Connector]:
    """Every installed connector by key (from every plugin's ``erp_connectors``)."""
    pm = current_app.extensions.get("erp_plugin_manager")
    found: dict[str, Connector] = {}
    if pm is None:
        return found
    for answer in pm.hook.erp_connectors():
        for connector in answer or []:
            found.setdefault(connector.key, connector)
    return found


def get_connector(key: str) -> Connector | None:
    """The connector ``key``, or ``None`` when no installed plugin provides it."""
    return connectors().get(key)


@dataclass(frozen=True)
class EffectiveObject:
    """A connector object as this connection syncs it."""

    key: str
    label: str
    crm_kind: str
    direction: str
    fields: tuple[FieldMap, ...]
    enabled: bool
    overridden: bool
    default: SyncObject

    @property
    def pulls(self) -> bool:
        """True when records come in from the ERP."""
        return self.enabled and self.direction in ("in", "both")

    @property
    def pushes(self) -> bool:
        """True when CRM records go out to the ERP."""
        return self.enabled and self.direction in ("out", "both")

    def fingerprint(self) -> str:
        """A short hash of the mapping (a changed mapping re-applies every record)."""
        raw = json.dumps([[f.external, f.crm, f.policy] for f in self.fields])
        return hashlib.sha256(raw.encode()).hexdigest()[:12]


def objects_of(connection: Connection, connector: Connector | None = None) -> list[EffectiveObject]:
    """The connection's objects in pull order, overrides applied."""
    connector = connector or get_connector(connection.connector_key)
    if connector is None:
        return []
    overrides = {
        m.object_key: m
        for m in db.session.scalars(
            select(ObjectMapping).where(ObjectMapping.connection_id == connection.id)
        )
    }
    out = []
    for obj in connector.objects:
        override = overrides.get(obj.key)
        if override is None:
            out.append(EffectiveObject(**_base(obj), enabled=True, overridden=False, default=obj))
            continue
        fields = tuple(
            FieldMap(f["external"], f["crm"], f.get("policy", "erp_wins")) for f in override.fields
        )
        out.append(
            EffectiveObject(
                key=obj.key,
                label=obj.label,
                crm_kind=obj.crm_kind,
                direction=override.direction,
                fields=fields,
                enabled=override.enabled,
                overridden=True,
                default=obj,
            )
        )
    order = {k: i for i, k in enumerate(KIND_ORDER)}
    return sorted(out, key=lambda o: order.get(o.crm_kind, 99))


def _base(obj: SyncObject) -> dict[str, Any]:
    return {
        "key": obj.key,
        "label": obj.label,
        "crm_kind": obj.crm_kind,
        "direction": obj.direction,
        "fields": obj.fields,
    }


def crm_fields_for(kind: str) -> tuple[str, ...]:
    """The CRM fields a mapping of ``kind`` may name (an order object that also sends won
    deals out may name the quotation's fields too)."""
    fields = CRM_FIELDS.get(kind, ())
    if kind == "order":
        fields = fields + tuple(f for f in CRM_FIELDS["quote"] if f not in fields)
    return fields


def check_mapping(obj: SyncObject, direction: str, fields: list[dict[str, str]]) -> dict[str, str]:
    """Errors of a mapping override (by form field name); empty when it is fine.

    Every CRM field must exist for the object's kind, every external field must be one the
    connector declares for the object, each CRM field is mapped at most once, the policy and
    direction must be known, and an object that only goes out cannot be turned around.
    """
    errors: dict[str, str] = {}
    if direction not in DIRECTIONS:
        errors["direction"] = _("Choose in, out or both.")
    elif obj.direction == "in" and direction != "in":
        errors["direction"] = _("This connector can only read this object from the ERP.")
    elif obj.direction == "out" and direction != "out":
        errors["direction"] = _("This connector can only send this object to the ERP.")
    known_external = {f.external for f in obj.fields}
    known_crm = set(crm_fields_for(obj.crm_kind))
    seen: dict[str, int] = {}
    for i, row in enumerate(fields):
        external, crm, policy = row.get("external", ""), row.get("crm", ""), row.get("policy", "")
        if external not in known_external:
            errors[f"fields.{i}.external"] = _(
                "The ERP has no field %(name)s here.", name=repr(external)
            )
        if crm not in known_crm:
            errors[f"fields.{i}.crm"] = _(
                "The CRM has no field %(name)s for this object.", name=repr(crm)
            )
        elif crm in seen:
            errors[f"fields.{i}.crm"] = _(
                "%(name)s is already mapped on row %(row)d.", name=repr(crm), row=seen[crm] + 1
            )
        else:
            seen[crm] = i
        if policy not in POLICIES:
            errors[f"fields.{i}.policy"] = _("Choose a conflict policy.")
    if not fields:
        errors["fields"] = _("Map at least one field.")
    return errors


def public_settings(connection: Connection, connector: Connector | None) -> dict[str, str]:
    """The connection's settings with secrets blanked (what forms and pages may show)."""
    secret = {s.name for s in connector.settings if s.secret} if connector else set()
    return {k: ("" if k in secret else v) for k, v in (connection.settings or {}).items()}


def runtime_settings(connection: Connection) -> dict[str, str]:
    """Settings handed to the connector: the stored ones (secrets unsealed: they are stored
    encrypted, see :data:`CREDENTIALS`) plus ``_connection_id`` and ``_tenant_id`` (framework
    keys start with an underscore)."""
    out = {
        str(k): str(unseal(v, purpose=CREDENTIALS) or "") if is_sealed(v) else str(v)
        for k, v in (connection.settings or {}).items()
    }
    out["_connection_id"] = str(connection.id)
    out["_tenant_id"] = str(connection.tenant_id)
    return out


def as_uuid(value: Any) -> uuid.UUID | None:
    """``value`` as a UUID, or ``None``."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None
