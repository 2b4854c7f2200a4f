"""Tenant isolation: the ORM chokepoint fails closed, and RLS holds when the ORM is bypassed.

Two tenants, A and B, each with an account and a contact. Every test works as A (or as
nobody) and tries to read, change, delete or point at B's rows; B's rows must come out of
every attempt unchanged.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import in_tenant
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from crm_platform.customers import Account, Contact
from crm_platform.extensions import db
from crm_platform.identity import Membership
from crm_platform.tenancy import (
    CrossTenantWrite,
    NoTenantContext,
    ProviderAccess,
    ProviderScopeRequired,
    provider_scope,
)


@pytest.fixture
def tenants(app: Any, factory: Any) -> dict[str, Any]:
    """Tenants A and B with one account and one contact each; their ids."""
    out: dict[str, Any] = {}
    for key in ("a", "b"):
        tenant = factory.tenant(f"tenant-{key}")
        with in_tenant(app, tenant) as session:
            account = Account(name=f"Account of {key.upper()}")
            session.add(account)
            session.flush()
            contact = Contact(first_name=f"Person of {key.upper()}", account_id=account.id)
            session.add(contact)
            session.commit()
            out[key] = tenant
            out[f"{key}_account"] = account.id
            out[f"{key}_contact"] = contact.id
    return out


def _b_rows(app: Any, tenants: dict[str, Any]) -> list[tuple]:
    with in_tenant(app, tenants["b"]) as session:
        rows = session.execute(
            select(Account.id, Account.name, Account.tenant_id).order_by(Account.id)
        ).all()
        rows += session.execute(
            select(Contact.id, Contact.first_name, Contact.account_id).order_by(Contact.id)
        ).all()
        return [tuple(r) for r in rows]


# ---------------------------------------------------------------- fail closed


@pytest.mark.parametrize(
    "statement",
    [
        lambda: select(Account),
        lambda: select(func.count()).select_from(Contact),
        lambda: select(Contact.first_name).join(Account, Contact.account),
        lambda: update(Account).values(name="x"),
        lambda: delete(Contact),
    ],
    ids=["select", "count", "join", "update", "delete"],
)
def test_tenant_data_with_no_tenant_context_raises(app: Any, tenants: dict, statement) -> None:
    with app.app_context():
        with pytest.raises(NoTenantContext):
            db.session.execute(statement())
        db.session.rollback()


def test_insert_with_no_tenant_context_raises(app: Any, tenants: dict) -> None:
    with app.app_context():
        db.session.add(Account(name="Orphan"))
        with pytest.raises(NoTenantContext):
            db.session.flush()
        db.session.rollback()


def test_platform_tables_need_no_tenant(app: Any, tenants: dict) -> None:
    from crm_platform.identity import Tenant

    with app.app_context():
        slugs = set(db.session.scalars(select(Tenant.slug)))
    assert {"tenant-a", "tenant-b"} <= slugs


# ---------------------------------------------------------------- ORM, as tenant A


def test_a_reads_only_its_own_rows(app: Any, tenants: dict) -> None:
    with in_tenant(app, tenants["a"]) as session:
        assert session.scalars(select(Account.name)).all() == ["Account of A"]
        assert session.scalars(select(Contact.first_name)).all() == ["Person of A"]
        assert session.scalar(select(func.count()).select_from(Account)) == 1
        assert session.get(Account, (tenants["b"].id, tenants["b_account"])) is None
        by_id = select(Account).where(Account.id == tenants["b_account"])
        assert session.scalars(by_id).first() is None
        joined = select(Contact, Account).join(Account, Contact.account)
        assert [(c.first_name, a.name) for c, a in session.execute(joined)] == [
            ("Person of A", "Account of A")
        ]


def test_a_cannot_update_or_delete_b_rows(app: Any, tenants: dict) -> None:
    before = _b_rows(app, tenants)
    with in_tenant(app, tenants["a"]) as session:
        changed = session.execute(
            update(Account).where(Account.id == tenants["b_account"]).values(name="hijacked")
        )
        assert changed.rowcount == 0
        removed = session.execute(delete(Contact).where(Contact.id == tenants["b_contact"]))
        assert removed.rowcount == 0
        everything = session.execute(delete(Contact))
        assert everything.rowcount == 1  # A's own contact only
        session.commit()
    assert _b_rows(app, tenants) == before


def test_a_cannot_reference_b_rows(app: Any, tenants: dict) -> None:
    before = _b_rows(app, tenants)
    with in_tenant(app, tenants["a"]) as session:
        session.add(Contact(first_name="Spy", account_id=tenants["b_account"]))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
    assert _b_rows(app, tenants) == before


def test_a_cannot_write_rows_stamped_for_b(app: Any, tenants: dict) -> None:
    before = _b_rows(app, tenants)
    with in_tenant(app, tenants["a"]) as session:
        session.add(Account(tenant_id=tenants["b"].id, name="Planted"))
        with pytest.raises(CrossTenantWrite):
            session.flush()
        session.rollback()
        own = session.scalars(select(Account)).one()
        own.tenant_id = tenants["b"].id
        with pytest.raises(CrossTenantWrite):
            session.flush()
        session.rollback()
    assert _b_rows(app, tenants) == before


def test_object_loaded_for_b_cannot_be_changed_as_a(app: Any, tenants: dict) -> None:
    before = _b_rows(app, tenants)
    with app.app_context():
        from crm_platform.tenancy import tenant_context

        with tenant_context(tenants["b"]):
            account = db.session.scalars(select(Account)).one()
        with tenant_context(tenants["a"]):
            account.name = "changed from A"
            with pytest.raises(CrossTenantWrite):
                db.session.flush()
            db.session.rollback()
    assert _b_rows(app, tenants) == before


# ---------------------------------------------------------------- provider scope


def test_provider_scope_sees_every_tenant_and_is_logged(app: Any, tenants: dict) -> None:
    with app.app_context():
        with provider_scope("count accounts", "ops@provider.example") as session:
            names = sorted(session.scalars(select(Account.name)))
        assert names == ["Account of A", "Account of B"]
        with provider_scope("read log", "tests") as session:
            log = session.scalars(select(ProviderAccess.reason)).all()
        assert "count accounts" in log


def test_provider_scope_needs_a_reason(app: Any) -> None:
    with app.app_context(), pytest.raises(ValueError), provider_scope(" ", "ops"):
        pass


def test_provider_session_outside_its_scope_raises(app: Any, tenants: dict) -> None:
    with app.app_context():
        with provider_scope("leak the session", "tests") as session:
            leaked = session
        with pytest.raises(ProviderScopeRequired):
            leaked.execute(select(Account))


# ---------------------------------------------------------------- PostgreSQL: RLS


def _raw_names(session: Any) -> list[str]:
    return sorted(session.execute(text("select name from accounts")).scalars())


@pytest.mark.postgres
def test_app_role_cannot_bypass_rls(app: Any) -> None:
    with app.app_context():
        row = db.session.execute(
            text(
                "select r.rolsuper, r.rolbypassrls, "
                "exists (select 1 from pg_tables where tableowner = current_user) "
                "from pg_roles r where r.rolname = current_user"
            )
        ).one()
    assert tuple(row) == (False, False, False)


@pytest.mark.postgres
def test_raw_sql_sees_only_the_current_tenant(app: Any, tenants: dict) -> None:
    with in_tenant(app, tenants["a"]) as session:
        assert _raw_names(session) == ["Account of A"]
        contacts = session.execute(text("select first_name from contacts")).scalars().all()
        assert contacts == ["Person of A"]
        members = session.execute(text("select tenant_id from memberships")).scalars().all()
        assert set(members) == {tenants["a"].id}
    with in_tenant(app, tenants["b"]) as session:
        assert _raw_names(session) == ["Account of B"]


@pytest.mark.postgres
def test_raw_sql_with_no_tenant_sees_nothing(app: Any, tenants: dict) -> None:
    with app.app_context():
        assert _raw_names(db.session) == []
        assert db.session.execute(text("select count(*) from contacts")).scalar() == 0
    with app.app_context(), db.engine.connect() as conn:
        # A bare connection, no session hooks at all: app.tenant_id was never set.
        assert conn.execute(text("select count(*) from accounts")).scalar() == 0
        assert conn.execute(text("select count(*) from memberships")).scalar() == 0


@pytest.mark.postgres
def test_raw_sql_cannot_touch_b_rows(app: Any, tenants: dict) -> None:
    before = _b_rows(app, tenants)
    b_account = str(tenants["b_account"])
    with in_tenant(app, tenants["a"]) as session:
        changed = session.execute(
            text("update accounts set name = 'hijacked' where id = :id"), {"id": b_account}
        )
        assert changed.rowcount == 0
        removed = session.execute(
            text("delete from contacts where account_id = :id"), {"id": b_account}
        )
        assert removed.rowcount == 0
        session.commit()
    with in_tenant(app, tenants["a"]) as session:
        with pytest.raises(DBAPIError, match="row-level security"):
            session.execute(
                text(
                    "insert into accounts (tenant_id, id, name, lifecycle_stage, created_at) "
                    "values (:t, :i, 'Planted', 'lead', now())"
                ),
                {"t": str(tenants["b"].id), "i": str(uuid.uuid4())},
            )
        session.rollback()
    with in_tenant(app, tenants["a"]) as session:
        with pytest.raises(DBAPIError, match="row-level security"):
            session.execute(text("update accounts set tenant_id = :t"), {"t": str(tenants["b"].id)})
        session.rollback()
    assert _b_rows(app, tenants) == before


@pytest.mark.postgres
def test_rls_follows_a_context_entered_mid_transaction(app: Any, tenants: dict) -> None:
    """Resolving the tenant begins the transaction; entering it afterwards must still apply."""
    from crm_platform.identity import Tenant
    from crm_platform.tenancy import tenant_context

    with app.app_context():
        tenant = db.session.scalars(select(Tenant).where(Tenant.slug == "tenant-b")).one()
        assert db.session().in_transaction()
        with tenant_context(tenant):
            assert _raw_names(db.session) == ["Account of B"]
        assert _raw_names(db.session) == []


@pytest.mark.postgres
def test_memberships_of_other_users_stay_hidden(app: Any, tenants: dict, factory: Any) -> None:
    """The self-read policy shows a user their own memberships, never anyone else's."""
    from crm_platform.identity import memberships_of_user

    stranger = factory.user("stranger@elsewhere.example")
    with app.app_context():
        assert memberships_of_user(stranger.id) == []
        owner_a = db.session.execute(
            text("select id from users where email = :e"), {"e": tenants["a"].owner_email}
        ).scalar_one()
        seen = memberships_of_user(owner_a)
        assert [t.slug for _, t in seen] == ["tenant-a"]
        assert all(isinstance(m, Membership) for m, _ in seen)


