"""Must show: a read-only (unpaid) tenant's every write path is refused — forms, the API,
imports, jobs, and the ORM underneath — while reads and exports keep working, and paying on
the billing page gives everything back. Real routes are driven; nothing is faked."""

from __future__ import annotations

import csv
import io
import itertools
from typing import Any

import pytest
from billing_helpers import invoices_of, make_unpaid, seed, subscription_of, tenant_row
from conftest import in_tenant, login
from helpers_web import post_form
from jobfuncs import create_account
from sqlalchemy import func, select, update

from billing.models import Invoice
from crm_platform.api.models import ApiKey
from crm_platform.audit import AuditEvent
from crm_platform.customers import Account, Contact
from crm_platform.dataio.models import ImportJob
from crm_platform.extensions import db
from crm_platform.identity import User
from crm_platform.jobs import job
from crm_platform.modules import enable_module, installed_modules
from crm_platform.sdk import TenantReadOnly, audit_record
from crm_platform.tenancy import provider_scope, tenant_tables
from crm_platform.testing import make_api_key, run_jobs

REASON = "Payment is overdue: the workspace is read-only"
#: Values of route arguments that are not record ids.
ARGUMENTS = {"token": ["not-a-token"], "module_key": ["hello"]}


@job(retries=0, read_only_ok=True)
def count_for_export() -> int:
    """A job that only reads (like an export): it runs while the tenant is read-only."""
    return int(db.session.scalar(select(func.count()).select_from(Account)) or 0)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "RATELIMIT_ENABLED": False}


@pytest.fixture
def api_keys() -> dict[str, str]:
    """API keys made while the tenant could still write."""
    return {}


@pytest.fixture
def acme(app: Any, factory: Any, api_keys: dict[str, str]) -> Any:
    """A tenant with data, every module on, an API key, then unpaid (read-only)."""
    seed(app)
    tenant = factory.tenant("acme")
    factory.member(tenant, "rep@acme.example", "member")
    api_keys["acme"] = make_api_key(app, tenant, tenant.owner_email)
    with in_tenant(app, tenant) as session:
        owner_id = session.scalar(select(User.id).where(User.email == tenant.owner_email))
        for key in installed_modules():
            enable_module(tenant_row(tenant), key)
        account = Account(name="Northwind")
        session.add(account)
        session.flush()
        session.add(Contact(first_name="Ada", last_name="Lovelace", account_id=account.id))
        session.add(
            ImportJob(
                target="contacts",
                filename="people.csv",
                format="csv",
                size=14,
                content=b"First name\nBo\n",
                encoding="utf-8",
                delimiter=",",
                headers=["First name"],
                total_rows=1,
                mapping=["first_name"],
                dedupe="create",
                locale="en",
                created_by_id=owner_id,
            )
        )
        session.commit()
    make_unpaid(app, tenant)
    return tenant


def _snapshot(app: Any, tenant: Any) -> dict[str, list[tuple]]:
    """Every row of ``tenant`` in every tenant table but the audit log and the API keys (the
    two writes allowed while read-only: an audit entry, a key's last use)."""
    with app.app_context(), provider_scope("read-only test", "tests") as session:
        out = {}
        for table in sorted(tenant_tables(), key=lambda t: t.name):
            if table.name in ("audit_events", "api_keys"):
                continue
            stmt = select(table).where(table.c.tenant_id == tenant.id)
            out[table.name] = [tuple(r) for r in session.execute(stmt)]
        return out


def _ids(app: Any, tenant: Any) -> list[str]:
    with in_tenant(app, tenant) as session:
        ids = []
        for model in (Account, Contact, ImportJob, ApiKey):
            ids += [str(i) for i in session.scalars(select(model.id))]
        return ids


def _write_urls(app: Any, ids: list[str]) -> list[tuple[str, str]]:
    """(method, url) of every tenant write route but the billing page's own."""
    out = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            view = app.view_functions[rule.endpoint]
            if "tenant_slug" not in rule.arguments or getattr(view, "crm_read_only_ok", False):
                continue
            others = sorted(rule.arguments - {"tenant_slug"})
            choices = [ARGUMENTS.get(a, ids[:2]) for a in others]
            for combo in itertools.product(*choices) if choices else [()]:
                values = dict(zip(others, combo, strict=True))
                url = app.url_for(rule.endpoint, tenant_slug="acme", **values)
                for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
                    out.append((method, url))
    return out


def test_every_tenant_form_is_refused(app: Any, client: Any, acme: Any) -> None:
    app.config["WTF_CSRF_ENABLED"] = False  # reach the read-only guard, not the CSRF guard
    before = _snapshot(app, acme)
    login(client, acme.owner_email)
    urls = _write_urls(app, _ids(app, acme))
    assert ("POST", "/t/acme/contacts/new") in urls
    assert ("POST", "/t/acme/imports/upload") in urls
    assert ("POST", "/t/acme/settings/modules/hello/disable") in urls
    for method, url in urls:
        response = client.open(url, method=method, data={"name": "X", "first_name": "X"})
        assert response.status_code == 403, f"{method} {url}: {response.status_code}"
        assert REASON in response.text, f"{method} {url}"
    assert _snapshot(app, acme) == before


