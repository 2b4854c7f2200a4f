"""The public API for plugin authors: import from here, and nothing else from the core.

Example::

    from crm_platform.sdk import hookimpl, TenantScoped, Base, require_permission
"""

from __future__ import annotations

import pluggy
from flask_login import current_user, login_required

from . import tenant_cache
from .access import (
    csrf_exempt,
    get_or_404,
    has_permission,
    public_tenant_view,
    require_permission,
)
from .api.errors import ApiError, api_error
from .api.helpers import api_blueprint, api_doc, api_page
from .api.helpers import json_body as api_json
from .audit import AuditEvent
from .audit import record as audit_record
from .auth.forms import INDUSTRY_LABELS
from .auth.views import sign_in
from .customers import LIFECYCLE_STAGES, SOURCES, Account, Contact
from .dataio.engine import RowResult, SourceRow
from .extensions import Base, db
from .identity import ROLE_LABELS, ROLES, Invitation, Membership, Tenant, User, role_allows
from .ids import parse_uuid, uuid7
from .jobs import enqueue_after_commit, frozen_heap, job, set_progress
from .mail import send_mail
from .migration_ops import (
    add_select_policy,
    grant_platform_table,
    same_tenant_fk,
    secure_tenant_table,
    tenant_id_fk,
)
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
from .order_service import create_order, delete_order, update_order
from .orders import ORDER_STATUSES, REVENUE_STATUSES, Order, OrderLine
from .passwords import password_problem
from .plugin_types import (
    ApiResource,
    AutomationAction,
    DashboardPeriod,
    DomainEvent,
    ImportTarget,
    ModuleDescriptor,
    NavItem,
    Panel,
    ReportField,
    ReportSource,
    Schedule,
    SearchResult,
    TenantPolicy,
    TimelineEntry,
    Widget,
)
from .plugins import collect as collect_hook
from .policy import (
    TenantReadOnly,
    allowed_while_read_only,
    check_seats,
    forget_policy,
    tenant_policy,
)
from .process_control import approval_hold, automation_actions, post_signed_json
from .provider.access import is_staff, require_staff
from .provider.actions import record_staff_action
from .provisioning import ValidationFailed, add_member, create_user, find_user, normalise_email
from .reauth import require_recent_auth
from .records.activities import ACTIVITY_KINDS, Activity
from .records.activities import KIND_LABELS as ACTIVITY_KIND_LABELS
from .records.activity_service import create_activity
from .records.custom_fields import create_field as create_custom_field
from .records.custom_fields import fields_of as custom_fields_of
from .records.duplicates import Match, matching_records
from .records.service import create_record, update_record
from .records.tags import RecordTag, tag_key
from .records.teams import Team, TeamMember, all_teams
from .records.validation import clean_choice, clean_date, clean_email, clean_text, normalise_phone
from .records.visibility import visible_clause
from .sealing import is_sealed, seal, unseal
from .security_headers import embeddable
from .tenancy import (
    NoTenantContext,
    TenantScoped,
    current_tenant,
    provider_scope,
    require_tenant,
    tenant_context,
    tenant_foreign_key,
    tenant_relationship,
    utcnow,
)
from .tenant_cache import watch as watch_for_cache
from .throttle import over_rate_limit
from .tokens import TokenError, make_token, read_token
from .two_factor import is_enabled as two_factor_enabled
from .usage import record_usage

hookimpl = pluggy.HookimplMarker("crm")

__all__ = [
    "AutomationAction",
    "approval_hold",
    "automation_actions",
    "post_signed_json",
    "DashboardPeriod",
    "is_staff",
    "provider_scope",
    "record_staff_action",
    "require_staff",
    "TenantPolicy",
    "TenantReadOnly",
    "allowed_while_read_only",
    "check_seats",
    "collect_hook",
    "forget_policy",
    "record_usage",
    "tenant_cache",
    "watch_for_cache",
    "tenant_policy",
    "ACTIVITY_KINDS",
    "ACTIVITY_KIND_LABELS",
    "Activity",
    "Match",
    "Team",
    "TeamMember",
    "all_teams",
    "clean_choice",
    "clean_date",
    "clean_email",
    "clean_text",
    "create_custom_field",
    "create_activity",
    "create_record",
    "update_record",
    "csrf_exempt",
    "matching_records",
    "normalise_phone",
    "over_rate_limit",
    "visible_clause",
    "ApiError",
    "api_blueprint",
    "api_doc",
    "api_error",
    "api_json",
    "api_page",
    "Account",
    "LIFECYCLE_STAGES",
    "SOURCES",
    "custom_fields_of",
    "RecordTag",
    "tag_key",
    "ORDER_STATUSES",
    "REVENUE_STATUSES",
    "Order",
    "OrderLine",
    "create_order",
    "delete_order",
    "update_order",
    "Contact",
    "ApiResource",
    "DomainEvent",
    "ImportTarget",
    "RowResult",
    "SourceRow",
    "ModuleDescriptor",
    "ModuleStatus",
    "Panel",
    "ReportField",
    "ReportSource",
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
    "same_tenant_fk",
    "save_module_settings",
    "secure_tenant_table",
    "tenant_id_fk",
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
    "require_recent_auth",
    "two_factor_enabled",
    "require_tenant",
    "role_allows",
    "send_mail",
    "set_progress",
    "is_sealed",
    "embeddable",
    "seal",
    "unseal",
    "frozen_heap",
    "tenant_context",
    "tenant_foreign_key",
    "tenant_relationship",
    "utcnow",
    "uuid7",
]