@pytest.mark.postgres
def test_the_transaction_begins_with_the_tenant_in_one_round_trip(app: Any, tenants: dict) -> None:
    """BEGIN and the RLS settings travel together; psycopg then sends no BEGIN of its own."""
    import psycopg

    sent: list[bytes] = []
    original = psycopg.Connection._exec_command

    def exec_command(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(bytes(command) if not isinstance(command, bytes) else command)
        return original(self, command, *args, **kwargs)

    psycopg.Connection._exec_command = exec_command  # type: ignore[method-assign]
    try:
        with in_tenant(app, tenants["a"]) as session:
            assert _raw_names(session) == ["Account of A"]
            setting = session.execute(text("select current_setting('app.tenant_id')")).scalar()
            assert setting == str(tenants["a"].id)
            session.rollback()
            # The next transaction of the same connection gets the values again.
            assert _raw_names(session) == ["Account of A"]
    finally:
        psycopg.Connection._exec_command = original  # type: ignore[method-assign]
    assert b"BEGIN" not in [c.strip().upper() for c in sent]


@pytest.mark.postgres
def test_a_transaction_with_its_own_isolation_level_still_gets_the_tenant(
    app: Any, tenants: dict
) -> None:
    """A connection with options for psycopg's own BEGIN sets the values the ordinary way."""
    with in_tenant(app, tenants["b"]) as session:
        session.connection(execution_options={"isolation_level": "SERIALIZABLE"})
        level = session.execute(text("show transaction_isolation")).scalar()
        assert level == "serializable"
        assert _raw_names(session) == ["Account of B"]
