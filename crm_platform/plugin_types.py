"""The small value types plugins return from hooks (re-exported by ``crm_platform.sdk``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

_KEY = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


@dataclass(frozen=True)
class ModuleDescriptor:
    """What a switchable module is: returned by the ``crm_module`` hook.

    ``key`` is the module's stable identifier (lowercase, ``[a-z][a-z0-9_]+``); ``requires``
    names other modules' keys that must be on first; ``plan_feature`` is what a billing plan
    must include (defaults to ``key``); ``permissions`` maps each permission the module adds
    to the roles that hold it by default (owners hold every permission); ``default_on``
    switches the module on for new tenants; ``events`` names the domain events the module
    emits (name → label), which webhooks offer for subscription.
    """

    key: str
    name: str
    version: str = "0.1.0"
    description: str = ""
    requires: tuple[str, ...] = ()
    plan_feature: str | None = None
    permissions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_on: bool = False
    author: str = ""
    events: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _KEY.match(self.key):
            raise ValueError(f"module key {self.key!r} must match {_KEY.pattern}")
        object.__setattr__(self, "requires", tuple(self.requires))

    @property
    def feature(self) -> str:
        """The plan feature that allows this module."""
        return self.plan_feature or self.key


@dataclass(frozen=True)
class NavItem:
    """One entry of the workspace navigation.

    ``group="admin"`` puts it in the *Administration* menu (workspace settings, members,
    integrations), ``group="me"`` in the member's own menu (personal settings), instead of
    the bar of everyday pages.
    """

    label: str
    endpoint: str
    order: int = 100
    icon: str = ""
    group: str = ""


@dataclass(frozen=True)
class Panel:
    """A panel on a customer record page (``crm_record_panels``).

    ``html`` is already-rendered markup (use ``render_template``); or give ``url`` and the page
    loads the panel lazily with htmx. ``order`` sorts panels; ``title`` labels the tab.
    """

    title: str
    html: str = ""
    url: str = ""
    order: int = 100
    key: str = ""


@dataclass(frozen=True)
class TimelineEntry:
    """One dated line on a record's timeline (``crm_timeline_entries``)."""

    at: datetime
    title: str
    body: str = ""
    kind: str = "note"
    url: str = ""
    actor: str = ""


@dataclass(frozen=True)
class Widget:
    """A dashboard widget (``crm_dashboard_widgets``): rendered HTML and a sort order."""

    title: str
    html: str
    order: int = 100
    size: str = "half"  # "half" or "full" width


@dataclass(frozen=True)
class SearchResult:
    """One hit of the global search (``crm_search``)."""

    title: str
    url: str
    kind: str
    subtitle: str = ""
    score: float = 0.0


@dataclass(frozen=True)
class Schedule:
    """A job run periodically for every tenant that has the module on (``crm_schedules``).

    ``func`` is a function marked with ``@job``; ``every`` is the period in seconds.
    """

    name: str
    func: Callable[..., Any]
    every: int


@dataclass(frozen=True)
class ImportTarget:
    """Something rows of a spreadsheet can be imported into (``crm_import_targets``).

    ``fields`` maps a field name to its label; ``import_row(values)`` validates one row and
    returns the created or updated record, or raises ``ValidationFailed`` (the row is then
    reported as rejected). Optional: ``required`` fields must be mapped to a column;
    ``aliases`` gives more header names that suggest a field (``{"email": ("mail",)}``);
    ``permission`` is what a member needs to import; ``dedupe_fields`` name the fields that
    find an existing record (the page then offers the skip / update / create rule) and
    ``batch(dedupe=, membership=, actor=)`` returns a batch importer that checks and writes
    many rows at once (see ``docs/import-export.md``; the core's accounts and contacts do).
    """

    key: str
    label: str
    fields: Mapping[str, str]
    import_row: Callable[[dict[str, Any]], Any]
    required: tuple[str, ...] = ()
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    permission: str = "records.write"
    dedupe_fields: tuple[str, ...] = ()
    batch: Callable[..., Any] | None = None


