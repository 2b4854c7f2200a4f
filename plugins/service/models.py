"""The Service module's tables: tickets and their thread, queues, SLA, calls, knowledge base,
satisfaction surveys. Every table is tenant-scoped; keys and foreign keys lead with
``tenant_id`` (``tenant_foreign_key``), like every tenant table of the CRM."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_platform.sdk import (
    Account,
    Base,
    Contact,
    TenantScoped,
    User,
    tenant_foreign_key,
    tenant_relationship,
    utcnow,
)

# ----------------------------------------------------------------- vocabularies

#: Ticket statuses in workflow order; ``pending`` is "waiting on the customer" (SLA paused).
STATUSES = ("new", "open", "pending", "on_hold", "solved", "closed")
OPEN_STATUSES = ("new", "open", "pending", "on_hold")
#: Statuses whose SLA clocks run (``pending`` pauses them; solved and closed stop them).
RUNNING_STATUSES = ("new", "open", "on_hold")
STATUS_LABELS = {
    "new": _l("New"),
    "open": _l("Open"),
    "pending": _l("Waiting on customer"),
    "on_hold": _l("On hold"),
    "solved": _l("Solved"),
    "closed": _l("Closed"),
}
PRIORITIES = ("low", "normal", "high", "urgent")
PRIORITY_LABELS = {
    "low": _l("Low"),
    "normal": _l("Normal"),
    "high": _l("High"),
    "urgent": _l("Urgent"),
}
CHANNELS = ("agent", "web", "email", "phone", "portal", "api", "import")
CHANNEL_LABELS = {
    "agent": _l("Agent"),
    "web": _l("Web form"),
    "email": _l("E-mail"),
    "phone": _l("Phone"),
    "portal": _l("Customer portal"),
    "api": _l("API"),
    "import": _l("Import"),
}
ASSIGNMENT_MODES = ("manual", "round_robin", "least_loaded")
ASSIGNMENT_LABELS = {
    "manual": _l("Manual"),
    "round_robin": _l("Round-robin"),
    "least_loaded": _l("Least loaded"),
}
#: Kinds of message in a ticket's thread.
MESSAGE_KINDS = ("customer", "reply", "note")
AGENT_STATUSES = ("available", "busy", "away")
AGENT_STATUS_LABELS = {"available": _l("Available"), "busy": _l("Busy"), "away": _l("Away")}
CALL_DIRECTIONS = ("inbound", "outbound")
CALL_DIRECTION_LABELS = {"inbound": _l("Inbound"), "outbound": _l("Outbound")}
CALL_OUTCOMES = ("answered", "resolved", "ticket", "callback", "voicemail", "no_answer", "busy")
CALL_OUTCOME_LABELS = {
    "answered": _l("Answered"),
    "resolved": _l("Resolved on the call"),
    "ticket": _l("Ticket opened"),
    "callback": _l("Callback promised"),
    "voicemail": _l("Voicemail"),
    "no_answer": _l("No answer"),
    "busy": _l("Busy"),
}
ESCALATION_TRIGGERS = ("at_risk", "breached")
ESCALATION_TRIGGER_LABELS = {"at_risk": _l("SLA at risk"), "breached": _l("SLA breached")}
ESCALATION_ACTIONS = ("notify", "assign", "raise_priority")
ESCALATION_ACTION_LABELS = {
    "notify": _l("E-mail a member"),
    "assign": _l("Assign to a member"),
    "raise_priority": _l("Raise the priority one step"),
}
ARTICLE_VISIBILITY = ("internal", "public")
ARTICLE_VISIBILITY_LABELS = {"internal": _l("Internal"), "public": _l("Public")}
ARTICLE_STATUSES = ("draft", "published")
ARTICLE_STATUS_LABELS = {"draft": _l("Draft"), "published": _l("Published")}
#: SLA states shown on tickets and lists (see ``Ticket.sla_status``).
SLA_STATUS_LABELS = {
    "none": _l("No SLA"),
    "on_track": _l("On track"),
    "at_risk": _l("At risk"),
    "breached": _l("Breached"),
    "paused": _l("Paused"),
    "met": _l("Met"),
}


def _aware(at: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes: read them as UTC."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=utcnow().tzinfo)


# ----------------------------------------------------------------- queues and agents


class Queue(TenantScoped, Base):
    """A group of agents working a kind of tickets, with its assignment rule."""

    __tablename__ = "service_queues"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    assignment: Mapped[str] = mapped_column(String(20), default="manual")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    last_assigned_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QueueMember(TenantScoped, Base):
    """An agent in a queue."""

    __tablename__ = "service_queue_members"
    __table_args__ = (
        tenant_foreign_key("queue_id", "service_queues", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "queue_id", "user_id"),
    )

    queue_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))

    user: Mapped[User] = relationship(User, lazy="joined")


class AgentStatus(TenantScoped, Base):
    """An agent's availability (available, busy, away), set by the agent."""

    __tablename__ = "service_agent_status"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="available")
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship(User, lazy="joined")


