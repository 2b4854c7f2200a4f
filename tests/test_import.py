"""Spreadsheet imports: upload, mapping, preview, the job with progress, dedupe, the rejected
rows report, atomicity, plugin targets, and every kind of bad input (with nothing written)."""

from __future__ import annotations

import html
import io
import uuid
from typing import Any

import pluggy
import pytest
from conftest import in_tenant, login
from helpers_dataio import selected, text_of
from helpers_records import Recorder, add, add_field, app_with, dispose
from helpers_web import csrf, events, flashes
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder

from crm_platform.customers import Account, Contact
from crm_platform.dataio import engine, runner
from crm_platform.dataio.core_targets import RecordImporter
from crm_platform.dataio.models import ImportJob
from crm_platform.plugin_types import ImportTarget
from crm_platform.provisioning import ValidationFailed
from crm_platform.records.tags import RecordTag
from crm_platform.testing import run_jobs

hookimpl = pluggy.HookimplMarker("crm")
IMPORTS = "/t/acme/imports"


class Cards:
    """A plugin import target with only ``import_row`` (no batch importer, no dedupe)."""

    crm_plugin_name = "test-cards"

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def _import(self, values: dict[str, Any]) -> Any:
        if not values.get("number", "").isdigit():
            raise ValidationFailed({"number": "Enter digits only."})
        self.rows.append(values)
        return values

    @hookimpl
    def crm_import_targets(self) -> list[ImportTarget]:
        return [
            ImportTarget(
                "cards",
                "Loyalty cards",
                {"number": "Card number", "holder": "Holder"},
                self._import,
                required=("number",),
            )
        ]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def cards() -> Cards:
    return Cards()


@pytest.fixture
def app(app: Any, app_config: dict[str, Any], recorder: Recorder, cards: Cards) -> Any:
    application = app_with(app_config, recorder, cards)
    yield application
    dispose(application)


@pytest.fixture
def acme(factory: Any) -> Any:
    return factory.tenant("acme", owner_email="owner@acme.example", name="Acme Works")


@pytest.fixture
def owner(app: Any, acme: Any) -> Any:
    client = app.test_client()
    assert login(client, "owner@acme.example").status_code == 302
    return client


# --------------------------------------------------------------------------- helpers


def upload(client: Any, data: bytes, name: str = "people.csv", target: str = "contacts") -> Any:
    """POST the upload form as a browser would."""
    return client.post(
        f"{IMPORTS}/upload",
        data={
            "csrf_token": csrf(client, IMPORTS),
            "target": target,
            "file": (io.BytesIO(data), name),
        },
        content_type="multipart/form-data",
    )


def uploaded(client: Any, data: bytes, **kw: Any) -> str:
    """Upload and return the import page's path."""
    response = upload(client, data, **kw)
    assert response.status_code == 303, response.text
    return response.headers["Location"]


def start(client: Any, url: str, mapping: dict[int, str], dedupe: str = "skip", **kw: Any) -> Any:
    form = {f"col_{i}": field for i, field in mapping.items()}
    return client.post(
        url,
        data={"csrf_token": csrf(client, url), **form, "dedupe": dedupe, "action": "start", **kw},
    )


def run(app: Any, client: Any, data: bytes, mapping: dict[int, str], **kw: Any) -> str:
    """Upload, map, start and run an import; the import page's path."""
    dedupe = kw.pop("dedupe", "skip")
    url = uploaded(client, data, **kw)
    assert start(client, url, mapping, dedupe).status_code == 303
    run_jobs(app)
    return url


def imports(app: Any, tenant: Any) -> list[ImportJob]:
    with in_tenant(app, tenant) as session:
        rows = session.scalars(select(ImportJob).order_by(ImportJob.created_at)).unique().all()
        session.expunge_all()
        return list(rows)


def count(app: Any, tenant: Any, model: Any) -> int:
    with in_tenant(app, tenant) as session:
        return session.scalar(select(func.count()).select_from(model))


def contacts(app: Any, tenant: Any) -> dict[str, Any]:
    """Contacts by e-mail (or first name when there is none): column snapshots."""
    with in_tenant(app, tenant) as session:
        out = {}
        for c in session.scalars(select(Contact)).unique():
            out[c.email or c.first_name] = {
                k.key: getattr(c, k.key) for k in Contact.__table__.columns
            }
        return out


