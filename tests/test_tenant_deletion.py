"""Tenant deletion with a grace period: scheduled by the owner or provider staff, the workspace
locked, canceled, and past its date erased row by row in every tenant table (another
tenant untouched)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from conftest import in_tenant, login, run_jobs
from helpers_lifecycle import build_tenant, counts, snapshot
from sqlalchemy import select

from crm_platform.customers import Account
from crm_platform.extensions import db
from crm_platform.identity import Membership, Tenant
from crm_platform.provider.models import StaffAction
from crm_platform.tenancy import tenant_tables, utcnow
from crm_platform.tenant_deletion import erase_due_tenants


def _token(html: str) -> str:
    """A CSRF token of the page (any form's: they are valid for every form of the session)."""
    match = re.search(r'csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="[a-z-]*csrf_token"', html
    )
    assert match, "no csrf token in page"
    return match.group(1)


def _post(client: Any, page: str, url: str, data: dict[str, Any], prefix: str) -> Any:
    return client.post(url, data={**data, f"{prefix}-csrf_token": _token(client.get(page).text)})


def _tenant(app: Any, slug: str) -> Tenant | None:
    with app.app_context():
        row = db.session.scalars(select(Tenant).where(Tenant.slug == slug)).one_or_none()
        if row is not None:
            db.session.expunge(row)
        return row


def _staff(app: Any, factory: Any, email: str, role: str) -> Any:
    from crm_platform.provider.staff import grant_staff
    from crm_platform.provisioning import find_user

    factory.user(email, "Staff")
    with app.app_context():
        grant_staff(find_user(email), role, actor="tests")
        db.session.commit()
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def _subscription_status(app: Any, tenant: Any) -> str | None:
    from billing.models import Subscription

    with app.app_context():
        return db.session.scalars(
            select(Subscription.status).where(
                Subscription.customer_id == tenant.id, Subscription.live.is_(True)
            )
        ).first()


def test_owner_schedules_members_are_locked_out_and_owner_cancels(app: Any, factory: Any) -> None:
    acme = factory.tenant("acme", owner_email="owner@acme.example")
    factory.member(acme, "rep@acme.example", "admin")
    owner, rep = app.test_client(), app.test_client()
    login(owner, "owner@acme.example")
    login(rep, "rep@acme.example")
    assert rep.get("/t/acme/settings/data").status_code == 403  # owners only
    page = "/t/acme/settings/data"
    assert owner.get(page).status_code == 200
    billing_before = _subscription_status(app, acme)
    assert billing_before == "trialing"  # billing is installed: a trial started

    wrong = _post(owner, page, "/t/acme/settings/data/delete", {"delete-confirm": "acm"}, "delete")
    assert wrong.status_code == 302 and _tenant(app, "acme").deletion_requested_at is None
    done = _post(owner, page, "/t/acme/settings/data/delete", {"delete-confirm": "acme"}, "delete")
    assert done.status_code == 302
    row = _tenant(app, "acme")
    assert row.deletion_requested_at is not None
    grace = row.delete_after.replace(tzinfo=None) - row.deletion_requested_at.replace(tzinfo=None)
    assert grace == timedelta(days=30)
    assert _subscription_status(app, acme) == "suspended"  # billing stops during the grace

    locked = rep.get("/t/acme/accounts")
    assert locked.status_code == 410
    assert "scheduled for deletion" in locked.text and row.delete_after.strftime("%Y-%m-%d") in (
        locked.text
    )
    assert "Cancel the deletion" not in locked.text  # only the owner may cancel
    assert rep.get("/t/acme/settings/data").status_code == 410
    home = owner.get("/t/acme/")
    assert home.status_code == 410 and "Cancel the deletion" in home.text
    token = _token(home.text)
    rep_token = _token(locked.text)  # the sign-out form of the layout
    refused = rep.post("/workspace-deletion/acme/cancel", data={"cancel-csrf_token": rep_token})
    assert refused.status_code == 403
    stranger = app.test_client()
    factory.user("stranger@example.com")
    login(stranger, "stranger@example.com")
    stranger_token = _token(stranger.get("/t/acme/").text)
    gone = stranger.post("/workspace-deletion/acme/cancel", data={"csrf_token": stranger_token})
    assert gone.status_code == 404

    back = owner.post("/workspace-deletion/acme/cancel", data={"cancel-csrf_token": token})
    assert back.status_code == 302
    assert _tenant(app, "acme").deletion_requested_at is None
    assert rep.get("/t/acme/accounts").status_code == 200
    assert _subscription_status(app, acme) == billing_before
    with in_tenant(app, acme) as session:
        from crm_platform.audit import AuditEvent

        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert "tenant.deletion_scheduled" in actions and "tenant.deletion_canceled" in actions


def test_provider_staff_schedule_and_cancel_recorded(app: Any, factory: Any) -> None:
    acme = factory.tenant("acme", owner_email="owner@acme.example")
    admin = _staff(app, factory, "admin@provider.example", "admin")
    support = _staff(app, factory, "support@provider.example", "support")
    page = f"/provider/tenants/{acme.id}"
    assert "Data: export and deletion" in admin.get(page).text
    assert support.post(f"{page}/delete", data={"deletion-reason": "x"}).status_code in (400, 403)

    no_reason = _post(admin, page, f"{page}/delete", {"deletion-reason": ""}, "deletion")
    assert no_reason.status_code == 302 and _tenant(app, "acme").deletion_requested_at is None
    done = _post(admin, page, f"{page}/delete", {"deletion-reason": "contract ended"}, "deletion")
    assert done.status_code == 302
    assert _tenant(app, "acme").deletion_requested_by == "admin@provider.example (provider)"
    assert "Deletion scheduled" in admin.get(page).text
    back = _post(admin, page, f"{page}/cancel-deletion", {"deletion-reason": "oops"}, "deletion")
    assert back.status_code == 302 and _tenant(app, "acme").deletion_requested_at is None
    with app.app_context():
        logged = list(db.session.scalars(select(StaffAction.action).order_by(StaffAction.id)))
    assert "tenant.deletion_scheduled" in logged and "tenant.deletion_canceled" in logged

    exported = _post(admin, page, f"{page}/export", {"export-reason": "customer asked"}, "export")
    assert exported.status_code == 302
    run_jobs(app)
    listing = admin.get(page).text
    assert "/exports/" in listing
    href = listing.split(f"/provider/tenants/{acme.id}/exports/", 1)[1].split('"', 1)[0]
    download = admin.get(f"/provider/tenants/{acme.id}/exports/{href}")
    assert download.status_code == 200 and download.data[:2] == b"PK"
    assert support.get(f"/provider/tenants/{acme.id}/exports/{href}").status_code == 403
    with app.app_context():
        logged = list(db.session.scalars(select(StaffAction.action)))
    assert "tenant.export_requested" in logged and "tenant.export_downloaded" in logged


def test_erasure_after_the_grace_period_removes_every_row(
    app: Any, factory: Any, runner: Any
) -> None:
    source = build_tenant(app, factory, "source")
    other = build_tenant(app, factory, "other")
    other_before = snapshot(app, other.id, ids=True)
    with app.app_context():  # a stored export and a rate-limit bucket of the tenant
        from crm_platform.redis_conn import get_redis
        from crm_platform.tenant_exports import TenantExport, request_export

        request_export(db.session.get(Tenant, source.id), "tests")
        db.session.commit()
        prefix = app.config["RATELIMIT_KEY_PREFIX"]
        get_redis(app).set(f"{prefix}/throttle/{source.id}/login", 1)
        from crm_platform.provider.actions import record_staff_action

        record_staff_action(  # a staff log entry about the tenant outlives it
            "tenant.noted", tenant=db.session.get(Tenant, source.id), actor="tests"
        )
        db.session.commit()
    run_jobs(app)
    assert counts(app, source.id)["sfa_quotes"] == 1

    result = runner.invoke(args=["tenant", "delete", "source"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert erase_due_tenants() == []  # still in its grace period
    assert counts(app, source.id)
    with app.app_context():
        assert erase_due_tenants(now=utcnow() + timedelta(days=31)) == ["source"]

    assert counts(app, source.id) == {}
    assert _tenant(app, "source") is None
    with app.app_context():
        assert db.session.scalars(select(TenantExport)).all() == []
        assert get_redis(app).keys(f"*{source.id}*") == []
        erased = db.session.scalars(
            select(StaffAction).where(StaffAction.action == "tenant.erased")
        ).one()
        assert erased.target == "source" and erased.details["rows"]["accounts"] == 2
        noted = db.session.scalars(
            select(StaffAction).where(StaffAction.action == "tenant.noted")
        ).one()
        assert noted.target_tenant_id is None
    assert len(tenant_tables()) > 50
    assert snapshot(app, other.id, ids=True) == other_before  # another tenant untouched
    with in_tenant(app, other) as session:
        assert session.scalars(select(Account.name).order_by(Account.name)).all() == [
            "Globex",
            "Initech",
        ]
        assert session.scalars(select(Membership)).all()
    client = app.test_client()
    login(client, "owner@source.example")
    assert client.get("/t/source/").status_code == 404


def test_the_daily_platform_schedule_erases_due_tenants(app: Any, factory: Any) -> None:
    from crm_platform.schedules import enqueue_due_schedules
    from crm_platform.tenant_deletion import schedule_deletion

    acme = factory.tenant("acme")
    keep = factory.tenant("keep")
    with in_tenant(app, acme) as session:
        session.add(Account(name="Doomed"))
        session.commit()
    with app.app_context():
        schedule_deletion(db.session.get(Tenant, acme.id), actor_label="tests", days=0)
        db.session.commit()
    queued = enqueue_due_schedules(app, force=True)
    assert queued["platform.erase_deleted_tenants"] == 1
    run_jobs(app)
    assert _tenant(app, "acme") is None and counts(app, acme.id) == {}
    assert _tenant(app, "keep") is not None and counts(app, keep.id)


@pytest.mark.parametrize("days", [None, 3])
def test_cli_delete_and_cancel(app: Any, factory: Any, runner: Any, days: Any) -> None:
    factory.tenant("acme")
    args = ["tenant", "delete", "acme"] + ([] if days is None else ["--days", str(days)])
    result = runner.invoke(args=args)
    assert result.exit_code == 0 and "will be erased after" in result.output
    again = runner.invoke(args=args)
    assert again.exit_code != 0 and "already scheduled" in again.output
    row = _tenant(app, "acme")
    grace = row.delete_after.replace(tzinfo=None) - row.deletion_requested_at.replace(tzinfo=None)
    assert grace == timedelta(days=30 if days is None else days)
    result = runner.invoke(args=["tenant", "cancel-deletion", "acme"])
    assert result.exit_code == 0 and _tenant(app, "acme").deletion_requested_at is None


def test_expired_exports_are_purged_by_the_hourly_schedule(app: Any, factory: Any) -> None:
    from crm_platform.schedules import enqueue_due_schedules
    from crm_platform.tenant_exports import TenantExport, TenantExportChunk, request_export

    acme = factory.tenant("acme")
    with app.app_context():
        request_export(db.session.get(Tenant, acme.id), "tests")
        request_export(db.session.get(Tenant, acme.id), "tests")
        db.session.commit()
    run_jobs(app)
    with app.app_context():
        old, fresh = db.session.scalars(select(TenantExport).order_by(TenantExport.id)).all()
        assert old.downloadable and fresh.downloadable
        old.expires_at = utcnow() - timedelta(minutes=1)
        old_id, fresh_id = old.id, fresh.id
        db.session.commit()
    assert enqueue_due_schedules(app, force=True)["platform.purge_tenant_exports"] == 1
    run_jobs(app)
    with app.app_context():
        assert [e.id for e in db.session.scalars(select(TenantExport))] == [fresh_id]
        chunks = db.session.scalars(select(TenantExportChunk.export_id)).all()
        assert chunks and set(chunks) == {fresh_id} and old_id not in chunks


def test_the_api_refuses_a_workspace_being_deleted(app: Any, factory: Any) -> None:
    from conftest import make_api_key

    from crm_platform.tenant_deletion import cancel_deletion, schedule_deletion

    acme = factory.tenant("acme")
    key = make_api_key(app, acme, acme.owner_email)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/accounts", headers=headers).status_code == 200
    with app.app_context():
        schedule_deletion(db.session.get(Tenant, acme.id), actor_label="tests")
        db.session.commit()
    refused = client.get("/api/v1/accounts", headers=headers)
    assert refused.status_code == 403 and "tenant_deletion_scheduled" in refused.text
    with app.app_context():
        cancel_deletion(db.session.get(Tenant, acme.id), actor_label="tests")
        db.session.commit()
    assert client.get("/api/v1/accounts", headers=headers).status_code == 200