# ----------------------------------------------------------------- SLA


class Calendar(TenantScoped, Base):
    """Business hours in a time zone: ``hours`` maps ``"mon"``..``"sun"`` to ``[[from, to]]``."""

    __tablename__ = "service_calendars"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    holidays: Mapped[list[Holiday]] = relationship(
        "Holiday",
        primaryjoin="and_(Holiday.tenant_id == Calendar.tenant_id, "
        "foreign(Holiday.calendar_id) == Calendar.id)",
        order_by="Holiday.day",
        viewonly=True,
    )


class Holiday(TenantScoped, Base):
    """A day off in a calendar: no business hours that day."""

    __tablename__ = "service_holidays"
    __table_args__ = (
        tenant_foreign_key("calendar_id", "service_calendars", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "calendar_id", "day"),
    )

    calendar_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(100), default="")


class SlaPolicy(TenantScoped, Base):
    """First-response and resolution targets per priority, for the customers it matches.

    Policies are tried by ``position``; one with ``match_tag`` applies to requesters whose
    contact or account carries that tag (a customer tier or plan, e.g. ``vip``); the
    ``is_default`` policy applies to everyone else.
    """

    __tablename__ = "service_sla_policies"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        tenant_foreign_key("calendar_id", "service_calendars"),
    )

    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    match_tag: Mapped[str | None] = mapped_column(String(60))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    calendar_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: Warn when this share of a target's time is used up.
    warn_percent: Mapped[int] = mapped_column(Integer, default=75)

    calendar: Mapped[Calendar | None] = tenant_relationship("SlaPolicy.calendar_id", "Calendar")
    targets: Mapped[list[SlaTarget]] = relationship(
        "SlaTarget",
        primaryjoin="and_(SlaTarget.tenant_id == SlaPolicy.tenant_id, "
        "foreign(SlaTarget.policy_id) == SlaPolicy.id)",
        viewonly=True,
    )


class SlaTarget(TenantScoped, Base):
    """A policy's targets for one priority, in business minutes."""

    __tablename__ = "service_sla_targets"
    __table_args__ = (
        tenant_foreign_key("policy_id", "service_sla_policies", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "policy_id", "priority"),
    )

    policy_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    priority: Mapped[str] = mapped_column(String(20))
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)


class EscalationRule(TenantScoped, Base):
    """What happens when a ticket's SLA is at risk or breached (optionally per queue/priority)."""

    __tablename__ = "service_escalation_rules"
    __table_args__ = (tenant_foreign_key("queue_id", "service_queues", ondelete="CASCADE"),)

    name: Mapped[str] = mapped_column(String(100))
    trigger: Mapped[str] = mapped_column(String(20), default="breached")
    queue_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    priority: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(20), default="notify")
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE")
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    queue: Mapped[Queue | None] = tenant_relationship("EscalationRule.queue_id", "Queue")
    user: Mapped[User | None] = relationship(User, lazy="joined")