CSV = (
    b"First name,Last name,E-mail,Phone,Company,Owner,Stage,Tags,VIP level,Favourite colour\n"
    b"Ann,Lee,ANN@Example.com,+86 21 5555 1234,Globex,owner@acme.example,Customer,"
    b"vip; north,gold,red\n"
    b"Bob,,bob@example,,,,,,,blue\n"
    b"Cid,Ng,cid@example.com,12,Nowhere Inc,nobody@acme.example,,,platinum,\n"
    b"Dee,,ann@example.com,,,,,,,\n"
    b'Eve,Ray,eve@example.com,,,,lead,"a, b",,green\n'
)


def _setup(app: Any, acme: Any) -> str:
    add_field(app, acme, "contact", "vip", "choice", label="VIP level", choices=["gold", "silver"])
    return add(app, acme, "account", name="Globex")


# --------------------------------------------------------------------------- the journey


def test_import_contacts_end_to_end(app: Any, owner: Any, acme: Any, recorder: Recorder) -> None:
    globex = _setup(app, acme)
    page = owner.get("/t/acme/contacts")
    assert f'href="{IMPORTS}?target=contacts"' in page.text
    assert f'href="{IMPORTS}"' in page.text  # navigation
    chooser = owner.get(f"{IMPORTS}?target=contacts")
    assert '<option selected value="contacts">Contacts</option>' in chooser.text
    assert '<option value="cards">Loyalty cards</option>' in chooser.text  # a plugin's target

    url = uploaded(owner, CSV)
    mapping_page = owner.get(url)
    assert mapping_page.status_code == 200
    proposed = selected(mapping_page.text)
    assert proposed == {
        0: "first_name",
        1: "last_name",
        2: "email",
        3: "phone",
        4: "account_id",
        5: "owner_id",
        6: "lifecycle_stage",
        7: "tags",
        8: "cf_vip",
    }  # "Favourite colour" is unknown: ignored
    preview = text_of(mapping_page.text)
    assert "2 New Ann Lee ann@example.com +862155551234" in preview
    assert "3 Rejected E-mail:" in preview
    assert "Same as line 2." in preview
    assert count(app, acme, Contact) == 0  # a preview writes nothing

    queued = start(owner, url, proposed)
    assert queued.status_code == 303
    waiting = owner.get(url)
    assert 'hx-trigger="every 1s"' in waiting.text
    assert 'value="0"' in waiting.text and "Queued" in waiting.text
    assert recorder.of("contacts.imported") == []

    jobs = run_jobs(app)
    assert [j.get_status() for j in jobs] == ["finished"]
    status = owner.get(f"{url}/status")
    assert 'hx-trigger="every 1s"' not in status.text  # polling stops
    assert '<progress class="import-progress" max="100" value="100"' in status.text
    text = text_of(status.text)
    assert "100% · Done" in text
    assert "2 created 0 updated 0 skipped (already there) 3 rejected" in text
    assert "3 E-mail: The part after the @-sign is not valid." in text or "3 E-mail:" in text
    assert "4 Phone: Enter a phone number of 6 to 15 digits" in text
    assert "Account: No account is called “Nowhere Inc”." in text
    assert "Owner: No member has the e-mail address “nobody@acme.example”." in text
    assert "VIP level: Choose one of the listed options." in text
    assert "5 E-mail: Same as line 2." in text

    found = contacts(app, acme)
    assert set(found) == {"ann@example.com", "eve@example.com"}
    ann = found["ann@example.com"]
    assert ann["phone"] == "+862155551234" and ann["lifecycle_stage"] == "customer"
    assert str(ann["account_id"]) == globex and ann["custom"] == {"vip": "gold"}
    assert ann["tags"] == ["vip", "north"] and ann["source"] == "import"
    assert ann["name_key"] == "ann lee" and ann["owner_id"] is not None
    assert found["eve@example.com"]["tags"] == ["a", "b"]
    with in_tenant(app, acme) as session:
        tags = sorted(session.scalars(select(RecordTag.tag).where(RecordTag.kind == "contact")))
    assert tags == ["a", "b", "north", "vip"]
    listed = owner.get("/t/acme/contacts?tag=vip")
    assert "Ann Lee" in listed.text and "Eve Ray" not in listed.text

    assert "contact.created" not in recorder.names()
    (event,) = recorder.of("contacts.imported")
    assert event[1] == {
        "import_id": url.rsplit("/", 1)[1],
        "created": 2,
        "updated": 0,
        "skipped": 0,
        "rejected": 3,
    }
    (audit,) = events(app, acme, "data.imported")
    assert audit.target == "contacts" and audit.details["created"] == 2
    assert audit.actor_label == "owner@acme.example"

    report = owner.get(f"{url}/rejected.csv")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    lines = report.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Line,Problems,First name,Last name,E-mail")
    assert lines[1].startswith("3,E-mail:") and lines[1].endswith(",,,,,,blue")
    assert len(lines) == 4

    (imp,) = imports(app, acme)
    assert imp.status == "done" and imp.content is None  # the file is dropped once imported
    history = text_of(owner.get(IMPORTS).text)
    assert "Contacts people.csv Done 2 0 0 3 owner@acme.example" in history