def test_forms_say_why_and_link_to_billing(app: Any, client: Any, acme: Any) -> None:
    login(client, acme.owner_email)
    response = post_form(client, "/t/acme/accounts/new", {"name": "Contoso"})
    assert response.status_code == 403
    assert "This workspace is read-only" in response.text
    assert 'href="/t/acme/settings/billing"' in response.text
    home = client.get("/t/acme/")
    assert home.status_code == 200 and 'id="policy-banner"' in home.text and REASON in home.text


def test_api_writes_are_refused_and_reads_work(
    app: Any, client: Any, acme: Any, api_keys: dict[str, str]
) -> None:
    with in_tenant(app, acme) as session:
        contact_id = str(session.scalar(select(Contact.id)))
    headers = {"Authorization": f"Bearer {api_keys['acme']}"}
    before = _snapshot(app, acme)
    writes = [
        client.post("/api/v1/contacts", json={"first_name": "Bo"}, headers=headers),
        client.patch(f"/api/v1/contacts/{contact_id}", json={"title": "CEO"}, headers=headers),
        client.delete(f"/api/v1/contacts/{contact_id}", headers=headers),
        client.post("/api/v1/greetings", json={"message": "Hi"}, headers=headers),
    ]
    for response in writes:
        assert response.status_code == 403, response.get_data(as_text=True)
        assert response.json["error"]["code"] == "read_only"
        assert REASON in response.json["error"]["message"]
    listed = client.get("/api/v1/contacts", headers=headers)
    assert listed.status_code == 200 and listed.json["data"][0]["first_name"] == "Ada"
    assert client.get(f"/api/v1/contacts/{contact_id}", headers=headers).status_code == 200
    assert _snapshot(app, acme) == before
    with in_tenant(app, acme) as session:
        assert session.scalar(select(ApiKey.last_used_at)) is not None  # the allowed write


def test_imports_are_refused_before_starting(app: Any, client: Any, acme: Any) -> None:
    login(client, acme.owner_email)
    with in_tenant(app, acme) as session:
        waiting = session.scalar(select(ImportJob.id))
    upload = client.post(
        "/t/acme/imports/upload",
        data={
            "csrf_token": "irrelevant: the guard answers first",
            "target": "contacts",
            "file": (io.BytesIO(b"First name\nBo\n"), "people.csv"),
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 403
    start = post_form(
        client,
        f"/t/acme/imports/{waiting}",
        {"action": "start", "map_0": "first_name", "dedupe": "create"},
        page="/t/acme/imports",
    )
    assert start.status_code == 403
    with in_tenant(app, acme) as session:
        assert session.scalar(select(ImportJob.status)) == "uploaded"
        assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_jobs_that_write_are_refused_and_reading_jobs_run(app: Any, acme: Any) -> None:
    with in_tenant(app, acme):
        create_account.enqueue("Refused")
        count_for_export.enqueue()
    first, second = run_jobs(app)
    assert first.return_value()["skipped"].startswith(f"the workspace is read-only: {REASON}")
    assert second.return_value() == 1
    with in_tenant(app, acme) as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 1


def test_the_orm_refuses_any_tenant_write_but_the_audit_log(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        session.add(Account(name="Sneaky"))
        with pytest.raises(TenantReadOnly, match="Payment is overdue"):
            session.flush()
        session.rollback()
        with pytest.raises(TenantReadOnly):
            session.execute(update(Account).values(name="Renamed"))
        session.rollback()
        account = session.scalar(select(Account))
        session.delete(account)
        with pytest.raises(TenantReadOnly):
            session.flush()
        session.rollback()
        audit_record("data.exported", target="accounts")  # still audited
        session.commit()
        assert session.scalar(select(func.count()).select_from(Account)) == 1


def test_reads_and_exports_keep_working(app: Any, client: Any, acme: Any) -> None:
    login(client, acme.owner_email)
    for url in ("/t/acme/", "/t/acme/accounts", "/t/acme/contacts", "/t/acme/search?q=Ada"):
        assert client.get(url).status_code == 200, url
    with in_tenant(app, acme) as session:
        account_id = session.scalar(select(Account.id))
    page = client.get(f"/t/acme/accounts/{account_id}")
    assert page.status_code == 200 and "Northwind" in page.text
    exported = client.get("/t/acme/contacts/export?format=csv")
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert any("Ada" in row for row in rows)
    assert client.get("/t/acme/accounts/export?format=xlsx").status_code == 200
    with in_tenant(app, acme) as session:
        actions = session.scalars(select(AuditEvent.action)).all()
        assert actions.count("data.exported") == 2


def test_paying_on_the_billing_page_gives_writes_back(app: Any, client: Any, acme: Any) -> None:
    login(client, acme.owner_email)
    page = client.get("/t/acme/settings/billing")
    assert page.status_code == 200 and REASON in page.text
    overdue = next(i for i in invoices_of(app, acme) if i["status"] == "open")
    paid = post_form(
        client,
        f"/t/acme/settings/billing/invoices/{overdue['id']}/pay",
        page="/t/acme/settings/billing",
    )
    assert paid.status_code == 303
    assert subscription_of(app, acme)["status"] == "active"
    created = post_form(client, "/t/acme/accounts/new", {"name": "Contoso"})
    assert created.status_code == 302
    with app.app_context():
        invoice = db.session.get(Invoice, overdue["id"])
        assert invoice.status == "paid" and invoice.paid_at is not None
