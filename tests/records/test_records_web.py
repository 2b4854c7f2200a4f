"""Account and contact pages: forms, lists (filters, sort, keyset pages, htmx, saved views),
record pages (panels, timeline, activities), my tasks, the home page, record visibility."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from conftest import in_tenant, login
from helpers_records import Recorder, add, listed, record, user_id
from helpers_web import field_error, flashes, hrefs, post_form
from sqlalchemy import select

from crm_platform.customers import Account
from crm_platform.records.activities import Activity

HX = {"HX-Request": "true"}


def _client(app: Any, email: str) -> Any:
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


# --------------------------------------------------------------------------- forms


def test_create_an_account_and_a_contact_through_the_forms(
    app: Any, owner: Any, acme: Any, recorder: Recorder
) -> None:
    created = post_form(
        owner,
        "/t/acme/accounts/new",
        {
            "name": "Globex Bank",
            "industry": "banking",
            "size": "201-1000",
            "lifecycle_stage": "customer",
            "email": "Info@Globex.Example",
            "phone": "+86 10 8888 0000",
            "region": "Beijing",
            "source": "referral",
            "owner_id": user_id(app, "owner@acme.example"),
            "tags": "vip, bank",
        },
    )
    assert created.status_code == 302
    page = owner.get(created.headers["Location"])
    for text in ("Globex Bank", "info@globex.example", "+861088880000", "Beijing", "vip"):
        assert text in page.text
    assert flashes(page.text, "success") == ["Globex Bank was created."]
    account_id = created.headers["Location"].rsplit("/", 1)[1]

    # "Add a contact" on the account page picks the account.
    new_contact = owner.get(f"/t/acme/contacts/new?account_id={account_id}")
    assert f'<option selected value="{account_id}">Globex Bank</option>' in new_contact.text
    contact = post_form(
        owner,
        f"/t/acme/contacts/new?account_id={account_id}",
        {"first_name": "Wei", "last_name": "Zhang", "account_id": account_id, "birthday": ""},
    )
    assert contact.status_code == 302
    assert "Wei Zhang" in owner.get(f"/t/acme/accounts/{account_id}").text
    assert recorder.names() == ["account.created", "contact.created"]


def test_form_errors_show_under_their_fields_and_nothing_is_saved(
    app: Any, owner: Any, acme: Any
) -> None:
    page = post_form(
        owner,
        "/t/acme/contacts/new",
        {"first_name": "Ada", "email": "ada@", "phone": "call me", "birthday": "1815-13-40"},
    )
    assert page.status_code == 400
    assert field_error(page.text, "email")
    assert "6 to 15 digits" in field_error(page.text, "phone")
    assert field_error(page.text, "birthday")
    assert 'value="Ada"' in page.text  # what was typed stays
    too_long = post_form(owner, "/t/acme/accounts/new", {"name": "N" * 201, "notes": "x" * 10001})
    assert too_long.status_code == 400
    assert field_error(too_long.text, "name") and field_error(too_long.text, "notes")
    with in_tenant(app, acme) as session:
        assert session.scalars(select(Account)).all() == []


def test_edit_a_record(app: Any, owner: Any, acme: Any, recorder: Recorder) -> None:
    account_id = add(app, acme, "account", name="Initech", industry="software")
    edit = f"/t/acme/accounts/{account_id}/edit"
    form = owner.get(edit)
    assert form.status_code == 200 and 'value="Initech"' in form.text
    bad = post_form(owner, edit, {"name": "Initech", "website": "not a site"})
    assert bad.status_code == 400 and field_error(bad.text, "website")
    saved = post_form(owner, edit, {"name": "Initech Ltd", "industry": "software", "tags": "x"})
    assert saved.status_code == 302
    snapshot = record(app, acme, "account", account_id)
    assert snapshot["name"] == "Initech Ltd" and snapshot["tags"] == ["x"]
    assert recorder.of("account.updated")[-1][1]["changed"] == ["name", "tags"]


# --------------------------------------------------------------------------- lists


def _seed(app: Any, acme: Any) -> dict[str, str]:
    owner_id = user_id(app, "owner@acme.example")
    return {
        "north": add(
            app, acme, "account", name="Northwind", industry="retail", region="East",
            lifecycle_stage="customer", tags="vip", owner_id=owner_id,
        ),
        "globex": add(
            app, acme, "account", name="Globex", industry="banking", region="West",
            lifecycle_stage="lead", tags="VIP, partner",
        ),
        "initech": add(
            app, acme, "account", name="Initech", industry="banking", region="East",
            lifecycle_stage="churned", owner_id=owner_id,
        ),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("stage=customer", ["north"]),
        ("industry=banking", ["globex", "initech"]),
        ("region=East&industry=banking", ["initech"]),
        ("tag=VIP", ["globex", "north"]),
        ("tag=partner", ["globex"]),
        ("owner=me", ["initech", "north"]),
        ("owner=none", ["globex"]),
        ("q=NORTH", ["north"]),
        ("sort=stage", ["globex", "north", "initech"]),
        ("sort=name&dir=desc", ["north", "initech", "globex"]),
    ],
)
def test_list_filters_and_sort(
    app: Any, owner: Any, acme: Any, query: str, expected: list[str]
) -> None:
    ids = _seed(app, acme)
    names = {v: k for k, v in ids.items()}
    page = owner.get(f"/t/acme/accounts?{query}")
    assert page.status_code == 200
    assert [names[i] for i in listed(page.text)] == expected


@pytest.mark.parametrize("few_tagged", [0, 1, 10])
def test_tag_filter_whether_few_or_many_records_have_the_tag(
    app: Any, owner: Any, acme: Any, monkeypatch: Any, few_tagged: int
) -> None:
    """Few tagged records are looked up by id, many by walking the list: the same answer."""
    from crm_platform.records import listing

    monkeypatch.setattr(listing, "FEW_TAGGED", few_tagged)
    ids = _seed(app, acme)
    names = {v: k for k, v in ids.items()}
    for query, expected in (("tag=VIP", ["globex", "north"]), ("tag=partner", ["globex"])):
        page = owner.get(f"/t/acme/accounts?{query}")
        assert [names[i] for i in listed(page.text)] == expected
    assert listed(owner.get("/t/acme/accounts?tag=nobody-has-it").text) == []


def test_filtering_with_htmx_returns_only_the_results(app: Any, owner: Any, acme: Any) -> None:
    ids = _seed(app, acme)
    full = owner.get("/t/acme/accounts?stage=lead")
    assert "<html" in full.text and 'hx-get="/t/acme/accounts"' in full.text
    assert 'hx-push-url="true"' in full.text
    partial = owner.get("/t/acme/accounts?stage=lead", headers=HX)
    assert partial.status_code == 200 and "<html" not in partial.text
    assert listed(partial.text) == [ids["globex"]]
    assert 'hx-swap-oob="true"' in partial.text  # the form's hidden sort inputs follow
    assert "HX-Request" in partial.headers["Vary"]
    messy = owner.get("/t/acme/accounts?q=&stage=lead&owner=&tag=", headers=HX)
    assert messy.headers["HX-Push-Url"] == "/t/acme/accounts?stage=lead"
    # The back button (history restore) gets the whole page.
    restore = owner.get(
        "/t/acme/accounts?stage=lead", headers={**HX, "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.text
    # Column headers sort, toggling the direction, without JavaScript too.
    links = hrefs(full.text)
    assert "/t/acme/accounts?stage=lead&sort=stage" in links
    assert "/t/acme/accounts?stage=lead&dir=desc" in links  # name, the current sort: reversed


@pytest.mark.parametrize("bad", ["stage=vip", "owner=someone", "sort=secret", "team=x"])
def test_bad_filter_values_are_400_with_a_message(
    app: Any, owner: Any, acme: Any, bad: str
) -> None:
    page = owner.get(f"/t/acme/accounts?{bad}")
    assert page.status_code == 400 and "Choose one of the listed options." in page.text


@pytest.mark.parametrize("sort", ["name", "updated", "created", "stage", "industry", "region"])
def test_keyset_pages_list_every_record_once_in_any_sort(
    app: Any, owner: Any, acme: Any, sort: str
) -> None:
    stages = ["lead", "customer", None]
    with in_tenant(app, acme) as session:
        session.add_all(
            Account(
                name=f"Co {i % 7}",
                industry=None if i % 3 else f"ind {i % 4}",
                region=f"R{i % 2}",
                lifecycle_stage=stages[i % 3] or "loyal",
            )
            for i in range(112)
        )
        session.commit()
    seen: list[str] = []
    url = f"/t/acme/accounts?sort={sort}&dir=desc"
    pages = 0
    while url:
        page = owner.get(url)
        assert page.status_code == 200, url
        seen += listed(page.text)
        nxt = [h for h in hrefs(page.text) if "after=" in h]
        url = nxt[0] if nxt else ""
        pages += 1
    assert pages == 3 and len(seen) == len(set(seen)) == 112


def test_a_cursor_of_another_sort_is_refused(app: Any, owner: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session:
        session.add_all(Account(name=f"A{i:02d}") for i in range(51))
        session.commit()
    first = owner.get("/t/acme/accounts?sort=created")
    cursor = re.search(r"after=([\w-]+)", first.text).group(1)
    assert owner.get(f"/t/acme/accounts?sort=created&after={cursor}").status_code == 200
    wrong = owner.get(f"/t/acme/accounts?sort=name&after={cursor}")
    assert wrong.status_code == 400 and "Bad page cursor." in wrong.text
    assert owner.get(f"/t/acme/contacts?sort=created&after={cursor}").status_code == 400


def test_saved_views_are_per_user(app: Any, owner: Any, acme: Any, factory: Any) -> None:
    ids = _seed(app, acme)
    saved = post_form(
        owner,
        "/t/acme/views",
        {"entity": "account", "query": "industry=banking&sort=name&dir=desc", "name": "Banks"},
        page="/t/acme/accounts",
    )
    assert saved.status_code == 303
    assert saved.headers["Location"] == "/t/acme/accounts?industry=banking&dir=desc"
    page = owner.get("/t/acme/accounts")
    assert "/t/acme/accounts?industry=banking&dir=desc" in hrefs(page.text)
    assert listed(owner.get(saved.headers["Location"]).text) == [ids["initech"], ids["globex"]]
    # Saving again under the same name replaces the view.
    post_form(
        owner,
        "/t/acme/views",
        {"entity": "account", "query": "industry=retail", "name": "Banks"},
        page="/t/acme/accounts",
    )
    assert "/t/acme/accounts?industry=retail" in hrefs(owner.get("/t/acme/accounts").text)

    factory.member(acme, "rep@acme.example", "member")
    rep = _client(app, "rep@acme.example")
    assert "Banks" not in rep.get("/t/acme/accounts").text
    from crm_platform.records.saved_views import SavedView

    with in_tenant(app, acme) as session:
        view_id = session.scalar(select(SavedView.id))
    assert post_form(rep, f"/t/acme/views/{view_id}/delete", page="/t/acme/").status_code == 404
    gone = post_form(owner, f"/t/acme/views/{view_id}/delete", page="/t/acme/accounts")
    assert gone.status_code == 303
    assert "?industry=retail" not in owner.get("/t/acme/accounts").text


def test_a_saved_view_needs_a_name_and_a_valid_query(app: Any, owner: Any, acme: Any) -> None:
    no_name = post_form(
        owner, "/t/acme/views", {"entity": "account", "query": "", "name": ""},
        page="/t/acme/accounts",
    )  # fmt: skip
    assert no_name.status_code == 303
    assert flashes(owner.get(no_name.headers["Location"]).text) == [
        "Give the view a name of at most 80 characters."
    ]
    bad = post_form(
        owner, "/t/acme/views", {"entity": "account", "query": "stage=vip", "name": "X"},
        page="/t/acme/accounts",
    )  # fmt: skip
    assert bad.status_code == 400
    assert post_form(
        owner, "/t/acme/views", {"entity": "deal", "query": "", "name": "X"},
        page="/t/acme/accounts",
    ).status_code == 400  # fmt: skip


# --------------------------------------------------------------------------- record pages


def test_record_page_shows_plugin_panels_and_a_merged_timeline(
    app: Any, owner: Any, acme: Any
) -> None:
    account_id = add(app, acme, "account", name="Panelled")
    contact_id = add(app, acme, "contact", first_name="Pat", account_id=account_id)
    for kind, rid in (("account", account_id), ("contact", contact_id)):
        page = owner.get(f"/t/acme/{kind}s/{rid}").text
        assert f"<p class='tp'>panel of {kind} {rid}</p>" in page
        assert 'hx-get="/lazy/panel" hx-trigger="load"' in page and 'href="/lazy/panel"' in page
        assert 'href="#panel-lazy"' in page and ">Test panel<" in page
        timeline = page[page.index('id="timeline"') :]
        order = [timeline.index(t) for t in ("Future plugin entry", "created", "Old plugin")]
        assert order == sorted(order)


def test_log_activities_and_work_through_my_tasks(
    app: Any, owner: Any, acme: Any, recorder: Recorder
) -> None:
    account_id = add(app, acme, "account", name="Tasked Co")
    contact_id = add(app, acme, "contact", first_name="Tess", account_id=account_id)
    me = user_id(app, "owner@acme.example")
    page = f"/t/acme/contacts/{contact_id}"

    bad = post_form(
        owner,
        "/t/acme/activities",
        {"contact_id": contact_id, "kind": "task", "subject": "", "owner_id": me},
        page=page,
    )
    assert bad.status_code == 400 and field_error(bad.text, "subject")
    assert "Tess" in bad.text  # the record page again, with the form open
    logged = post_form(
        owner,
        "/t/acme/activities",
        {
            "contact_id": contact_id,
            "kind": "task",
            "subject": "Send the quote",
            "due_date": "2020-01-02",
            "owner_id": me,
        },
        page=page,
    )
    assert logged.status_code == 303 and logged.headers["Location"] == page + "#activities"
    post_form(
        owner,
        "/t/acme/activities",
        {"contact_id": contact_id, "kind": "call", "subject": "Called Tess", "owner_id": me},
        page=page,
    )
    with in_tenant(app, acme) as session:
        task = session.scalars(select(Activity).where(Activity.kind == "task")).one()
        call = session.scalars(select(Activity).where(Activity.kind == "call")).one()
        assert str(task.account_id) == account_id  # the contact's account, too
        assert not task.done and call.done  # a logged call without a date is done
        task_id = str(task.id)
    # On both records' timelines, and in my tasks (overdue).
    assert "Task: Send the quote" in owner.get(f"/t/acme/accounts/{account_id}").text
    tasks = owner.get("/t/acme/tasks")
    assert "Send the quote" in tasks.text and "overdue" in tasks.text
    assert "Called Tess" not in tasks.text
    assert "Send the quote" in owner.get("/t/acme/").text

    done = post_form(owner, f"/t/acme/activities/{task_id}/done", page="/t/acme/tasks")
    assert done.status_code == 303
    assert "Send the quote" not in owner.get("/t/acme/tasks").text
    assert "Send the quote" in owner.get("/t/acme/tasks?show=all").text

    edit = f"/t/acme/activities/{task_id}/edit"
    assert owner.get(edit).status_code == 200
    saved = post_form(owner, edit, {"kind": "meeting", "subject": "Quote meeting", "owner_id": me})
    assert saved.status_code == 303
    assert "Meeting: Quote meeting" in owner.get(page).text
    assert recorder.names().count("activity.created") == 2
    deleted = post_form(owner, f"/t/acme/activities/{task_id}/delete", page=edit)
    assert deleted.status_code == 303 and "Quote meeting" not in owner.get(page).text


def test_an_activity_needs_a_record_the_member_can_see(
    app: Any, owner: Any, acme: Any, factory: Any
) -> None:
    other = factory.tenant("other", owner_email="owner@other.example")
    theirs = add(app, other, "contact", first_name="Theirs")
    page = post_form(
        owner, "/t/acme/activities", {"contact_id": theirs, "subject": "x"}, page="/t/acme/"
    )
    assert page.status_code == 400
    with in_tenant(app, other) as session:
        assert session.scalars(select(Activity)).all() == []


def test_hook_crm_dashboard_widgets(app: Any, owner: Any, acme: Any) -> None:
    """The home page: counts, my tasks, latest records, and plugins' widgets."""
    _seed(app, acme)
    home = owner.get("/t/acme/")
    assert home.status_code == 200
    assert re.search(r"<span>3</span>Accounts", home.text)
    assert "Northwind" in home.text and "Test widget" in home.text and "widget body" in home.text
    for link in ("/t/acme/tasks", "/t/acme/accounts", "/t/acme/contacts", "/t/acme/search"):
        assert link in hrefs(home.text) or f'action="{link}"' in home.text