def test_progress_is_reported_per_chunk(app: Any, owner: Any, acme: Any, monkeypatch: Any) -> None:
    reports: list[tuple[int, int, str]] = []
    monkeypatch.setattr(engine, "CHUNK", 2)
    monkeypatch.setattr(runner, "set_progress", lambda d, t, m="": reports.append((d, t, m)))
    rows = "".join(f"P{i},p{i}@example.com\n" for i in range(5))
    run(app, owner, f"First name,E-mail\n{rows}".encode(), {0: "first_name", 1: "email"})
    assert [(d, t) for d, t, _m in reports] == [(0, 5), (2, 5), (4, 5), (5, 5), (5, 5)]
    assert reports[1][2] == "2 of 5 rows checked" and reports[-1][2] == "Done"


def test_status_shows_running_progress_from_the_job(app: Any, owner: Any, acme: Any) -> None:
    from rq.job import Job

    from crm_platform.redis_conn import get_redis

    url = uploaded(owner, b"First name\nAnn\n")
    start(owner, url, {0: "first_name"}, "create")
    with app.app_context():
        from crm_platform.jobs import get_queue

        job = Job.fetch(get_queue(app).job_ids[0], connection=get_redis(app))
        job.meta.update({"progress_done": 40, "progress_total": 160, "progress_msg": "40 of 160"})
        job.save_meta()
    with in_tenant(app, acme) as session:
        imp = session.scalars(select(ImportJob)).one()
        imp.status, imp.job_id = "running", job.id
        session.commit()
    page = owner.get(f"{url}/status")
    assert 'value="25"' in page.text and "25% · Running · 40 of 160" in text_of(page.text)
    assert 'hx-trigger="every 1s"' in page.text


# --------------------------------------------------------------------------- dedupe


def test_dedupe_skip_update_and_create_for_contacts(app: Any, owner: Any, acme: Any) -> None:
    add(
        app,
        acme,
        "contact",
        first_name="Old",
        last_name="Name",
        email="ann@example.com",
        region="North",
    )
    data = b"First name,E-mail,Region,Job title\nAnn,ANN@example.com,,Boss\nNew,new@example.com,,\n"
    mapping = {0: "first_name", 1: "email", 2: "region", 3: "title"}

    run(app, owner, data, mapping, dedupe="skip")
    assert imports(app, acme)[-1].skipped_count == 1
    assert contacts(app, acme)["ann@example.com"]["first_name"] == "Old"
    assert count(app, acme, Contact) == 2

    run(app, owner, data, mapping, dedupe="update")
    done = imports(app, acme)[-1]
    assert (done.created_count, done.updated_count, done.skipped_count) == (0, 2, 0)
    ann = contacts(app, acme)["ann@example.com"]
    # Non-empty cells replace values; empty cells keep them.
    assert (ann["first_name"], ann["last_name"], ann["title"], ann["region"]) == (
        "Ann",
        "Name",
        "Boss",
        "North",
    )

    run(app, owner, data, mapping, dedupe="create")
    assert imports(app, acme)[-1].created_count == 2
    assert count(app, acme, Contact) == 4


