"""Tenant export and import: a round trip into another instance (same ids, new ids), two
independent copies in one instance, and bad archives refused before anything is written."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import in_tenant, login
from helpers_lifecycle import build_tenant, counts, dispose_all, second_database, snapshot
from sqlalchemy import func, select

from crm_platform import create_app
from crm_platform.customers import Account, Contact
from crm_platform.extensions import db
from crm_platform.identity import Tenant, User
from crm_platform.tenant_archive import archive_tables
from crm_platform.testing import PASSWORD


@pytest.fixture
def world(app: Any, factory: Any) -> Any:
    source = build_tenant(app, factory, "source")
    other = factory.tenant("bystander")  # never exported: must not leak into the archive
    with in_tenant(app, other) as session:
        session.add(Account(name="Bystander Secret"))
        session.commit()
    return source


def _export(runner: Any, slug: str, path: Path) -> None:
    result = runner.invoke(args=["tenant", "export", slug, "--out", str(path)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    assert "exported" in result.output


def _tenants(app: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Tenant))


def _users(app: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def _tenant(app: Any, slug: str) -> Tenant:
    with app.app_context():
        row = db.session.scalars(select(Tenant).where(Tenant.slug == slug)).one()
        db.session.expunge(row)
        return row


def test_archive_has_every_tenant_table_and_a_checked_manifest(
    app: Any, runner: Any, world: Any, tmp_path: Path
) -> None:
    path = tmp_path / "source.zip"
    _export(runner, "source", path)
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = set(zf.namelist())
        everything = b"".join(zf.read(n) for n in names)
    assert manifest["format"] == "crm-tenant-archive" and manifest["tenant"]["slug"] == "source"
    assert set(manifest["tables"]) == {t.name for t in archive_tables()}
    assert manifest["schema_revisions"] and manifest["source"] == "http://localhost"
    expected = counts(app, world.id)
    for name, entry in manifest["tables"].items():
        assert entry["rows"] == expected.get(name, 0), name
        assert entry["file"] in names
    for table in ("accounts", "contacts", "activities", "sfa_deals", "sfa_quotes",
                  "sfa_quote_lines", "service_tickets", "marketing_segments", "record_tags",
                  "custom_fields", "memberships", "tenant_modules"):  # fmt: skip
        assert manifest["tables"][table]["rows"] > 0, table
    users = [json.loads(line) for line in zipfile.ZipFile(path).read("users.jsonl").splitlines()]
    assert {u["email"] for u in users} >= {"owner@source.example", "rep@source.example"}
    assert all("password_hash" not in u for u in users)
    assert b"Bystander Secret" not in everything and b"owner@bystander" not in everything
    assert b"scrypt:" not in everything  # no password hash anywhere


def test_round_trip_into_another_instance_same_ids_and_remapped(
    app: Any, app_config: dict[str, Any], runner: Any, world: Any, tmp_path: Path, redis_url: str
) -> None:
    path = tmp_path / "source.zip"
    _export(runner, "source", path)
    before = snapshot(app, world.id)
    raw_before = snapshot(app, world.id, ids=True)
    with second_database(tmp_path, redis_url) as cfg:
        other = create_app({**app_config, **cfg})
        try:
            cli = other.test_cli_runner()
            result = cli.invoke(args=["tenant", "import", str(path)])
            assert result.exit_code == 0, result.output
            same = _tenant(other, "source")
            assert same.id != world.id and same.name == world.name
            after = snapshot(other, same.id)
            assert (
                after.pop("audit_events")[: len(before["audit_events"])] == before["audit_events"]
            )
            assert after == {k: v for k, v in before.items() if k != "audit_events"}
            raw = snapshot(other, same.id, ids=True)
            for table in ("accounts", "contacts", "sfa_deals", "service_tickets"):
                assert [r["id"] for r in raw[table]] == [r["id"] for r in raw_before[table]]

            result = cli.invoke(
                args=["tenant", "import", str(path), "--slug", "copy", "--remap-ids"]
            )
            assert result.exit_code == 0, result.output
            copy = _tenant(other, "copy")
            after = snapshot(other, copy.id)
            after.pop("audit_events")
            assert after == {k: v for k, v in before.items() if k != "audit_events"}
            raw = snapshot(other, copy.id, ids=True)
            assert not {r["id"] for r in raw["accounts"]} & {
                r["id"] for r in raw_before["accounts"]
            }
            with in_tenant(other, copy) as session:  # relationships, read through the ORM
                ada = session.scalars(select(Contact).where(Contact.first_name == "Ada")).one()
                account = session.get(Account, (copy.id, ada.account_id))
                assert account.name == "Globex" and ada.custom == {"tier": "gold"}
                from plugins.sfa.models import Deal

                row = session.scalars(select(Deal)).unique().one()
                assert session.get(Account, (copy.id, row.account_id)).name == "Globex"
            # imported members exist without a password; the workspace opens for a new one
            with other.app_context():
                rep = db.session.scalars(
                    select(User).where(User.email == "rep@source.example")
                ).one()
                assert rep.password_hash == ""
            client = other.test_client()
            assert login(client, "owner@source.example", PASSWORD).status_code != 302
        finally:
            dispose_all(other)


def test_two_remapped_copies_in_the_same_instance_are_independent(
    app: Any, runner: Any, world: Any, tmp_path: Path
) -> None:
    path = tmp_path / "source.zip"
    _export(runner, "source", path)
    before = snapshot(app, world.id)
    before.pop("audit_events")
    users = _users(app)
    for slug in ("copy-one", "copy-two"):
        result = runner.invoke(args=["tenant", "import", str(path), "--slug", slug, "--remap-ids"])
        assert result.exit_code == 0, result.output
    assert _users(app) == users  # members matched by e-mail, none created
    one, two = _tenant(app, "copy-one"), _tenant(app, "copy-two")
    for tenant in (one, two):
        after = snapshot(app, tenant.id)
        after.pop("audit_events")
        assert after == before
    with in_tenant(app, one) as session:
        session.scalars(select(Account).where(Account.name == "Globex")).one().name = "Changed"
        session.commit()
    with in_tenant(app, two) as session:
        assert session.scalars(select(Account).where(Account.name == "Globex")).one()
    with in_tenant(app, world) as session:
        assert session.scalars(select(Account).where(Account.name == "Globex")).one()
    client = app.test_client()  # the owner of the source is the owner of the copies
    assert login(client, "owner@source.example").status_code == 302
    page = client.get("/t/copy-one/accounts")
    assert page.status_code == 200 and "Changed" in page.text


# --------------------------------------------------------------------------- bad archives


def _rewrite(path: Path, out: Path, change: Any) -> None:
    """Copy an archive, letting ``change(name, data)`` return new bytes for a member."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, change(name, src.read(name)))