@dataclass(frozen=True)
class ApiResource:
    """A REST resource under ``/api/v1/<name>`` (``crm_api_resources``).

    ``blueprint`` serves it; ``schema`` is its OpenAPI component schema.
    """

    name: str
    blueprint: Any
    schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened in a tenant: ``name`` like ``contact.created``.

    ``record_id`` is the id of the record it is about; ``data`` a JSON-serialisable summary.
    """

    name: str
    tenant_id: uuid.UUID
    record_id: uuid.UUID | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    actor_id: uuid.UUID | None = None


@dataclass(frozen=True)
class TenantPolicy:
    """What a tenant's plan and subscription allow (``crm_tenant_policy``); the core enforces it.

    ``read_only`` is why every write is refused (``None``: writes are allowed); ``banner`` is
    shown on every tenant page, linking to ``banner_url`` for members who manage settings;
    ``api_rate_limit`` replaces ``CRM_API_RATELIMIT`` for the tenant's API keys (``None``: the
    platform default); ``max_seats`` caps the members; ``record_limits`` caps records by kind
    (``{"contacts": 25000}``; a kind not named is unlimited); ``addons`` names the modules
    (plan features) that cost extra, with their price as people read it; ``plan`` and
    ``state`` label the subscription (e.g. ``"Small business"``, ``"past_due"``).
    """

    plan: str = ""
    state: str = ""
    read_only: str | None = None
    banner: str | None = None
    banner_url: str | None = None
    api_rate_limit: str | None = None
    max_seats: int | None = None
    record_limits: Mapping[str, int] = field(default_factory=dict)
    addons: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DashboardPeriod:
    """The months the provider console's dashboard shows (``crm_provider_dashboard``).

    ``months`` are the first days of each month, oldest first; ``start`` (inclusive) and
    ``end`` (exclusive) bound them, in UTC. ``labels`` name the months (``"2026-01"``): use
    them as a chart's labels so your chart lines up with the console's own.
    """

    months: tuple[date, ...]
    start: datetime
    end: datetime

    @property
    def labels(self) -> list[str]:
        """``YYYY-MM`` of each month."""
        return [m.strftime("%Y-%m") for m in self.months]


#: The kinds of value a report field holds (``ReportField.type``).
REPORT_FIELD_TYPES = ("text", "number", "money", "date", "datetime", "choice")


@dataclass(frozen=True)
class ReportField:
    """One field of a ``ReportSource``: what a report may show, filter, group or aggregate.

    ``expr`` is the SQLAlchemy column or expression (of the source's model or of one of its
    ``joins``, named by ``join``); ``type`` is one of ``REPORT_FIELD_TYPES``. ``choices`` maps
    stored values (as strings) to labels, or is a function returning that mapping (members,
    stages: read when a report runs); it labels groups and checks filter values.
    ``groupable`` fields may be grouped by (date and datetime fields by a time bucket);
    ``aggregatable`` number and money fields may be summed, averaged, and so on (every source
    can be counted). Group and filter on indexed columns: reports run in SQL on every row.
    """

    name: str
    label: Any
    type: str
    expr: Any
    choices: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None
    groupable: bool = True
    aggregatable: bool = False
    join: str | None = None

    def __post_init__(self) -> None:
        if self.type not in REPORT_FIELD_TYPES:
            raise ValueError(f"report field {self.name!r}: unknown type {self.type!r}")

    def choice_labels(self) -> Mapping[str, Any]:
        """The field's choices (value → label), reading dynamic ones now."""
        if self.choices is None:
            return {}
        return self.choices() if callable(self.choices) else self.choices


@dataclass(frozen=True)
class ReportSource:
    """A record type reports can be built on (``crm_report_sources``).

    ``key`` names it (``"deals"``); ``model`` is its ``TenantScoped`` model (the tenant filter
    applies to every report automatically); ``fields`` are the ``ReportField`` entries;
    ``visible(membership)`` returns the SQL condition of the rows the member may see
    (``None``: all of them) and ``base`` conditions every report applies (not deleted ...);
    ``joins`` maps a join name to ``function(select) -> select`` adding that join;
    ``record_url(row)`` links a listed record (a row of ``model``) to its page, and
    ``drill_url(filters)`` optionally returns the address of the module's own list page
    showing the records whose fields equal ``filters`` (``{name: value}``), or ``None`` when
    that page cannot express them (the analytics module then lists the records itself).
    ``permission`` is what a member needs to report on it; ``title_field`` names the field
    that titles a listed record.
    """

    key: str
    label: Any
    model: Any
    fields: tuple[ReportField, ...]
    visible: Callable[[Any], Any] | None = None
    base: Callable[[], Any] | None = None
    joins: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    record_url: Callable[[Any], str] | None = None
    drill_url: Callable[[Mapping[str, str]], str | None] | None = None
    permission: str = "records.read"
    title_field: str = "name"
    date_field: str = "created_at"

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))

    def get_field(self, name: str) -> ReportField | None:
        """The field called ``name``, or ``None``."""
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class AutomationAction:
    """An action workflow rules can run (``crm_automation_actions``).

    ``key`` is stable and unique (``"marketing.add_to_segment"``); ``label`` names it in the
    rule builder; ``fields`` maps each parameter to its label; ``choices`` (optional) returns
    ``{parameter: [(value, label), ...]}`` for parameters picked from a list (read when the
    form is shown); ``kinds`` are the record kinds it works on (empty: any, and rules with
    no record). ``check(params)`` returns ``{parameter: message}`` for bad parameters (the
    form shows them); ``run(params, context)`` does the work inside the rule's run (a job,
    never the user's save) and returns a short result text; raising marks the run failed
    with the exception's message. ``context`` has ``kind``, ``record_id``, ``record`` (the
    model instance or ``None``), ``values`` (the record's fields and the event's data),
    ``event``, ``rule_name`` and ``source`` (pass it as ``source=`` to ``update_record`` so
    the change is not taken for a user's).
    """

    key: str
    label: Any
    run: Callable[..., Any]
    fields: Mapping[str, Any] = field(default_factory=dict)
    choices: Callable[[], Mapping[str, Any]] | None = None
    kinds: tuple[str, ...] = ()
    check: Callable[[Mapping[str, Any]], Mapping[str, str]] | None = None