def test_dedupe_skip_across_chunks_sees_the_file_and_only_this_tenant(
    app: Any, owner: Any, acme: Any, factory: Any, monkeypatch: Any
) -> None:
    """The skip rule's lookup runs beside the writes (a second connection on PostgreSQL):
    rows of earlier chunks are still caught, and another tenant's contacts never match."""
    globex = factory.tenant("globex", owner_email="owner@globex.example", name="Globex")
    add(app, globex, "contact", first_name="Theirs", email="shared@example.com")
    add(app, acme, "contact", first_name="Ours", email="old@example.com")
    monkeypatch.setattr(engine, "CHUNK", 2)
    rows = [
        "A,a@example.com",
        "B,shared@example.com",  # only globex has it: created here
        "C,OLD@example.com",  # acme has it: skipped
        "D,a@example.com",  # line 2 again, one chunk later: rejected
        "E,e@example.com",
        "F,Shared@example.com",  # line 3 again, two chunks later: rejected
    ]
    data = ("First name,E-mail\n" + "\n".join(rows) + "\n").encode()
    run(app, owner, data, {0: "first_name", 1: "email"}, dedupe="skip")
    done = imports(app, acme)[-1]
    assert (done.created_count, done.skipped_count, done.rejected_count) == (3, 1, 2)
    assert [line for line, _problems in done.rejections] == [5, 7]
    assert "Same as line 2" in " ".join(done.rejections[0][1])
    mine = contacts(app, acme)
    assert set(mine) == {"a@example.com", "shared@example.com", "old@example.com", "e@example.com"}
    assert mine["old@example.com"]["first_name"] == "Ours"
    assert contacts(app, globex)["shared@example.com"]["first_name"] == "Theirs"


def test_dedupe_of_accounts_by_name_or_website(app: Any, owner: Any, acme: Any) -> None:
    add(app, acme, "account", name="Globex Corp.", website="https://www.globex.example/")
    data = (
        b"Company,Website,Industry\n"
        b"GLOBEX CORP,,Energy\n"
        b"Other name,http://globex.example,Energy\n"
        b"Initech,initech.example,Software\n"
        b"initech,,Software\n"
    )
    url = run(app, owner, data, {0: "name", 1: "website", 2: "industry"}, target="accounts")
    done = imports(app, acme)[-1]
    assert (done.created_count, done.skipped_count, done.rejected_count) == (1, 2, 1)
    assert "5 Company name: Same as line 4." in text_of(owner.get(url).text)
    assert count(app, acme, Account) == 2


def test_dedupe_only_sees_records_the_member_sees(app: Any, acme: Any, factory: Any) -> None:
    from crm_platform.identity import Tenant
    from crm_platform.records.visibility import save_visibility_settings

    factory.member(acme, "rep@acme.example", "member")
    with in_tenant(app, acme) as session:
        tenant = session.get(Tenant, acme.id)
        save_visibility_settings(tenant, {"member": "own"})
        session.commit()
    add(app, acme, "contact", first_name="Hidden", email="hidden@example.com")
    rep = app.test_client()
    login(rep, "rep@acme.example")
    run(
        app,
        rep,
        b"First name,E-mail\nMine,hidden@example.com\n",
        {0: "first_name", 1: "email"},
        dedupe="update",
    )
    done = imports(app, acme)[-1]
    assert (done.created_count, done.updated_count) == (1, 0)
    assert contacts(app, acme)["hidden@example.com"]["first_name"] in ("Hidden", "Mine")
    with in_tenant(app, acme) as session:
        names = set(session.scalars(select(Contact.first_name)))
    assert names == {"Hidden", "Mine"}  # the hidden record was not touched


# --------------------------------------------------------------------------- atomicity