# --------------------------------------------------------------------------- visibility


@pytest.fixture
def team_world(app: Any, acme: Any, factory: Any) -> dict[str, str]:
    """rep and mate in team East; loner in no team; an admin; records of each."""
    for email, role in (
        ("rep@acme.example", "member"),
        ("mate@acme.example", "member"),
        ("loner@acme.example", "member"),
        ("boss@acme.example", "manager"),
    ):
        factory.member(acme, email, role)
    from crm_platform.records.teams import Team, TeamMember

    with in_tenant(app, acme) as session:
        team = Team(name="East")
        session.add(team)
        session.flush()
        for email in ("rep@acme.example", "mate@acme.example"):
            session.add(TeamMember(team_id=team.id, user_id=uuid.UUID(user_id(app, email))))
        session.commit()
        team_id = str(team.id)
    ids = {
        "rep": add(app, acme, "account", name="Rep Own", owner_id=user_id(app, "rep@acme.example")),
        "mate": add(
            app, acme, "account", name="Mate Own", owner_id=user_id(app, "mate@acme.example")
        ),
        "team": add(app, acme, "account", name="Team Shared", team_id=team_id),
        "loner": add(
            app, acme, "account", name="Loner Own", owner_id=user_id(app, "loner@acme.example")
        ),
        "nobody": add(app, acme, "account", name="Nobody Own"),
    }
    return ids