def _refused(app: Any, runner: Any, archive: Path, *args: str) -> str:
    tenants, users = _tenants(app), _users(app)
    result = runner.invoke(args=["tenant", "import", str(archive), *args])
    assert result.exit_code != 0
    assert _tenants(app) == tenants and _users(app) == users  # nothing written
    return result.output


def test_bad_archives_are_refused_and_nothing_is_written(
    app: Any, runner: Any, world: Any, tmp_path: Path
) -> None:
    path = tmp_path / "source.zip"
    _export(runner, "source", path)
    data = path.read_bytes()

    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: len(data) // 2])
    assert "not a readable ZIP archive" in _refused(
        app, runner, cut, "--slug", "x-cut", "--remap-ids"
    )

    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    assert "error:" in _refused(app, runner, garbage, "--slug", "x-garbage")

    tampered = tmp_path / "tampered.zip"
    _rewrite(path, tampered, lambda n, d: d.replace(b"Globex", b"Globey"))
    output = _refused(app, runner, tampered, "--slug", "x-tampered", "--remap-ids")
    assert "checksum mismatch" in output

    def old_schema(name: str, d: bytes) -> bytes:
        if name != "manifest.json":
            return d
        manifest = json.loads(d)
        manifest["schema_revisions"] = ["0001_core"]
        return json.dumps(manifest).encode()

    old = tmp_path / "old.zip"
    _rewrite(path, old, old_schema)
    output = _refused(app, runner, old, "--slug", "x-old", "--remap-ids")
    assert "schema revision 0001_core" in output and "upgrade" in output

    # same ids into the instance that still has them: refused unless remapped
    output = _refused(app, runner, path, "--slug", "x-collide")
    assert "already exist" in output and "--remap-ids" in output
    # the slug of an existing tenant
    assert "already exists" in _refused(app, runner, path, "--remap-ids")