def test_a_failure_while_writing_leaves_nothing_half_imported(
    app: Any, owner: Any, acme: Any, recorder: Recorder, monkeypatch: Any
) -> None:
    monkeypatch.setattr(engine, "CHUNK", 2)
    calls: list[int] = []
    original = RecordImporter.write

    def failing(self: Any, results: Any) -> None:
        calls.append(len(results))
        original(self, results)
        if len(calls) == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(RecordImporter, "write", failing)
    rows = "".join(f"P{i},p{i}@example.com,t{i}\n" for i in range(5))
    url = run(
        app,
        owner,
        f"First name,E-mail,Tags\n{rows}".encode(),
        {0: "first_name", 1: "email", 2: "tags"},
    )
    assert calls == [2, 2]  # two chunks were written before the failure
    assert count(app, acme, Contact) == 0 and count(app, acme, RecordTag) == 0
    (imp,) = imports(app, acme)
    assert imp.status == "failed"
    assert imp.error == "The import failed while writing (RuntimeError); nothing was imported."
    page = text_of(owner.get(url).text)
    assert "Failed" in page and "Nothing was imported." in page
    assert recorder.of("contacts.imported") == [] and events(app, acme, "data.imported") == []
    assert run_jobs(app) == []  # not retried


def test_a_finished_import_does_not_run_twice(app: Any, owner: Any, acme: Any) -> None:
    url = run(app, owner, b"First name\nAnn\n", {0: "first_name"}, dedupe="create")
    import_id = url.rsplit("/", 1)[1]
    with in_tenant(app, acme):
        assert runner.run_import(import_id) == {"skipped": "not waiting to run"}
    assert count(app, acme, Contact) == 1


def test_an_import_whose_target_is_gone_fails_cleanly(app: Any, owner: Any, acme: Any) -> None:
    url = uploaded(owner, b"First name\nAnn\n")
    start(owner, url, {0: "first_name"}, "create")
    with in_tenant(app, acme) as session:
        session.scalars(select(ImportJob)).one().target = "vanished"
        session.commit()
    run_jobs(app)
    (imp,) = imports(app, acme)
    assert imp.status == "failed"
    assert imp.error == "There is no import target “vanished” in this workspace."
    assert count(app, acme, Contact) == 0


# --------------------------------------------------------------------------- bad input


def _nothing_written(app: Any, acme: Any) -> None:
    assert imports(app, acme) == []
    assert count(app, acme, Contact) == 0 and count(app, acme, Account) == 0


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (
            b'First name,E-mail\nAnn,"ann@example.com\n',
            "p.csv",
            "The file is not valid CSV at line 2: a quote is opened but never closed.",
        ),
        (
            b'First name,E-mail\n"Ann"x,ann@example.com\n',
            "p.csv",
            "The file is not valid CSV at line 2: a quoted cell must end with a quote followed by "
            "the delimiter.",
        ),
        (b"First name\nJos\x80\xff\n", "p.csv", "The file's characters cannot be read"),
        (b"", "p.csv", "The file is empty."),
        (
            b"Ann,ann@example.com\nBob,bob@example.com\n",
            "p.csv",
            "The first line looks like data (“ann@example.com”), not column names",
        ),
        (b"First name,E-mail\n", "p.csv", "The file has a header line but no rows to import."),
        (b"PK\x03\x04garbage", "p.xlsx", "The file is not a valid Excel workbook (.xlsx)."),
        (b"\xd0\xcf\x11\xe0old", "p.xls", "This is an old Excel workbook (.xls)"),
    ],
)
def test_bad_files_are_refused_at_upload(
    app: Any, owner: Any, acme: Any, data: bytes, name: str, message: str
) -> None:
    response = upload(owner, data, name=name)
    assert response.status_code == 400
    assert message in html.unescape(response.text)
    _nothing_written(app, acme)


def test_a_target_that_does_not_exist(app: Any, owner: Any, acme: Any) -> None:
    response = upload(owner, b"First name\nAnn\n", target="nope")
    assert response.status_code == 400
    assert "There is no such import target: choose one of the list." in response.text
    _nothing_written(app, acme)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "IMPORT_MAX_BYTES": 16384, "IMPORT_MAX_ROWS": 50}


class Stream:
    """A request body that counts what the server reads of it."""

    def __init__(self, size: int) -> None:
        self.size, self.pos, self.read_bytes = size, 0, 0

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.pos
        n = left if n is None or n < 0 else min(n, left)
        self.pos += n
        self.read_bytes += n
        return b"x" * n

    def readline(self, n: int = -1) -> bytes:
        return self.read(min(n, 1024) if n and n > 0 else 1024)

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = self.size + offset if whence == 2 else offset
        return self.pos