def _set_rule(owner: Any, member: str, readonly: str = "all") -> None:
    saved = post_form(
        owner,
        "/t/acme/settings/visibility",
        {"member": member, "readonly": readonly},
        page="/t/acme/settings/teams",
    )
    assert saved.status_code == 303


@pytest.mark.parametrize(
    ("rule", "rep_sees"),
    [
        ("own", {"rep"}),
        ("team", {"rep", "mate", "team"}),
        ("all", {"rep", "mate", "team", "loner", "nobody"}),
    ],
)
def test_record_visibility_rules(
    app: Any, owner: Any, acme: Any, team_world: dict[str, str], rule: str, rep_sees: set[str]
) -> None:
    _set_rule(owner, rule)
    names = {v: k for k, v in team_world.items()}
    rep = _client(app, "rep@acme.example")
    assert {names[i] for i in listed(rep.get("/t/acme/accounts").text)} == rep_sees
    found = rep.get("/t/acme/search?q=own").text
    for key, rid in team_world.items():
        visible = key in rep_sees
        assert (rep.get(f"/t/acme/accounts/{rid}").status_code == 200) is visible, key
        assert (f"/t/acme/accounts/{rid}" in found) is (visible and key != "team"), key
    assert f"<span>{len(rep_sees)}</span>Accounts" in rep.get("/t/acme/").text
    # Managers and owners see everything whatever the rule.
    boss = _client(app, "boss@acme.example")
    assert len(listed(boss.get("/t/acme/accounts").text)) == 5
    assert len(listed(owner.get("/t/acme/accounts").text)) == 5


