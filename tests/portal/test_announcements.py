"""Channel announcements: channel managers post short plain-text announcements (for every
partner or one tier); partners see those for their tier on their home page, newest first;
bad input writes nothing; members cannot post; the module off answers 404."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import in_tenant
from helpers_web import events
from sqlalchemy import func, select

from .helpers import owner_client, switch
from .partner_helpers import partner_client, partner_org, post_staff

URL = "/t/shop/portal-settings/channel/announcements"
HOME = "/t/shop/portal/partner/"


def count(app: Any, tenant: Any) -> int:
    from plugins.portal.partner_models import Announcement

    with in_tenant(app, tenant) as session:
        return session.scalar(select(func.count()).select_from(Announcement))


@pytest.fixture
def staff(app: Any, shop: Any) -> Any:
    return owner_client(app, shop)


def test_partners_see_announcements_for_their_tier_newest_first(
    app: Any, shop: Any, staff: Any
) -> None:
    gold = partner_client(app, shop, partner_org(app, shop, "Gold Co", "gold"), "g@gold.example")
    silver = partner_client(
        app, shop, partner_org(app, shop, "Silver Co", "silver"), "s@silver.example"
    )
    for title, tier in (
        ("Welcome, partners", ""),
        ("Gold rebate <b>doubled</b>", "gold"),
        ("Silver training day", "silver"),
        ("Price list 2027", ""),
    ):
        data = {"title": title, "body": f"About {title}.\nSecond line.", "tier": tier}
        assert post_staff(staff, URL, data).status_code == 303
    page = gold.get(HOME).text
    assert 'id="announcements"' in page
    assert "Silver training day" not in page
    assert "Gold rebate &lt;b&gt;doubled&lt;/b&gt;" in page and "<b>doubled</b>" not in page
    order = [page.index(t) for t in ("Price list 2027", "Gold rebate", "Welcome, partners")]
    assert order == sorted(order)  # newest first
    assert "Second line." in page
    other = silver.get(HOME).text
    assert "Silver training day" in other and "Gold rebate" not in other
    assert "Welcome, partners" in other
    listing = staff.get(URL).text
    for title in ("Welcome, partners", "Silver training day", "Price list 2027"):
        assert title in listing
    assert len(events(app, shop, "portal.announcement_posted")) == 4


def test_delete_takes_it_down(app: Any, shop: Any, staff: Any) -> None:
    from plugins.portal.partner_models import Announcement

    gold = partner_client(app, shop, partner_org(app, shop, "Gold Co", "gold"), "g@gold.example")
    assert post_staff(staff, URL, {"title": "Short-lived", "tier": ""}).status_code == 303
    with in_tenant(app, shop) as session:
        aid = session.scalars(select(Announcement.id)).one()
    assert "Short-lived" in gold.get(HOME).text
    gone = post_staff(staff, f"{URL}/{aid}/delete", {}, page=URL)
    assert gone.status_code == 303 and count(app, shop) == 0
    assert "Short-lived" not in gold.get(HOME).text
    assert post_staff(staff, f"{URL}/{aid}/delete", {}, page=URL).status_code == 404
    assert len(events(app, shop, "portal.announcement_deleted")) == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"title": "  ", "body": "Text"}, "title", "Enter a title."),
        ({"title": "", "body": ""}, "title", "Enter a title."),
        ({"title": "x" * 201}, "title", ""),
        ({"title": "Fine", "tier": "platinum"}, "tier", "Choose one of the listed options."),
        ({"title": "Fine", "body": "y" * 5001}, "body", ""),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    app: Any, shop: Any, staff: Any, data: dict[str, str], field: str, message: str
) -> None:
    response = post_staff(staff, URL, data)
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.text and message in response.text
    assert count(app, shop) == 0 and events(app, shop, "portal.announcement_posted") == []


def test_another_workspace_and_another_partner(app: Any, shop: Any, rival: Any) -> None:
    rival_staff = owner_client(app, rival)
    data = {"title": "Rival news", "tier": ""}
    url = "/t/rival/portal-settings/channel/announcements"
    assert post_staff(rival_staff, url, data).status_code == 303
    pat = partner_client(app, shop, partner_org(app, shop, "Acme", "gold"), "p@acme.example")
    assert "Rival news" not in pat.get(HOME).text
    assert 'id="announcements"' not in pat.get(HOME).text
    from plugins.portal.partner_models import Announcement

    with in_tenant(app, rival) as session:
        aid = session.scalars(select(Announcement.id)).one()
    shop_staff = owner_client(app, shop)
    refused = post_staff(shop_staff, f"{URL}/{aid}/delete", {}, page=URL)
    assert refused.status_code == 404 and count(app, rival) == 1


def test_members_cannot_post_and_module_off_answers_404(app: Any, shop: Any, staff: Any) -> None:
    from conftest import login

    from crm_platform.identity import Tenant, User
    from crm_platform.provisioning import add_member, create_user

    with app.app_context():
        from crm_platform.extensions import db

        user = create_user("mia@shop.example", "Mia Member", "member-pass-Zebra-42")
        db.session.commit()
        uid = user.id
    with in_tenant(app, shop) as session:
        add_member(session.get(Tenant, shop.id), session.get(User, uid), "member")
        session.commit()
    member = app.test_client()
    assert login(member, "mia@shop.example", "member-pass-Zebra-42").status_code == 302
    assert member.get(URL).status_code == 403
    pat = partner_client(app, shop, partner_org(app, shop, "Acme", "gold"), "p@acme.example")
    assert post_staff(staff, URL, {"title": "Hello"}).status_code == 303
    switch(app, shop, "portal", False)
    assert pat.get(HOME).status_code == 404
    assert staff.get(URL).status_code == 404


def test_announcement_table_follows_the_rules(app: Any) -> None:
    from crm_platform.extensions import db
    from crm_platform.schema_rules import model_problems
    from crm_platform.tenancy import tenant_tables

    with app.app_context():
        names = {t.name for t in tenant_tables()}
        assert "portal_announcements" in names
        problems = model_problems(db.metadata, tenant_tables())
        assert [p for p in problems if p.startswith("portal_announcements")] == []


@pytest.mark.postgres
def test_row_level_security_covers_announcements(app: Any, shop: Any, rival: Any) -> None:
    from sqlalchemy import text

    from crm_platform.extensions import db
    from crm_platform.schema_rules import rls_problems
    from crm_platform.tenancy import tenant_tables

    assert post_staff(owner_client(app, shop), URL, {"title": "Shop only"}).status_code == 303
    with app.app_context(), db.engine.connect() as conn:
        tables = [t for t in tenant_tables() if t.name == "portal_announcements"]
        assert rls_problems(conn, tables) == []
    with in_tenant(app, rival) as session:
        assert session.execute(text("SELECT count(*) FROM portal_announcements")).scalar() == 0
    with in_tenant(app, shop) as session:
        assert session.execute(text("SELECT count(*) FROM portal_announcements")).scalar() == 1