def test_an_oversized_upload_is_refused_before_it_is_read(app: Any, owner: Any, acme: Any) -> None:
    token = csrf(owner, IMPORTS)
    body = Stream(100 * 1024 * 1024)
    environ = EnvironBuilder(
        f"{IMPORTS}/upload?csrf_token={token}",
        method="POST",
        data=b"",
        content_type="multipart/form-data; boundary=xyz",
    ).get_environ()
    environ.update({"wsgi.input": body, "CONTENT_LENGTH": str(body.size)})
    response = owner.open(environ)
    assert response.status_code == 413
    assert "The file is larger than 16 KB: split it into smaller files." in response.text
    assert body.read_bytes == 0
    _nothing_written(app, acme)


def test_a_file_over_the_limit_is_refused(app: Any, owner: Any, acme: Any) -> None:
    big = b"First name\n" + b"".join(b"Person %d\n" % i for i in range(2000))
    response = upload(owner, big)
    assert response.status_code == 413
    assert "The file is larger than 16 KB" in html.unescape(response.text)
    too_many = b"First name\n" + b"".join(b"P%d\n" % i for i in range(51))
    response = upload(owner, too_many)
    assert response.status_code == 400
    assert "The file has more than 50 rows: split it and import the parts." in response.text
    _nothing_written(app, acme)


def test_bad_rows_are_rejected_and_the_rest_imported(app: Any, owner: Any, acme: Any) -> None:
    add_field(app, acme, "contact", "score", "number", label="Score")
    data = (
        b"First name,E-mail,Score,Birthday,Unknown column\n"
        b"Ann,ann@example.com,12,1990-01-31,whatever\n"
        b"Bob,not-an-email,,,\n"
        b"Cid,cid@example.com,lots,,\n"
        b"Dee,dee@example.com,1,31/01/1990,\n"
        b",eve@example.com,,,\n"
        b"Fay,ann@example.com,,,\n"
        b"Gus,gus@example.com\n"
        b"Hal,hal@example.com,1,,,extra\n"
    )
    url = run(app, owner, data, {0: "first_name", 1: "email", 2: "cf_score", 3: "birthday"})
    text = text_of(owner.get(url).text)
    assert "3 E-mail:" in text
    assert "4 Score: Enter a number, e.g. 42 or 3.5." in text
    assert "5 Birthday: Enter a date as YYYY-MM-DD." in text
    assert "6 First name: This field is required." in text
    assert "7 E-mail: Same as line 2." in text
    assert "8 This line has 2 cells but the header names 5 columns." in text
    assert "9 This line has 6 cells but the header names 5 columns." in text
    found = contacts(app, acme)
    assert set(found) == {"ann@example.com"}
    assert found["ann@example.com"]["custom"] == {"score": 12}
    assert "whatever" not in str(found)  # the unknown column was ignored


def test_mapping_two_columns_to_one_field_is_refused(app: Any, owner: Any, acme: Any) -> None:
    url = uploaded(owner, b"Name,Mail,Other mail\nAnn,a@example.com,b@example.com\n")
    response = start(owner, url, {0: "first_name", 1: "email", 2: "email"})
    assert response.status_code == 400
    assert (
        "Columns B “Mail”, C “Other mail” are all mapped to E-mail: map only one of them and set "
        "the others to “Ignore”." in html.unescape(response.text)
    )
    missing = start(owner, url, {1: "email"})
    assert "Map a column to each required field: First name." in html.unescape(missing.text)
    tampered = start(owner, url, {0: "first_name", 1: "password"})
    assert "Choose one of the listed fields." in tampered.text
    (imp,) = imports(app, acme)
    assert imp.status == "uploaded"
    assert run_jobs(app) == [] and count(app, acme, Contact) == 0