def test_a_member_cannot_link_a_contact_to_an_account_they_cannot_see(
    app: Any, owner: Any, acme: Any, team_world: dict[str, str]
) -> None:
    _set_rule(owner, "own")
    rep = _client(app, "rep@acme.example")
    form = rep.get("/t/acme/contacts/new").text
    assert "Rep Own" in form and "Loner Own" not in form
    page = post_form(
        rep,
        "/t/acme/contacts/new",
        {"first_name": "Sneaky", "account_id": team_world["loner"], "lifecycle_stage": "lead"},
    )
    assert page.status_code == 400 and field_error(page.text, "account_id")


def test_visibility_settings_page(app: Any, owner: Any, acme: Any, factory: Any) -> None:
    page = owner.get("/t/acme/settings/teams")
    assert page.status_code == 200 and "Who sees which records" in page.text
    assert "/t/acme/settings/teams" in hrefs(owner.get("/t/acme/settings/fields").text)
    bad = post_form(
        owner, "/t/acme/settings/visibility", {"member": "everything"},
        page="/t/acme/settings/teams",
    )  # fmt: skip
    assert bad.status_code == 400
    factory.member(acme, "rep@acme.example", "member")
    rep = _client(app, "rep@acme.example")
    assert rep.get("/t/acme/settings/teams").status_code == 403
    assert post_form(
        rep, "/t/acme/settings/visibility", {"member": "all"}, page="/t/acme/"
    ).status_code == 403  # fmt: skip


