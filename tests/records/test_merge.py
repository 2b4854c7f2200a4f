"""Duplicates: candidate pairs, dismissing a pair, and merging with a choice per conflict."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import in_tenant, login
from helpers_records import Recorder, add, add_field, listed, record, user_id
from helpers_web import events, field_error, post_form
from sqlalchemy import select

from crm_platform.records.activities import Activity


@pytest.fixture
def twins(app: Any, acme: Any) -> dict[str, str]:
    """Grace Hopper entered twice (same e-mail, different phone and title), a stranger."""
    add_field(app, acme, "contact", "channel", "choice", choices=["Phone", "Mail"])
    add_field(app, acme, "contact", "newsletter", "checkbox", position=2)
    account = add(app, acme, "account", name="Navy")
    ids = {
        "a": add(
            app, acme, "contact", first_name="Grace", last_name="Hopper",
            email="grace@navy.example", phone="+1 555 0100 100", title="Admiral",
            tags="vip", custom={"channel": "Phone"},
        ),
        "b": add(
            app, acme, "contact", first_name="GRACE", last_name="hopper",
            email="Grace@Navy.example", phone="+1 555 0100 200", account_id=account,
            tags="speaker", custom={"channel": "Mail", "newsletter": True},
        ),
        "stranger": add(app, acme, "contact", first_name="Alan", last_name="Turing"),
        "account": account,
    }  # fmt: skip
    with in_tenant(app, acme) as session:
        session.add(Activity(kind="note", subject="Met at the conference", done=True,
                             contact_id=uuid.UUID(ids["b"])))  # fmt: skip
        session.commit()
    return ids


def test_duplicates_page_lists_the_pair_with_its_reasons(
    app: Any, owner: Any, acme: Any, twins: dict[str, str]
) -> None:
    page = owner.get("/t/acme/duplicates?kind=contact")
    assert page.status_code == 200
    assert "same e-mail" in page.text and "same name" in page.text
    assert "same phone" not in page.text and "Alan" not in page.text
    merge_link = f"/t/acme/contacts/{twins['a']}/merge/{twins['b']}"
    reverse = f"/t/acme/contacts/{twins['b']}/merge/{twins['a']}"
    assert merge_link in page.text or reverse in page.text
    assert "No duplicates found" in owner.get("/t/acme/duplicates?kind=account").text
    assert owner.get("/t/acme/duplicates?kind=deal").status_code == 404


def test_a_dismissed_pair_is_not_suggested_again(
    app: Any, owner: Any, acme: Any, twins: dict[str, str]
) -> None:
    dismissed = post_form(
        owner,
        "/t/acme/duplicates/dismiss",
        {"kind": "contact", "first": twins["b"], "second": twins["a"]},
        page="/t/acme/duplicates?kind=contact",
    )
    assert dismissed.status_code == 303
    assert "No duplicates found" in owner.get("/t/acme/duplicates?kind=contact").text


def test_merge_needs_a_choice_for_every_conflict(
    app: Any, owner: Any, acme: Any, twins: dict[str, str], recorder: Recorder
) -> None:
    url = f"/t/acme/contacts/{twins['a']}/merge/{twins['b']}"
    screen = owner.get(url)
    assert screen.status_code == 200
    for text in ("+15550100100", "+15550100200", "Admiral", "Navy", "Phone", "Mail"):
        assert text in screen.text
    refused = post_form(owner, url, {"first_name": "other"})  # phone, channel: no choice
    assert refused.status_code == 400
    assert field_error(refused.text, "phone") == "Choose which value to keep."
    assert field_error(refused.text, "cf_channel") == "Choose which value to keep."
    wrong = post_form(owner, url, {"first_name": "x", "last_name": "x", "phone": "both",
                                   "cf_channel": "other", "email": "survivor"})  # fmt: skip
    assert wrong.status_code == 400 and field_error(wrong.text, "phone")
    assert record(app, acme, "contact", twins["b"])["deleted_at"] is None
    assert "contact.merged" not in recorder.names()


def test_merge_moves_everything_to_the_survivor_in_one_go(
    app: Any, owner: Any, acme: Any, twins: dict[str, str], recorder: Recorder
) -> None:
    url = f"/t/acme/contacts/{twins['a']}/merge/{twins['b']}"
    merged = post_form(
        owner,
        url,
        {"first_name": "survivor", "last_name": "survivor", "email": "survivor",
         "phone": "other", "cf_channel": "other"},
    )  # fmt: skip
    assert merged.status_code == 303
    assert merged.headers["Location"] == f"/t/acme/contacts/{twins['a']}"
    survivor = record(app, acme, "contact", twins["a"])
    loser = record(app, acme, "contact", twins["b"])
    assert survivor["phone"] == "+15550100200"  # chosen
    assert survivor["title"] == "Admiral"  # only the survivor had one
    assert str(survivor["account_id"]) == twins["account"]  # only the other had one
    assert survivor["tags"] == ["vip", "speaker"]
    assert survivor["custom"] == {"channel": "Mail", "newsletter": True}
    assert loser["deleted_at"] is not None and str(loser["merged_into_id"]) == twins["a"]
    with in_tenant(app, acme) as session:
        note = session.scalars(select(Activity)).one()
        assert str(note.contact_id) == twins["a"]
    page = owner.get(merged.headers["Location"]).text
    assert "Met at the conference" in page
    # The other record's address now leads to the survivor; the list shows one Grace.
    follow = owner.get(f"/t/acme/contacts/{twins['b']}")
    assert follow.status_code == 302 and follow.headers["Location"].endswith(twins["a"])
    assert twins["b"] not in listed(owner.get("/t/acme/contacts").text, "contacts")
    [(rid, data)] = recorder.of("contact.merged")
    assert str(rid) == twins["a"] and data["merged"] == twins["b"]
    assert data["activities_moved"] == 1
    assert [e.action for e in events(app, acme, "contact.merged")] == ["contact.merged"]


def test_merging_accounts_moves_their_contacts(
    app: Any, owner: Any, acme: Any, recorder: Recorder
) -> None:
    keep = add(app, acme, "account", name="Globex", industry="banking")
    other = add(app, acme, "account", name="GLOBEX", region="East",
                owner_id=user_id(app, "owner@acme.example"))  # fmt: skip
    person = add(app, acme, "contact", first_name="Hank", account_id=other)
    assert "same name" in owner.get("/t/acme/duplicates?kind=account").text
    url = f"/t/acme/accounts/{keep}/merge/{other}"
    merged = post_form(owner, url, {"name": "survivor"})
    assert merged.status_code == 303
    assert str(record(app, acme, "contact", person)["account_id"]) == keep
    survivor = record(app, acme, "account", keep)
    assert (survivor["name"], survivor["industry"], survivor["region"]) == (
        "Globex",
        "banking",
        "East",
    )
    assert "Hank" in owner.get(f"/t/acme/accounts/{keep}").text
    assert recorder.names()[-1] == "account.merged"


def test_merging_a_record_with_itself_or_a_deleted_one_is_refused(
    app: Any, owner: Any, acme: Any, twins: dict[str, str]
) -> None:
    a, b = twins["a"], twins["b"]
    assert owner.get(f"/t/acme/contacts/{a}/merge/{a}").status_code == 404
    post_form(owner, f"/t/acme/contacts/{b}/delete", page=f"/t/acme/contacts/{b}")
    assert owner.get(f"/t/acme/contacts/{a}/merge/{b}").status_code == 404
    assert owner.get(f"/t/acme/accounts/{a}/merge/{b}").status_code == 404


def test_members_cannot_merge(app: Any, acme: Any, factory: Any, twins: dict[str, str]) -> None:
    factory.member(acme, "rep@acme.example", "member")
    rep = app.test_client()
    login(rep, "rep@acme.example")
    assert rep.get(f"/t/acme/contacts/{twins['a']}/merge/{twins['b']}").status_code == 403
    assert rep.get("/t/acme/duplicates?kind=contact").status_code == 403