def test_preview_fragment_follows_the_mapping(app: Any, owner: Any, acme: Any) -> None:
    url = uploaded(owner, b"A,B\nAnn,not-mail\n")
    assert selected(owner.get(url).text) == {}
    fragment = owner.post(
        f"{url}/preview",
        data={"csrf_token": csrf(owner, url), "col_0": "first_name", "col_1": "email"},
        headers={"HX-Request": "true"},
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "2 Rejected E-mail:" in text_of(fragment.text)
    clash = owner.post(
        f"{url}/preview",
        data={"csrf_token": csrf(owner, url), "col_0": "email", "col_1": "email"},
    )
    assert "are all mapped to E-mail" in html.unescape(clash.text)


# --------------------------------------------------------------------------- formats


def test_xlsx_gb18030_utf16_and_semicolons(app: Any, owner: Any, acme: Any) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["名", "邮箱", "生日"])
    from datetime import date

    book.active.append(["张三", "zhang@example.cn", date(1990, 5, 17)])
    out = io.BytesIO()
    book.save(out)
    url = uploaded(owner, out.getvalue(), name="客户.xlsx")
    assert selected(owner.get(url).text) == {0: "first_name", 1: "email", 2: "birthday"}
    start(owner, url, {0: "first_name", 1: "email", 2: "birthday"})
    run_jobs(app)
    assert str(contacts(app, acme)["zhang@example.cn"]["birthday"]) == "1990-05-17"

    gb = "名,邮箱\n李四,li@example.cn\n".encode("gb18030")
    run(app, owner, gb, {0: "first_name", 1: "email"}, name="gb.csv")
    utf16 = "First name;E-mail\nJosé;jose@example.com\n".encode("utf-16")
    run(app, owner, utf16, {0: "first_name", 1: "email"}, name="u16.csv")
    found = contacts(app, acme)
    assert found["li@example.cn"]["first_name"] == "李四"
    assert found["jose@example.com"]["first_name"] == "José"
    encodings = [i.encoding for i in imports(app, acme)]
    assert encodings == [None, "gb18030", "utf-16"]


# --------------------------------------------------------------------------- plugin targets


def test_a_plugin_target_imports_row_by_row(app: Any, owner: Any, acme: Any, cards: Cards) -> None:
    url = uploaded(owner, b"Card number,Holder\n123,Ann\nabc,Bob\n456,\n", target="cards")
    page = owner.get(url)
    assert selected(page.text) == {0: "number", 1: "holder"}
    assert "they are checked when the import runs" in page.text
    assert "Rows that match an existing record" not in page.text  # no dedupe rule offered
    start(owner, url, {0: "number", 1: "holder"}, dedupe="")
    run_jobs(app)
    assert cards.rows == [{"number": "123", "holder": "Ann"}, {"number": "456", "holder": ""}]
    done = imports(app, acme)[-1]
    assert (done.created_count, done.rejected_count) == (2, 1)
    assert "3 Card number: Enter digits only." in text_of(owner.get(url).text)


# --------------------------------------------------------------------------- access


def test_imports_follow_record_visibility(app: Any, owner: Any, acme: Any, factory: Any) -> None:
    from crm_platform.identity import Tenant
    from crm_platform.records.visibility import save_visibility_settings

    factory.member(acme, "rep@acme.example", "member")
    factory.member(acme, "viewer@acme.example", "readonly")
    with in_tenant(app, acme) as session:
        save_visibility_settings(session.get(Tenant, acme.id), {"member": "own"})
        session.commit()
    url = uploaded(owner, b"First name\nAnn\n")
    rep = app.test_client()
    login(rep, "rep@acme.example")
    assert rep.get(url).status_code == 404
    assert "people.csv" not in rep.get(IMPORTS).text
    viewer = app.test_client()
    login(viewer, "viewer@acme.example")
    assert viewer.get(IMPORTS).status_code == 403
    assert "/imports" not in viewer.get("/t/acme/contacts").text
    mine = uploaded(rep, b"First name\nBob\n", name="mine.csv")
    assert owner.get(mine).status_code == 200  # owners see every import
    assert owner.get(f"{IMPORTS}/{uuid.uuid4()}").status_code == 404


def test_discard_an_uploaded_file(app: Any, owner: Any, acme: Any) -> None:
    url = uploaded(owner, b"First name\nAnn\n")
    response = owner.post(f"{url}/discard", data={"csrf_token": csrf(owner, url)})
    assert response.status_code == 303
    assert "The uploaded file was discarded." in flashes(owner.get(IMPORTS).text, "success")
    assert imports(app, acme) == []


