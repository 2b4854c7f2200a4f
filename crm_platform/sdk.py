"""The public API for plugin authors: import from here, and nothing else from the core.

Example::

    from crm_platform.sdk import hookimpl, TenantScoped, Base, require_permission
"""

from __future__ import annotations

import pluggy
from flask_login import current_user, login_required

from .access import get_or_404, has_permission, public_tenant_view, require_permission
from .api.errors import ApiError, api_error
from .api.helpers import api_blueprint, api_doc, api_page
from .api.helpers import json_body as api_json
from .audit import AuditEvent
from .audit import record as audit_record
from .auth.forms import INDUSTRY_LABELS
from .auth.views import sign_in
from .customers import Account, Contact
from .dataio.engine import RowResult, SourceRow
from .extensions import Base, db
from .identity import ROLE_LABELS, ROLES, Invitation, Membership, Tenant, User, role_allows
from .ids import parse_uuid, uuid7
from .jobs import enqueue_after_commit, job, set_progress
from .mail import send_mail
from .migration_ops import add_select_policy, grant_platform_table, secure_tenant_table
from .modules import (
    ModuleStatus,
    disable_module,
    emit_event,
    enable_module,
    installed_modules,
    module_catalogue,
    module_enabled,
    module_settings,
    save_module_settings,
)
from .passwords import password_problem
from .plugin_types import (
    ApiResource,
    DomainEvent,
    ImportTarget,
    ModuleDescriptor,
    NavItem,
    Panel,
    Schedule,
    SearchResult,
    TimelineEntry,
    Widget,
)
from .provisioning import ValidationFailed, add_member, create_user, find_user, normalise_email
from .tenancy import (
    NoTenantContext,
    TenantScoped,
    current_tenant,
    require_tenant,
    tenant_context,
    tenant_foreign_key,
    tenant_relationship,
    utcnow,
)
from .tokens import TokenError, make_token, read_token

hookimpl = pluggy.HookimplMarker("crm")

__all__ = [
    "ApiError",
    "api_blueprint",
    "api_doc",
    "api_error",
    "api_json",
    "api_page",
    "Account",
    "Contact",
    "ApiResource",
    "DomainEvent",
    "ImportTarget",
    "RowResult",
    "SourceRow",
    "ModuleDescriptor",
    "ModuleStatus",
    "Panel",
    "Schedule",
    "SearchResult",
    "TimelineEntry",
    "Widget",
    "add_select_policy",
    "disable_module",
    "emit_event",
    "enable_module",
    "grant_platform_table",
    "installed_modules",
    "module_catalogue",
    "module_enabled",
    "module_settings",
    "save_module_settings",
    "secure_tenant_table",
    "AuditEvent",
    "INDUSTRY_LABELS",
    "Base",
    "Invitation",
    "Membership",
    "NavItem",
    "NoTenantContext",
    "ROLES",
    "ROLE_LABELS",
    "Tenant",
    "TenantScoped",
    "TokenError",
    "User",
    "ValidationFailed",
    "add_member",
    "create_user",
    "find_user",
    "parse_uuid",
    "password_problem",
    "sign_in",
    "audit_record",
    "current_tenant",
    "current_user",
    "db",
    "enqueue_after_commit",
    "get_or_404",
    "has_permission",
    "hookimpl",
    "job",
    "login_required",
    "make_token",
    "normalise_email",
    "public_tenant_view",
    "read_token",
    "require_permission",
    "require_tenant",
    "role_allows",
    "send_mail",
    "set_progress",
    "tenant_context",
    "tenant_foreign_key",
    "tenant_relationship",
    "utcnow",
    "uuid7",
]