def test_a_failure_while_writing_rolls_everything_back(
    app: Any, runner: Any, world: Any, tmp_path: Path
) -> None:
    path = tmp_path / "source.zip"
    _export(runner, "source", path)

    # a row that the database refuses (a NOT NULL column emptied), with a matching checksum
    import hashlib

    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        lines = zf.read("tables/accounts.jsonl").splitlines(keepends=True)
    broken = json.loads(lines[-1])
    broken["name"] = None
    lines[-1] = (json.dumps(broken) + "\n").encode()
    body = b"".join(lines)
    manifest["tables"]["accounts"]["sha256"] = hashlib.sha256(body).hexdigest()

    def patch(name: str, d: bytes) -> bytes:
        if name == "tables/accounts.jsonl":
            return body
        if name == "manifest.json":
            return json.dumps(manifest).encode()
        return d

    out = tmp_path / "broken.zip"
    _rewrite(path, out, patch)
    assert "nothing was written" in _refused(app, runner, out, "--slug", "x-broken", "--remap-ids")


# --------------------------------------------------------------------------- export job


def test_export_job_stores_a_streamed_download(app: Any, world: Any) -> None:
    from conftest import run_jobs

    from crm_platform.tenant_exports import TenantExport, iter_archive, request_export

    with app.app_context():
        tenant = db.session.get(Tenant, world.id)
        row = request_export(tenant, "tests")
        db.session.commit()
        export_id = row.id
    jobs = run_jobs(app)
    assert jobs and jobs[-1].get_status() == "finished"
    with app.app_context():
        row = db.session.get(TenantExport, export_id)
        assert row.status == "done" and row.downloadable and row.size > 0
        data = b"".join(iter_archive(export_id))
    assert len(data) == row.size
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    assert manifest["tenant"]["id"] == str(world.id)


def test_the_owner_exports_the_workspace_from_settings(app: Any, factory: Any) -> None:
    import re

    from conftest import run_jobs

    acme = factory.tenant("acme", owner_email="owner@acme.example")
    factory.member(acme, "rep@acme.example", "admin")
    factory.tenant("other", owner_email="owner@other.example")
    owner, rep, stranger = app.test_client(), app.test_client(), app.test_client()
    login(owner, "owner@acme.example")
    login(rep, "rep@acme.example")
    login(stranger, "owner@other.example")
    settings = owner.get("/t/acme/settings").text
    assert "/t/acme/settings/data" in settings
    page = owner.get("/t/acme/settings/data").text
    token = re.search(r'csrf_token"[^>]*value="([^"]+)"', page).group(1)
    queued = owner.post("/t/acme/settings/data/export", data={"export-csrf_token": token})
    assert queued.status_code == 302
    run_jobs(app)
    page = owner.get("/t/acme/settings/data").text
    link = re.search(r'href="(/t/acme/settings/data/exports/[^"]+/download)"', page).group(1)
    download = owner.get(link)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(download.data)).read("manifest.json"))
    assert manifest["tenant"]["slug"] == "acme"
    assert rep.get(link).status_code == 403  # owners only
    assert stranger.get(link).status_code == 404  # not a member
    assert stranger.get(link.replace("/t/acme/", "/t/other/")).status_code == 404