# ----------------------------------------------------------------- tickets


class Sequence(TenantScoped, Base):
    """A per-tenant counter (ticket numbers)."""

    __tablename__ = "service_sequences"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(40))
    value: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(TenantScoped, Base):
    """A customer's request (a case), with its workflow state and SLA clocks."""

    __tablename__ = "service_tickets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        tenant_foreign_key("queue_id", "service_queues"),
        tenant_foreign_key("contact_id", "contacts"),
        tenant_foreign_key("account_id", "accounts"),
        tenant_foreign_key("sla_policy_id", "service_sla_policies"),
        tenant_foreign_key("merged_into_id", "service_tickets"),
        Index("ix_service_tickets_tenant_status", "tenant_id", "status", "priority"),
        Index("ix_service_tickets_tenant_queue", "tenant_id", "queue_id", "status"),
        Index("ix_service_tickets_tenant_assignee", "tenant_id", "assignee_id", "status"),
        Index("ix_service_tickets_tenant_contact", "tenant_id", "contact_id"),
        Index("ix_service_tickets_tenant_account", "tenant_id", "account_id"),
        Index("ix_service_tickets_tenant_requester", "tenant_id", "requester_email"),
        Index("ix_service_tickets_tenant_created", "tenant_id", "created_at"),
        Index("ix_service_tickets_tenant_response_due", "tenant_id", "response_due_at"),
        Index("ix_service_tickets_tenant_resolution_due", "tenant_id", "resolution_due_at"),
    )

    number: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="new")
    priority: Mapped[str] = mapped_column(String(20), default="normal")
    channel: Mapped[str] = mapped_column(String(20), default="agent")
    category: Mapped[str | None] = mapped_column(String(80))
    queue_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    requester_email: Mapped[str | None] = mapped_column(String(254))
    requester_name: Mapped[str | None] = mapped_column(String(200))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: The customer's order this is about (its number, as the customer gives it).
    order_ref: Mapped[str | None] = mapped_column(String(80))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    first_responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    solved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # SLA clocks (UTC); computed by ``sla.apply_policy`` and moved when a pause ends.
    sla_policy_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    response_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response_warn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_warn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: When the clocks stopped (waiting on the customer, solved), and the business seconds
    #: they stood still in all: every due time is pushed back by that much.
    sla_paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sla_paused_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Marks set by the scheduled SLA scan (``sla_scan.scan``).
    sla_warned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    response_breached: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    resolution_breached: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    queue: Mapped[Queue | None] = tenant_relationship("Ticket.queue_id", "Queue", lazy="joined")
    assignee: Mapped[User | None] = relationship(User, foreign_keys=[assignee_id], lazy="joined")
    created_by: Mapped[User | None] = relationship(User, foreign_keys=[created_by_id])
    contact: Mapped[Contact | None] = tenant_relationship("Ticket.contact_id", "Contact")
    account: Mapped[Account | None] = tenant_relationship("Ticket.account_id", "Account")
    sla_policy: Mapped[SlaPolicy | None] = tenant_relationship("Ticket.sla_policy_id", "SlaPolicy")

    @property
    def is_open(self) -> bool:
        """Not solved, closed or merged."""
        return self.status in OPEN_STATUSES

    @property
    def status_label(self) -> str:
        """The translated status."""
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def priority_label(self) -> str:
        """The translated priority."""
        return str(PRIORITY_LABELS.get(self.priority, self.priority))

    @property
    def channel_label(self) -> str:
        """The translated channel."""
        return str(CHANNEL_LABELS.get(self.channel, self.channel))

    @property
    def requester_label(self) -> str:
        """Who asked: the contact's name, else the requester's name or address."""
        if self.contact is not None:
            return self.contact.full_name
        return self.requester_name or self.requester_email or "—"

    @property
    def next_due_at(self) -> datetime | None:
        """The running target: first response until answered, then resolution."""
        if self.first_responded_at is None and self.response_due_at is not None:
            return _aware(self.response_due_at)
        return _aware(self.resolution_due_at)

    @property
    def sla_status(self) -> str:
        """``none``, ``on_track``, ``at_risk``, ``breached``, ``paused`` or ``met``.

        Read from the clocks as well as the scan's marks, so a list is right between scans.
        """
        if self.sla_policy_id is None:
            return "none"
        now = utcnow()
        if self.response_breached or self.resolution_breached:
            return "breached"
        if self.status in ("solved", "closed"):
            return "met"
        if self.status == "pending":
            return "paused"
        due = self.next_due_at
        if due is not None and due <= now:
            return "breached"
        warn = _aware(
            self.response_warn_at if self.first_responded_at is None else self.resolution_warn_at
        )
        if self.sla_warned or (warn is not None and warn <= now):
            return "at_risk"
        return "on_track"

    @property
    def sla_label(self) -> str:
        """The translated SLA state."""
        return str(SLA_STATUS_LABELS[self.sla_status])


