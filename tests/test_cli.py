"""The ``crm`` command line: tenants, users, the demo workspace, database roles."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import PASSWORD, in_tenant, login
from helpers_web import events, roles, tenant_count, tenant_row, user_exists
from sqlalchemy import func, select

from crm_platform.cli import DEMO_EMAIL, DEMO_PASSWORD
from crm_platform.customers import Account, Contact
from crm_platform.identity import Membership
from plugins.erp.demo import PARTIES as ERP_DEMO_PARTIES


def create_tenant(runner: Any, *extra: str, slug: str = "acme", **options: str) -> Any:
    args = ["tenant", "create", "--name", options.get("name", "Acme Works"), "--slug", slug]
    args += ["--owner-email", options.get("owner_email", "boss@acme.example"), *extra]
    return runner.invoke(args=args)


def test_tenant_create_with_new_owner(app: Any, runner: Any) -> None:
    result = create_tenant(
        runner, "--owner-name", "Bo Boss", "--owner-password", PASSWORD, "--industry", "banking"
    )
    assert result.exit_code == 0, result.output
    assert "created tenant acme" in result.output and "boss@acme.example" in result.output
    tenant = tenant_row(app, "acme")
    assert tenant is not None and tenant.name == "Acme Works" and tenant.industry == "banking"
    assert roles(app, tenant) == {"boss@acme.example": "owner"}
    assert [e.action for e in events(app, tenant)] == ["tenant.created"]
    # The owner can sign in with that password and open the workspace.
    client = app.test_client()
    assert login(client, "boss@acme.example").status_code == 302
    assert client.get("/t/acme/").status_code == 200


def test_tenant_create_password_from_environment(app: Any, runner: Any) -> None:
    result = runner.invoke(
        args=["tenant", "create", "--name", "Env Co", "--slug", "env-co"]
        + ["--owner-email", "env@env.example"],
        env={"CRM_OWNER_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 0, result.output
    assert login(app.test_client(), "env@env.example").status_code == 302


def test_tenant_create_with_existing_owner(app: Any, runner: Any, factory: Any) -> None:
    factory.tenant("first", owner_email="boss@acme.example")
    result = create_tenant(runner, slug="second", name="Second Co")
    assert result.exit_code == 0, result.output  # no password asked: the owner exists
    assert roles(app, tenant_row(app, "second")) == {"boss@acme.example": "owner"}
    assert roles(app, tenant_row(app, "first")) == {"boss@acme.example": "owner"}


@pytest.mark.parametrize(
    ("slug", "message"),
    [("taken", "slug: This address is already taken."), ("admin", "slug: This address is re")],
)
def test_tenant_create_refuses_bad_slug(
    app: Any, runner: Any, factory: Any, slug: str, message: str
) -> None:
    factory.tenant("taken")
    before = tenant_count(app)
    result = create_tenant(runner, "--owner-password", PASSWORD, slug=slug)
    assert result.exit_code != 0
    assert message in result.stderr
    assert tenant_count(app) == before
    assert not user_exists(app, "boss@acme.example")  # rolled back with the tenant


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "at least 10"), ("password123", "too common"), ("boss-acme-2026", "e-mail")],
)
def test_tenant_create_refuses_weak_password(
    app: Any, runner: Any, password: str, message: str
) -> None:
    result = create_tenant(runner, "--owner-password", password)
    assert result.exit_code != 0
    assert "password:" in result.stderr and message in result.stderr
    assert tenant_row(app, "acme") is None and not user_exists(app, "boss@acme.example")


def test_tenant_create_refuses_bad_email_and_industry(app: Any, runner: Any) -> None:
    bad_email = create_tenant(runner, "--owner-password", PASSWORD, owner_email="not-an-address")
    assert bad_email.exit_code != 0 and "email:" in bad_email.stderr
    bad_industry = create_tenant(runner, "--owner-password", PASSWORD, "--industry", "mining")
    assert bad_industry.exit_code != 0 and "industry:" in bad_industry.stderr
    assert tenant_count(app) == 0


def test_tenant_list(app: Any, runner: Any, factory: Any) -> None:
    factory.tenant("acme", name="Acme Works")
    factory.tenant("zeta", name="Zeta Corp")
    runner.invoke(args=["tenant", "suspend", "zeta"])
    result = runner.invoke(args=["tenant", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    acme = next(line for line in lines if " acme " in line)
    zeta = next(line for line in lines if " zeta " in line)
    assert "Acme Works" in acme and "active" in acme
    assert "Zeta Corp" in zeta and "suspended" in zeta
    assert lines.index(acme) < lines.index(zeta)


def test_tenant_suspend_and_resume(app: Any, runner: Any, factory: Any) -> None:
    tenant = factory.tenant("acme")
    result = runner.invoke(args=["tenant", "suspend", "acme"])
    assert result.exit_code == 0 and "acme: suspended" in result.output
    assert tenant_row(app, "acme").status == "suspended"
    assert runner.invoke(args=["tenant", "resume", "acme"]).exit_code == 0
    assert tenant_row(app, "acme").status == "active"
    suspended = events(app, tenant, "tenant.suspended")
    assert len(suspended) == 1 and suspended[0].actor_label == "cli"
    assert len(events(app, tenant, "tenant.resumed")) == 1
    # Resuming an active tenant records nothing more.
    assert runner.invoke(args=["tenant", "resume", "acme"]).exit_code == 0
    assert len(events(app, tenant, "tenant.resumed")) == 1


@pytest.mark.parametrize("command", ["suspend", "resume"])
def test_tenant_status_unknown_slug(app: Any, runner: Any, command: str) -> None:
    result = runner.invoke(args=["tenant", command, "nosuch"])
    assert result.exit_code != 0
    assert "no tenant with slug 'nosuch'" in result.stderr


def test_user_create_in_tenant_with_role(app: Any, runner: Any, factory: Any) -> None:
    tenant = factory.tenant("acme")
    result = runner.invoke(
        args=["user", "create", "--email", "Rep@Acme.example", "--name", "Rita Rep"]
        + ["--password", PASSWORD, "--tenant", "acme", "--role", "manager"]
    )
    assert result.exit_code == 0, result.output
    assert "created user rep@acme.example in acme as manager" in result.output
    assert roles(app, tenant)["rep@acme.example"] == "manager"
    joined = events(app, tenant, "member.joined")
    assert len(joined) == 1
    assert joined[0].target == "rep@acme.example" and joined[0].details == {"role": "manager"}
    client = app.test_client()
    assert login(client, "rep@acme.example").status_code == 302
    assert client.get("/t/acme/accounts").status_code == 200


def test_user_create_without_tenant(app: Any, runner: Any) -> None:
    result = runner.invoke(
        args=[
            "user",
            "create",
            "--email",
            "solo@x.example",
            "--name",
            "Solo",
            "--password",
            PASSWORD,
        ]
    )
    assert result.exit_code == 0, result.output
    assert user_exists(app, "solo@x.example")


def test_user_create_refuses_duplicate_email(app: Any, runner: Any, factory: Any) -> None:
    factory.tenant("acme")
    factory.user("dup@acme.example", "First")
    result = runner.invoke(
        args=["user", "create", "--email", "DUP@acme.example", "--name", "Second"]
        + ["--password", PASSWORD, "--tenant", "acme"]
    )
    assert result.exit_code != 0
    assert "email: An account with this e-mail address already exists." in result.stderr
    assert "dup@acme.example" not in roles(app, tenant_row(app, "acme"))


def test_user_create_refuses_unknown_role_and_keeps_nothing(
    app: Any, runner: Any, factory: Any
) -> None:
    tenant = factory.tenant("acme")
    result = runner.invoke(
        args=["user", "create", "--email", "x@acme.example", "--name", "X"]
        + ["--password", PASSWORD, "--tenant", "acme", "--role", "emperor"]
    )
    assert result.exit_code != 0 and "role:" in result.stderr
    assert not user_exists(app, "x@acme.example")
    assert events(app, tenant, "member.joined") == []


def test_user_create_refuses_unknown_tenant_and_weak_password(app: Any, runner: Any) -> None:
    unknown = runner.invoke(
        args=["user", "create", "--email", "x@acme.example", "--name", "X"]
        + ["--password", PASSWORD, "--tenant", "nosuch"]
    )
    assert unknown.exit_code != 0 and "no tenant with slug 'nosuch'" in unknown.stderr
    weak = runner.invoke(
        args=["user", "create", "--email", "x@acme.example", "--name", "X", "--password", "weak"]
    )
    assert weak.exit_code != 0 and "password:" in weak.stderr
    assert not user_exists(app, "x@acme.example")


def _demo_counts(app: Any) -> tuple[int, int, int]:
    tenant = tenant_row(app, "demo")
    with in_tenant(app, tenant) as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model))
            for model in (Account, Contact, Membership)
        )


def test_demo_creates_sample_workspace_once(app: Any, runner: Any) -> None:
    result = runner.invoke(args=["demo", "--accounts", "12"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().startswith("created demo workspace /t/demo/")
    tenant = tenant_row(app, "demo")
    assert tenant is not None and tenant.name == "Acme Demo"
    accounts, contacts, members = _demo_counts(app)
    assert accounts == 12 + len(ERP_DEMO_PARTIES)  # and the customers the ERP demo synced
    assert 12 <= contacts <= 36  # one to three per account
    assert members == 4
    assert roles(app, tenant) == {
        DEMO_EMAIL: "owner",
        "manager@demo.example": "manager",
        "rep@demo.example": "member",
        "viewer@demo.example": "readonly",
    }

    again = runner.invoke(args=["demo", "--accounts", "12"])
    assert again.exit_code == 0, again.output
    assert again.output.strip().startswith("already present:")
    assert _demo_counts(app) == (accounts, contacts, members)
    assert tenant_count(app) == 1

    client = app.test_client()
    assert login(client, DEMO_EMAIL, DEMO_PASSWORD).status_code == 302
    page = client.get("/t/demo/accounts")
    assert page.status_code == 200 and "Northwind Traders" in page.text
    erp = client.get("/t/demo/erp/")
    assert erp.status_code == 200 and "Accounting export (demo)" in erp.text
    with in_tenant(app, tenant) as session:
        from plugins.erp.models import SyncRun

        run = session.scalars(select(SyncRun)).one()
        assert (run.status, run.failed, run.created) == ("succeeded", 0, 12)


def test_db_create_roles_needs_postgresql_url(app: Any, runner: Any) -> None:
    result = runner.invoke(args=["db", "create-roles", "--admin-url", "sqlite:///x.db"])
    assert result.exit_code != 0
    assert "needs a PostgreSQL URL" in result.stderr


def test_db_create_roles_needs_admin_url(app: Any, runner: Any) -> None:
    result = runner.invoke(args=["db", "create-roles"], env={"CRM_DB_ADMIN_URL": ""})
    assert result.exit_code != 0
    assert "--admin-url" in result.output


@pytest.mark.postgres
def test_db_create_roles_on_postgresql(app: Any, runner: Any) -> None:
    from conftest import PG_ADMIN
    from sqlalchemy import create_engine, text

    result = runner.invoke(
        args=["db", "create-roles", "--admin-url", PG_ADMIN.replace("+psycopg", "")]
    )
    assert result.exit_code == 0, result.output
    app_role, provider_role = app.config["DB_APP_ROLE"], app.config["DB_PROVIDER_ROLE"]
    assert f"roles ready: {app_role}, {provider_role}" in result.output
    engine = create_engine(PG_ADMIN)
    try:
        with engine.connect() as conn:
            rows = dict(
                conn.execute(
                    text(
                        "select rolname, rolbypassrls or rolsuper from pg_roles "
                        "where rolname in (:a, :p)"
                    ),
                    {"a": app_role, "p": provider_role},
                ).all()
            )
    finally:
        engine.dispose()
    assert rows == {app_role: False, provider_role: True}