def test_teams_are_created_renamed_staffed_and_deleted(
    app: Any, owner: Any, acme: Any, factory: Any
) -> None:
    factory.member(acme, "rep@acme.example", "member")
    created = post_form(
        owner, "/t/acme/settings/teams", {"name": "Key accounts"}, page="/t/acme/settings/teams"
    )
    assert created.status_code == 303
    team_page = created.headers["Location"]
    team_id = team_page.rsplit("/", 1)[1]
    dup = post_form(
        owner, "/t/acme/settings/teams", {"name": "key ACCOUNTS"}, page="/t/acme/settings/teams"
    )
    assert dup.status_code == 400 and field_error(dup.text, "name")
    rep_id = user_id(app, "rep@acme.example")
    added = post_form(owner, f"{team_page}/members", {"user_id": rep_id}, page=team_page)
    assert added.status_code == 303 and "rep@acme.example" in owner.get(team_page).text
    account_id = add(app, acme, "account", name="Teamed", team_id=team_id)
    renamed = post_form(owner, team_page, {"name": "Big accounts"})
    assert renamed.status_code == 303
    assert "Big accounts" in owner.get(f"/t/acme/accounts/{account_id}").text
    removed = post_form(owner, f"{team_page}/remove", {"user_id": rep_id}, page=team_page)
    assert removed.status_code == 303 and "rep@acme.example" not in owner.get(team_page).text
    deleted = post_form(owner, f"{team_page}/delete", page=team_page)
    assert deleted.status_code == 303
    assert record(app, acme, "account", account_id)["team_id"] is None
    assert owner.get(team_page).status_code == 404


