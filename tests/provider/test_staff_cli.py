"""``crm provider add-staff / remove-staff / list-staff`` and the demo's staff user."""

from __future__ import annotations

from typing import Any

from conftest import login

from crm_platform.extensions import db
from crm_platform.provider.access import staff_record
from crm_platform.provisioning import find_user

from .helpers import staff_actions


def _role(app: Any, email: str) -> str | None:
    with app.app_context():
        user = find_user(email)
        row = staff_record(user.id) if user else None
        return row.role if row else None


def test_add_staff_creates_the_user_and_changes_the_role(app: Any, runner: Any) -> None:
    result = runner.invoke(
        args=[
            "provider",
            "add-staff",
            "ops@provider.example",
            "--role",
            "admin",
            "--name",
            "Ops",
            "--password",
            "correct-horse-battery",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "ops@provider.example is platform staff (admin)" in result.output
    assert _role(app, "ops@provider.example") == "admin"
    result = runner.invoke(args=["provider", "add-staff", "ops@provider.example"])
    assert result.exit_code == 0 and _role(app, "ops@provider.example") == "support"
    assert [(a.action, a.staff_email) for a in staff_actions(app)] == [
        ("staff.added", "cli"),
        ("staff.role_changed", "cli"),
    ]
    listed = runner.invoke(args=["provider", "list-staff"])
    assert "ops@provider.example\tsupport" in listed.output


def test_staff_is_not_a_tenant_role(app: Any, runner: Any, factory: Any) -> None:
    tenant = factory.tenant("alpha")
    runner.invoke(args=["provider", "add-staff", tenant.owner_email, "--role", "admin"])
    assert _role(app, tenant.owner_email) == "admin"
    from crm_platform.identity import ROLES

    assert "admin" in ROLES  # the tenant role of the same name is unrelated:
    client = app.test_client()
    login(client, tenant.owner_email)
    assert client.get("/t/alpha/").status_code == 200  # still the tenant's owner
    assert client.get("/provider/").status_code == 200  # and staff


def test_bad_input_exits_non_zero(app: Any, runner: Any, factory: Any) -> None:
    factory.user("someone@example.com")
    result = runner.invoke(args=["provider", "add-staff", "someone@example.com", "--role", "boss"])
    assert result.exit_code == 2 and "error: role: Choose one of: admin, support." in result.output
    assert _role(app, "someone@example.com") is None
    result = runner.invoke(args=["provider", "remove-staff", "someone@example.com"])
    assert result.exit_code == 2 and "is not platform staff" in result.output


def test_remove_staff(app: Any, runner: Any, factory: Any) -> None:
    factory.user("gone@provider.example")
    runner.invoke(args=["provider", "add-staff", "gone@provider.example"])
    client = app.test_client()
    login(client, "gone@provider.example")
    assert client.get("/provider/").status_code == 200
    result = runner.invoke(args=["provider", "remove-staff", "gone@provider.example"])
    assert result.exit_code == 0
    assert client.get("/provider/").status_code == 404


def test_demo_has_a_staff_user(app: Any) -> None:
    from crm_platform.cli import DEMO_PASSWORD, DEMO_STAFF_EMAIL
    from crm_platform.demo import create_demo_staff

    with app.app_context():
        assert create_demo_staff(DEMO_STAFF_EMAIL, DEMO_PASSWORD) is True
        assert create_demo_staff(DEMO_STAFF_EMAIL, DEMO_PASSWORD) is False  # idempotent
        db.session.remove()
    assert _role(app, DEMO_STAFF_EMAIL) == "admin"
    client = app.test_client()
    login(client, DEMO_STAFF_EMAIL, DEMO_PASSWORD)
    assert client.get("/provider/").status_code == 200
