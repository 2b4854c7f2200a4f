"""Per-tenant module switches: which modules a tenant has on, and switching them.

A module is a plugin that returns a ``ModuleDescriptor``. ``tenant_modules`` keeps one row per
tenant and module ever switched on; switching off flips ``enabled`` and keeps every row the
module wrote. Switching on checks the plan (``crm_module_allowed``) and the module's
dependencies, then runs the module's onboarding (``crm_module_enabled``) in the same
transaction, so a failing onboarding leaves the module off and nothing half-written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import g, has_app_context
from flask_babel import gettext as _
from sqlalchemy import JSON, Boolean, DateTime, String, UniqueConstraint, Uuid, select
from sqlalchemy.orm import Mapped, mapped_column

from . import audit
from .extensions import Base, db
from .plugin_types import DomainEvent, ModuleDescriptor
from .plugins import call_plugin_of_module, get_plugin_manager, module_registry, notify
from .provider.approvals import hidden_module_keys
from .provisioning import ValidationFailed
from .tenancy import TenantScoped, require_tenant, utcnow
from .tenant_cache import cached, watch


class TenantModule(TenantScoped, Base):
    """A module's switch and settings for one tenant."""

    __tablename__ = "tenant_modules"
    __table_args__ = (UniqueConstraint("tenant_id", "module_key"),)

    module_key: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    changed_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


watch(TenantModule)


@dataclass(frozen=True)
class ModuleStatus:
    """One line of a tenant's module catalogue."""

    descriptor: ModuleDescriptor
    enabled: bool
    allowed: bool
    missing: tuple[str, ...]  # required modules that are off
    dependents: tuple[str, ...]  # modules that are on and require this one


def _cache_key() -> str:
    return f"crm_modules_{require_tenant().id}"


def enabled_module_keys() -> frozenset[str]:
    """Keys of the modules the tenant in context has switched on (cached per request)."""
    key = _cache_key()
    if has_app_context() and key in g:
        return g.get(key)
    known = module_registry().descriptors

    def load() -> frozenset[str]:
        stmt = select(TenantModule.module_key).where(TenantModule.enabled.is_(True))
        return frozenset(db.session.scalars(stmt).all())

    keys = frozenset(k for k in cached(require_tenant().id, "modules", load) if k in known)
    if has_app_context():
        setattr(g, key, keys)
    return keys


def _forget_cache() -> None:
    if has_app_context():
        g.pop(_cache_key(), None)


def module_enabled(key: str) -> bool:
    """True when the tenant in context has module ``key`` on."""
    return key in enabled_module_keys()


def _allowed(tenant: Any, descriptor: ModuleDescriptor) -> bool:
    answers = get_plugin_manager().hook.crm_module_allowed(tenant=tenant, module=descriptor)
    return not any(answer is False for answer in answers)


def module_catalogue(tenant: Any) -> list[ModuleStatus]:
    """Every installed module with its state for ``tenant`` (the tenant in context)."""
    descriptors = module_registry().descriptors
    on = enabled_module_keys()
    hidden = hidden_module_keys()
    out = []
    for key, descriptor in sorted(descriptors.items(), key=lambda kv: kv[1].name.lower()):
        if key in hidden and key not in on:
            continue  # the provider hid it: not offered (tenants that have it on keep it)
        out.append(
            ModuleStatus(
                descriptor=descriptor,
                enabled=key in on,
                allowed=_allowed(tenant, descriptor),
                missing=tuple(r for r in descriptor.requires if r not in on),
                dependents=tuple(
                    k for k in sorted(on) if key in descriptors[k].requires and k != key
                ),
            )
        )
    return out


def installed_modules() -> dict[str, ModuleDescriptor]:
    """Every installed module's descriptor, by key."""
    return dict(module_registry().descriptors)


def _descriptor(key: str) -> ModuleDescriptor:
    descriptor = module_registry().descriptors.get(key)
    if descriptor is None:
        raise ValidationFailed({"module": _("There is no such module.")})
    return descriptor


def _row(key: str) -> TenantModule | None:
    return db.session.scalars(
        select(TenantModule).where(TenantModule.module_key == key)
    ).one_or_none()


