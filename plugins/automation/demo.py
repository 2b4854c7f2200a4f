"""Sample rules for the demo workspace."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crm_platform.sdk import db

from .models import ApprovalPolicy, EmailTemplate, Rule


def add_demo_data(members: list[Any]) -> None:
    """A welcome task for new customers, a note on big deals, a discount policy."""
    owner = members[0].user_id if members else None
    template = EmailTemplate(
        name="Welcome",
        subject="Welcome aboard, {{ name }}",
        body="Hello {{ name }},\n\nthank you for choosing us.\n",
    )
    db.session.add(template)
    db.session.flush()
    db.session.add_all(
        [
            Rule(
                name="Onboard new customers",
                description="A contact becomes a customer: a kick-off task for the owner.",
                trigger_type="event",
                event="contact.updated",
                trigger={"type": "event", "event": "contact.updated"},
                conditions=[{"field": "lifecycle_stage", "op": "changed_to", "value": "customer"}],
                actions=[
                    {
                        "type": "create_task",
                        "params": {"subject": "Kick-off call with {{ name }}", "due_in_days": "2"},
                    }
                ],
                created_by_id=owner,
            ),
            Rule(
                name="Note big new accounts",
                trigger_type="event",
                event="account.created",
                trigger={"type": "event", "event": "account.created"},
                conditions=[{"field": "size", "op": "equals", "value": "5000+"}],
                actions=[{"type": "timeline_note", "params": {"text": "Big account: {{ name }}"}}],
                created_by_id=owner,
            ),
        ]
    )
    db.session.add(
        ApprovalPolicy(
            name="Discounts above 20%",
            kind="quote",
            action="send",
            threshold_percent=Decimal("20"),
            approver_role="manager",
        )
    )
