"""The customer record services: validation, normalising, tags, events, soft delete, restore."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import in_tenant, login
from helpers_records import Recorder, add, listed, record
from helpers_web import events, post_form
from sqlalchemy import func, select

from crm_platform.customers import Account, Contact, name_key
from crm_platform.provisioning import ValidationFailed
from crm_platform.records.service import create_record, update_record
from crm_platform.records.tags import RecordTag, split_tags
from crm_platform.records.validation import normalise_phone

# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("+86 (21) 5555-1234", "+862155551234"),
        ("0044 20 7946 0958", "+442079460958"),
        ("021.5555.1234", "02155551234"),
        ("  ", None),
    ],
)
def test_phone_numbers_are_normalised(raw: str, stored: str | None) -> None:
    assert normalise_phone(raw) == stored


@pytest.mark.parametrize("raw", ["call me", "12345", "+1 234 567 890 123 456", "１２３４５６７"])
def test_bad_phone_numbers_are_refused_with_a_clear_message(app: Any, raw: str) -> None:
    with app.test_request_context(), pytest.raises(ValueError, match="6 to 15 digits"):
        normalise_phone(raw)


def test_name_key_folds_case_width_and_punctuation() -> None:
    assert name_key("  ACME,  Inc. ") == "acme inc"
    assert name_key("Ｗｅｉ", "王") == "wei 王"


def test_tags_are_split_trimmed_and_deduplicated_ignoring_case() -> None:
    assert split_tags(" vip, Partner ,VIP,, renewal  2026，伙伴") == [
        "vip",
        "Partner",
        "renewal 2026",
        "伙伴",
    ]


def test_a_record_is_validated_whole_and_nothing_is_written_on_error(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session, app.test_request_context():
        with pytest.raises(ValidationFailed) as caught:
            create_record(
                "contact",
                {
                    "first_name": " ",
                    "email": "not-an-address",
                    "phone": "abc",
                    "lifecycle_stage": "vip",
                    "birthday": "31/12/1990",
                    "source": "magic",
                    "owner_id": str(uuid.uuid4()),
                    "tags": ",".join(f"t{i}" for i in range(30)),
                },
            )
        assert set(caught.value.errors) == {
            "first_name",
            "email",
            "phone",
            "lifecycle_stage",
            "birthday",
            "source",
            "owner_id",
            "tags",
        }
        assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_values_are_normalised_when_written(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session, app.test_request_context():
        account = create_record(
            "account",
            {"name": "  Northwind   Traders ", "website": "northwind.example", "tags": "vip, VIP"},
        )
        contact = create_record(
            "contact",
            {
                "first_name": "Grace",
                "last_name": "Hopper",
                "email": "Grace.Hopper@NorthWind.Example",
                "phone": "+86 21 5555 1234",
                "account_id": str(account.id),
            },
        )
        session.commit()
        assert account.name == "Northwind Traders" and account.name_key == "northwind traders"
        assert account.website == "https://northwind.example"
        assert account.tags == ["vip"]
        assert account.lifecycle_stage == "prospect" and contact.lifecycle_stage == "lead"
        assert contact.email == "grace.hopper@northwind.example"
        assert contact.phone == "+862155551234"
        assert contact.name_key == "grace hopper"
        assert contact.custom == {} and contact.deleted_at is None


def test_the_tag_index_follows_the_records_tags(app: Any, acme: Any) -> None:
    with in_tenant(app, acme) as session, app.test_request_context():
        account = create_record("account", {"name": "Tagged", "tags": "VIP, partner"})
        session.commit()

        def index() -> list[str]:
            stmt = select(RecordTag.tag).where(RecordTag.record_id == account.id)
            return sorted(session.scalars(stmt))

        assert index() == ["partner", "vip"]
        update_record(account, {"tags": "partner, Trial"})
        session.commit()
        assert index() == ["partner", "trial"]
        account.tags = []  # written directly, not through the service: still kept in step
        session.commit()
        assert index() == []


def test_creating_and_changing_records_emits_events(
    app: Any, acme: Any, recorder: Recorder
) -> None:
    with in_tenant(app, acme) as session, app.test_request_context():
        account = create_record("account", {"name": "Evented"})
        account_id = account.id
        session.commit()
        assert update_record(account, {"name": "Evented"}) == []  # nothing changed
        assert update_record(account, {"industry": "telecom", "region": "East"}) == [
            "industry",
            "region",
        ]
        session.commit()
    assert recorder.names() == ["account.created", "account.updated"]
    rid, data = recorder.of("account.updated")[0]
    assert rid == account_id and data["changed"] == ["industry", "region"]


# --------------------------------------------------------------------------- trash


def test_delete_moves_to_the_trash_and_restore_brings_it_back(
    app: Any, owner: Any, acme: Any, recorder: Recorder
) -> None:
    account_id = add(app, acme, "account", name="Doomed Co")
    contact_id = add(app, acme, "contact", first_name="Still", account_id=account_id)
    page = f"/t/acme/accounts/{account_id}"

    deleted = post_form(owner, f"{page}/delete", page=page)
    assert deleted.status_code == 303
    assert record(app, acme, "account", account_id)["deleted_at"] is not None
    assert account_id not in listed(owner.get("/t/acme/accounts").text)
    assert owner.get(f"{page}/edit").status_code == 404
    # The owner may still open it: a page saying it is in the trash, with a restore button.
    assert "This record is in the trash" in owner.get(page).text
    # Its contact stays, and says where its account went.
    assert "in the trash" in owner.get(f"/t/acme/contacts/{contact_id}").text

    trash = owner.get("/t/acme/trash?kind=account")
    assert trash.status_code == 200 and "Doomed Co" in trash.text
    restored = post_form(owner, f"{page}/restore", page="/t/acme/trash?kind=account")
    assert restored.status_code == 303 and restored.headers["Location"].endswith(page)
    assert record(app, acme, "account", account_id)["deleted_at"] is None
    assert account_id in listed(owner.get("/t/acme/accounts").text)
    assert "Doomed Co" not in owner.get("/t/acme/trash?kind=account").text

    assert recorder.names()[-2:] == ["account.deleted", "account.restored"]
    assert [e.action for e in events(app, acme)][-2:] == ["account.deleted", "account.restored"]


def test_restoring_a_live_record_or_deleting_twice_is_404(app: Any, owner: Any, acme: Any) -> None:
    account_id = add(app, acme, "account", name="Live Co")
    page = f"/t/acme/accounts/{account_id}"
    assert post_form(owner, f"{page}/restore", page=page).status_code == 404
    assert post_form(owner, f"{page}/delete", page=page).status_code == 303
    assert post_form(owner, f"{page}/delete", page="/t/acme/").status_code == 404


def test_members_may_not_delete_and_read_only_members_may_not_write(
    app: Any, factory: Any, acme: Any
) -> None:
    account_id = add(app, acme, "account", name="Guarded")
    factory.member(acme, "rep@acme.example", "member")
    factory.member(acme, "viewer@acme.example", "readonly")
    rep, viewer = app.test_client(), app.test_client()
    login(rep, "rep@acme.example")
    login(viewer, "viewer@acme.example")
    page = f"/t/acme/accounts/{account_id}"
    assert post_form(rep, f"{page}/delete", page=page).status_code == 403
    assert rep.get("/t/acme/trash").status_code == 403
    assert "Move to trash" not in rep.get(page).text and "Edit" in rep.get(page).text
    assert viewer.get("/t/acme/accounts/new").status_code == 403
    assert viewer.get(f"{page}/edit").status_code == 403
    assert "New account" not in viewer.get("/t/acme/accounts").text
    with in_tenant(app, acme) as session:
        assert session.scalar(select(Account.deleted_at).where(Account.name == "Guarded")) is None