def enable_module(tenant: Any, key: str, actor: Any = None) -> ModuleDescriptor:
    """Switch module ``key`` on for ``tenant`` and run its onboarding; caller commits.

    Raises ``ValidationFailed`` (field ``module``) when the module is unknown, hidden by the
    provider, not in the plan, or needs a module that is off.
    """
    descriptor = _descriptor(key)
    on = enabled_module_keys()
    if key in on:
        return descriptor
    if key in hidden_module_keys():
        raise ValidationFailed(
            {"module": _("%(name)s is not available on this platform.", name=descriptor.name)}
        )
    if not _allowed(tenant, descriptor):
        raise ValidationFailed(
            {
                "module": _(
                    "%(name)s is not included in your plan: upgrade on the billing page to "
                    "switch it on.",
                    name=descriptor.name,
                )
            }
        )
    names = module_registry().descriptors
    missing = [names[r].name for r in descriptor.requires if r not in on]
    if missing:
        raise ValidationFailed(
            {
                "module": _(
                    "Switch on %(missing)s first: %(name)s needs it.",
                    missing=", ".join(missing),
                    name=descriptor.name,
                )
            }
        )
    row = _row(key)
    actor_id = getattr(actor, "id", None)
    if row is None:
        row = TenantModule(module_key=key, enabled=True, settings={}, changed_by_id=actor_id)
        db.session.add(row)
    else:
        row.enabled, row.changed_at, row.changed_by_id = True, utcnow(), actor_id
    db.session.flush()
    _forget_cache()
    call_plugin_of_module(key, "crm_module_enabled", tenant=tenant, module=descriptor)
    audit.record("module.enabled", target=key, actor=actor, details={"version": descriptor.version})
    emit_event("module.enabled", data={"module": key}, actor=actor)
    return descriptor


def disable_module(tenant: Any, key: str, actor: Any = None) -> ModuleDescriptor:
    """Switch module ``key`` off for ``tenant``, keeping its data; caller commits.

    Raises ``ValidationFailed`` when another module that is on requires it.
    """
    descriptor = _descriptor(key)
    on = enabled_module_keys()
    if key not in on:
        return descriptor
    names = module_registry().descriptors
    dependents = [names[k].name for k in sorted(on) if key in names[k].requires]
    if dependents:
        raise ValidationFailed(
            {
                "module": _(
                    "%(dependents)s needs %(name)s: switch it off first.",
                    dependents=", ".join(dependents),
                    name=descriptor.name,
                )
            }
        )
    row = _row(key)
    assert row is not None
    row.enabled, row.changed_at, row.changed_by_id = False, utcnow(), getattr(actor, "id", None)
    db.session.flush()
    emit_event("module.disabled", data={"module": key}, actor=actor)
    _forget_cache()
    call_plugin_of_module(key, "crm_module_disabled", tenant=tenant, module=descriptor)
    audit.record("module.disabled", target=key, actor=actor)
    return descriptor


def enable_default_modules(tenant: Any) -> None:
    """Switch on the modules marked ``default_on`` (new tenants, hidden ones left out);
    caller commits."""
    hidden = hidden_module_keys()
    for key, descriptor in module_registry().descriptors.items():
        if descriptor.default_on and key not in hidden and _allowed(tenant, descriptor):
            enable_module(tenant, key)


def module_settings(key: str) -> dict[str, Any]:
    """The tenant's settings of module ``key`` (empty when never switched on)."""
    row = _row(key)
    return dict(row.settings) if row else {}


def save_module_settings(key: str, settings: dict[str, Any]) -> None:
    """Replace the tenant's settings of module ``key``; caller commits."""
    row = _row(key)
    if row is None:
        raise ValidationFailed({"module": _("Switch the module on first.")})
    row.settings = dict(settings)


def emit_event(
    name: str,
    record_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
    actor: Any = None,
) -> DomainEvent:
    """Tell the tenant's active plugins that ``name`` happened (``crm_event``)."""
    event = DomainEvent(
        name=name,
        tenant_id=require_tenant().id,
        record_id=record_id,
        data=dict(data or {}),
        actor_id=getattr(actor, "id", None),
    )
    notify("crm_event", event=event)
    return event