# --------------------------------------------------------------------------- isolation


def test_other_tenants_ids_of_every_new_table_are_404(
    app: Any, owner: Any, acme: Any, factory: Any
) -> None:
    """Every customer database route, fed ids of another tenant's teams, fields, activities,
    saved views, tags and records, answers 400/403/404 and changes nothing there."""
    from crm_platform.records.custom_fields import CustomField
    from crm_platform.records.saved_views import SavedView
    from crm_platform.records.teams import Team
    from crm_platform.tenancy import tenant_tables

    other = factory.tenant("other", owner_email="owner@other.example")
    account = add(app, other, "account", name="Other Secret", tags="secret")
    contact = add(app, other, "contact", first_name="Other", account_id=account)
    with in_tenant(app, other) as session:
        team = Team(name="Other team")
        session.add_all(
            [
                team,
                CustomField(entity="account", key="x", label="X", type="text", position=1),
                Activity(subject="Other task", kind="task", contact_id=uuid.UUID(contact)),
                SavedView(user_id=uuid.UUID(user_id(app, "owner@other.example")),
                          entity="account", name="v", query=""),
            ]
        )  # fmt: skip
        session.commit()
        ids = []
        for table in sorted(tenant_tables(), key=lambda t: t.name):
            ids += [str(i) for i in session.scalars(select(table.c.id))]

    def snapshot() -> list[Any]:
        with in_tenant(app, other) as session:
            return [
                sorted(map(tuple, session.execute(select(t)).all()), key=str)
                for t in sorted(tenant_tables(), key=lambda t: t.name)
            ]

    before = snapshot()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', owner.get("/t/acme/").text)
    assert token
    tried = 0
    for rule in app.url_map.iter_rules():
        args = sorted(rule.arguments - {"tenant_slug"})
        if not rule.endpoint.startswith("workspace.") or not args:
            continue
        for rid in ids:
            with app.test_request_context():
                url = app.url_for(rule.endpoint, tenant_slug="acme", **dict.fromkeys(args, rid))
            for method in sorted(rule.methods & {"GET", "POST"}):
                data = {"csrf_token": token.group(1), "confirm": "yes", "name": "x",
                        "label": "x", "subject": "x", "user_id": rid}  # fmt: skip
                response = owner.open(url, method=method, data=data)
                assert response.status_code in (400, 403, 404), (method, url)
                assert "Other" not in response.text, (method, url)
                tried += 1
    assert tried > 100
    assert snapshot() == before