class Message(TenantScoped, Base):
    """One entry of a ticket's thread: the customer's message, a public reply or a note."""

    __tablename__ = "service_messages"
    __table_args__ = (
        tenant_foreign_key("ticket_id", "service_tickets", ondelete="CASCADE"),
        Index("ix_service_messages_tenant_ticket", "tenant_id", "ticket_id", "created_at"),
        Index("ix_service_messages_tenant_sender", "tenant_id", "from_address", "created_at"),
    )

    ticket_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(20), default="customer")  # customer|reply|note
    channel: Mapped[str] = mapped_column(String(20), default="agent")
    author_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    from_address: Mapped[str | None] = mapped_column(String(254))
    from_name: Mapped[str | None] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text, default="")
    #: Sanitised HTML of an e-mail (``sanitise.clean_html``), shown as it came.
    body_html: Mapped[str | None] = mapped_column(Text)
    #: The e-mail's Message-ID header (deduplicates a message delivered twice).
    email_message_id: Mapped[str | None] = mapped_column(String(300))
    #: The message was an automatic reply (out of office, bounce ...): it was not answered.
    auto_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    author: Mapped[User | None] = relationship(User, lazy="joined")


class Attachment(TenantScoped, Base):
    """A file of a ticket, stored in the tenant's rows (never served to another tenant)."""

    __tablename__ = "service_attachments"
    __table_args__ = (
        tenant_foreign_key("ticket_id", "service_tickets", ondelete="CASCADE"),
        tenant_foreign_key("message_id", "service_messages", ondelete="CASCADE"),
        Index("ix_service_attachments_tenant_ticket", "tenant_id", "ticket_id"),
    )

    ticket_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    message_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CannedResponse(TenantScoped, Base):
    """A prepared reply with merge fields (``{{ customer.first_name }}`` ...)."""

    __tablename__ = "service_canned_responses"
    __table_args__ = (UniqueConstraint("tenant_id", "title"),)

    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# ----------------------------------------------------------------- call centre