def test_the_upload_checks_its_csrf_token(app: Any, owner: Any, acme: Any) -> None:
    response = owner.post(
        f"{IMPORTS}/upload",
        data={"target": "contacts", "file": (io.BytesIO(b"First name\nAnn\n"), "p.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    _nothing_written(app, acme)


def test_import_one_row_through_the_core_target(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        from crm_platform.plugins import collect

        targets = {t.key: t for t in collect("crm_import_targets")}
        assert {"accounts", "contacts", "cards"} <= set(targets)
        record_id = targets["accounts"].import_row({"name": "Solo Ltd", "website": "solo.example"})
        with pytest.raises(ValidationFailed) as failed:
            targets["contacts"].import_row({"first_name": "", "email": "x"})
        assert set(failed.value.errors) == {"first_name", "email"}
        session.commit()
        account = session.get(Account, (acme.id, record_id))
        assert account.website == "https://solo.example"


def test_check_many_agrees_with_check_values_row_by_row(app: Any, acme: Any) -> None:
    """The import's field-at-a-time check (with its memo) says what check_values says."""
    from crm_platform.records.service import check_context, check_many, check_values

    add_field(app, acme, "contact", "channel", "choice", choices=["Phone", "E-mail"])
    add_field(app, acme, "contact", "score", "number", required=True)
    account_id = add(app, acme, "account", name="Known Co")
    with in_tenant(app, acme):
        context = check_context("contact")
        context.account_ids.add(uuid.UUID(account_id))
        member = next(iter(context.member_ids))
        rows: list[dict[str, Any]] = [
            {"first_name": "Ada", "email": "ADA@Example.com", "custom": {"score": "3"}},
            {"first_name": "Ada", "email": "ada@@broken", "custom": {"score": "x"}},
            {"first_name": "", "last_name": "Lovelace", "custom": {"score": "1"}},
            {"first_name": "Grace", "tags": "vip, partner,VIP", "custom": {"score": "2"}},
            {"first_name": "Grace", "tags": "vip, partner,VIP", "custom": {"score": "2"}},
            {"first_name": "Lin", "account_id": uuid.UUID(account_id), "custom": {"score": "4"}},
            {"first_name": "Lin", "account_id": uuid.uuid4(), "custom": {"score": "4"}},
            {"first_name": "Mei", "owner_id": member, "lifecycle_stage": "customer"},
            {"first_name": "Mei", "owner_id": uuid.uuid4(), "lifecycle_stage": "nope"},
            {"first_name": "Jun", "phone": "call me", "custom": {"channel": "Fax", "score": "5"}},
            {"first_name": "Jun", "phone": "+86 138 0000 0000", "custom": {"channel": "Phone"}},
            {"first_name": "Ola", "tags": ["a", "b"], "custom": {"score": "6"}},  # a list
        ]
        memo: dict[Any, Any] = {}
        many = check_many("contact", rows, context=context, memo=memo)
        again = check_many("contact", rows, context=context, memo=memo)  # all remembered
        for row, got, got_again in zip(rows, many, again, strict=True):
            try:
                expected: Any = check_values("contact", row, context=context)
            except ValidationFailed as exc:
                expected = dict(exc.errors)
            assert got == expected, row
            assert got_again == expected, row
        assert isinstance(many[0], tuple) and many[0][0]["email"] == "ada@example.com"
        assert set(many[1]) == {"email", "cf_score"}
        assert set(many[6]) == {"account_id"} and set(many[8]) == {
            "owner_id",
            "lifecycle_stage",
            "cf_score",
        }
        # Rows share no mutable values: changing one row's tags leaves the other's alone.
        many[3][0]["tags"].append("changed")
        assert many[4][0]["tags"] == ["vip", "partner"]
        # An account refused once is allowed once it is known (never remembered as refused).
        unknown = rows[6]["account_id"]
        context.account_ids.add(unknown)
        (later,) = check_many("contact", [rows[6]], context=context, memo=memo)
        assert isinstance(later, tuple) and later[0]["account_id"] == unknown
