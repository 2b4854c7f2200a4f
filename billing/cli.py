"""``crm billing ...``: seed plans, list and retry Stripe events, run the billing cycle, and
the provider's actions on one tenant (change plan, extend trial, suspend, resume)."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from crm_platform.sdk import Tenant, ValidationFailed, db

from .catalogue import seed_plans
from .models import Plan, StripeEvent

ACTOR = "cli"


def _fail(exc: ValidationFailed) -> None:
    for field, message in exc.errors.items():
        click.echo(f"{field}: {message}", err=True)
    raise SystemExit(1)


def _tenant(slug: str) -> Tenant:
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        click.echo(f"slug: no tenant {slug!r}", err=True)
        raise SystemExit(1)
    return tenant


def _run(action: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        result = action(*args, **kwargs)
    except ValidationFailed as exc:
        db.session.rollback()
        _fail(exc)
    db.session.commit()
    return result


@click.group("billing")
def billing_group() -> None:
    """Plans, subscriptions and payment webhooks."""


@billing_group.command("seed-plans")
@with_appcontext
def seed_plans_command() -> None:
    """Add the default plans that are missing and start a trial for tenants without a
    subscription (idempotent; existing plans are never changed)."""
    from .entitlements import live_subscription
    from .service import start_trial

    added = seed_plans(db.session.connection())
    started = 0
    for tenant in db.session.scalars(select(Tenant).order_by(Tenant.created_at)).all():
        if live_subscription(tenant.id) is None:
            start_trial(tenant, actor=ACTOR)
            started += 1
    db.session.commit()
    click.echo(f"plans added: {', '.join(added) or 'none'}; trials started: {started}")


@billing_group.command("plans")
@with_appcontext
def plans_command() -> None:
    """List the plans."""
    for plan in db.session.scalars(select(Plan).order_by(Plan.position)):
        flags = ("default " if plan.is_default else "") + ("" if plan.active else "inactive")
        click.echo(
            f"{plan.key:12} {plan.name:18} {plan.price_per_seat_cents / 100:8.2f} "
            f"{plan.currency.upper()}/seat  {flags}".rstrip()
        )


@billing_group.command("events")
@click.option("--status", type=click.Choice(["received", "started", "succeeded", "failed"]))
@click.option("--limit", default=50, show_default=True)
@with_appcontext
def events_command(status: str | None, limit: int) -> None:
    """List received Stripe events, newest first."""
    stmt = select(StripeEvent).order_by(StripeEvent.received_at.desc()).limit(limit)
    if status:
        stmt = stmt.where(StripeEvent.status == status)
    for row in db.session.scalars(stmt):
        line = f"{row.id} {row.stripe_event_id} {row.type:36} {row.status:9} tries={row.attempts}"
        click.echo(line + (f"  {row.error}" if row.error else ""))


@billing_group.command("retry-event")
@click.argument("event")
@with_appcontext
def retry_event_command(event: str) -> None:
    """Process a stored Stripe event again (by our id or Stripe's evt_ id)."""
    from .stripe_events import retry_event

    try:
        row = retry_event(event)
    except ValidationFailed as exc:
        _fail(exc)
    click.echo(f"{row.stripe_event_id}: {row.status}" + (f" ({row.error})" if row.error else ""))
    if row.status != "succeeded":
        raise SystemExit(1)


@billing_group.command("run-cycle")
@with_appcontext
def run_cycle_command() -> None:
    """Run the billing cycle (trial ends, local renewals and dunning) for every tenant now."""
    from .service import run_cycle

    for tenant in db.session.scalars(select(Tenant).order_by(Tenant.slug)).all():
        click.echo(f"{tenant.slug}: {_run(run_cycle, tenant)}")


@billing_group.command("change-plan")
@click.argument("slug")
@click.argument("plan")
@with_appcontext
def change_plan_command(slug: str, plan: str) -> None:
    """Move a tenant to another plan (as the provider)."""
    from .service import change_plan

    subscription = _run(change_plan, _tenant(slug), plan, actor=ACTOR, source="provider")
    click.echo(f"{slug}: {subscription.plan.key}")


@billing_group.command("extend-trial")
@click.argument("slug")
@click.argument("days", type=int)
@with_appcontext
def extend_trial_command(slug: str, days: int) -> None:
    """Give a tenant more days of trial."""
    from .service import extend_trial

    subscription = _run(extend_trial, _tenant(slug), days, actor=ACTOR)
    click.echo(f"{slug}: trial ends {subscription.trial_ends_at:%Y-%m-%d}")


@billing_group.command("suspend")
@click.argument("slug")
@with_appcontext
def suspend_command(slug: str) -> None:
    """Suspend a tenant's billing: it turns read-only (its data is kept)."""
    from .service import suspend

    _run(suspend, _tenant(slug), actor=ACTOR)
    click.echo(f"{slug}: suspended")


@billing_group.command("resume")
@click.argument("slug")
@with_appcontext
def resume_command(slug: str) -> None:
    """Lift a billing suspension."""
    from .service import resume

    subscription = _run(resume, _tenant(slug), actor=ACTOR)
    click.echo(f"{slug}: {subscription.status}")