class Call(TenantScoped, Base):
    """A phone call with a customer, logged by an agent."""

    __tablename__ = "service_calls"
    __table_args__ = (
        tenant_foreign_key("contact_id", "contacts"),
        tenant_foreign_key("account_id", "accounts"),
        tenant_foreign_key("ticket_id", "service_tickets", ondelete="CASCADE"),
        tenant_foreign_key("queue_id", "service_queues"),
        Index("ix_service_calls_tenant_started", "tenant_id", "started_at"),
        Index("ix_service_calls_tenant_number", "tenant_id", "number"),
        Index("ix_service_calls_tenant_contact", "tenant_id", "contact_id"),
        Index("ix_service_calls_tenant_account", "tenant_id", "account_id"),
        Index("ix_service_calls_tenant_ticket", "tenant_id", "ticket_id"),
    )

    direction: Mapped[str] = mapped_column(String(20), default="inbound")
    #: The customer's number, normalised (``+8621...``).
    number: Mapped[str] = mapped_column(String(40))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    queue_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    duration_seconds: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(20), default="answered")
    recording_url: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str | None] = mapped_column(Text)
    #: The callback task (a core activity) promised on this call; no foreign key, so the
    #: core may delete the task without knowing about calls.
    callback_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    agent: Mapped[User | None] = relationship(User, lazy="joined")
    contact: Mapped[Contact | None] = tenant_relationship("Call.contact_id", "Contact")
    account: Mapped[Account | None] = tenant_relationship("Call.account_id", "Account")
    ticket: Mapped[Ticket | None] = tenant_relationship("Call.ticket_id", "Ticket")
    queue: Mapped[Queue | None] = tenant_relationship("Call.queue_id", "Queue")

    @property
    def direction_label(self) -> str:
        """The translated direction."""
        return str(CALL_DIRECTION_LABELS.get(self.direction, self.direction))

    @property
    def outcome_label(self) -> str:
        """The translated outcome."""
        return str(CALL_OUTCOME_LABELS.get(self.outcome, self.outcome))


class CallScript(TenantScoped, Base):
    """A script agents follow step by step on calls of a queue (or of every queue)."""

    __tablename__ = "service_call_scripts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "title"),
        tenant_foreign_key("queue_id", "service_queues", ondelete="CASCADE"),
    )

    title: Mapped[str] = mapped_column(String(120))
    queue_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    steps: Mapped[list[str]] = mapped_column(JSON, default=list)

    queue: Mapped[Queue | None] = tenant_relationship("CallScript.queue_id", "Queue")


# ----------------------------------------------------------------- knowledge base


class KbCategory(TenantScoped, Base):
    """A section of the knowledge base."""

    __tablename__ = "service_kb_categories"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Article(TenantScoped, Base):
    """A knowledge-base article; every save keeps a version (``ArticleVersion``)."""

    __tablename__ = "service_kb_articles"
    __table_args__ = (
        tenant_foreign_key("category_id", "service_kb_categories"),
        Index("ix_service_kb_articles_tenant_status", "tenant_id", "status", "visibility"),
        # PostgreSQL full text (the migration creates it there only; see kb.document()).
        Index(
            "ix_service_kb_articles_fts",
            text("to_tsvector('english'::regconfig, (title::text || ' '::text) || body)"),
            postgresql_using="gin",
        ),
    )

    category_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(20), default="internal")
    status: Mapped[str] = mapped_column(String(20), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    category: Mapped[KbCategory | None] = tenant_relationship(
        "Article.category_id", "KbCategory", lazy="joined"
    )
    updated_by: Mapped[User | None] = relationship(User, foreign_keys=[updated_by_id])

    @property
    def is_public(self) -> bool:
        """Published and public: shown on the workspace's public help pages."""
        return self.status == "published" and self.visibility == "public"


class ArticleVersion(TenantScoped, Base):
    """An article as it was saved once."""

    __tablename__ = "service_kb_versions"
    __table_args__ = (
        tenant_foreign_key("article_id", "service_kb_articles", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "article_id", "version"),
    )

    article_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    created_by: Mapped[User | None] = relationship(User)


# ----------------------------------------------------------------- satisfaction


class Survey(TenantScoped, Base):
    """A satisfaction survey sent when a ticket was solved; answered once."""

    __tablename__ = "service_surveys"
    __table_args__ = (
        tenant_foreign_key("ticket_id", "service_tickets", ondelete="CASCADE"),
        tenant_foreign_key("queue_id", "service_queues"),
        UniqueConstraint("tenant_id", "ticket_id"),
        Index("ix_service_surveys_tenant_answered", "tenant_id", "answered_at"),
    )

    ticket_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    queue_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rating: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)

    ticket: Mapped[Ticket] = tenant_relationship("Survey.ticket_id", "Ticket")
    agent: Mapped[User | None] = relationship(User, lazy="joined")
