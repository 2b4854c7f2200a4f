"""English and Simplified Chinese: catalogs complete and compiled, the language per user."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from conftest import login
from helpers_web import field_error, flashes, hrefs, post_form
from sqlalchemy import select

from crm_platform.config import TRANSLATIONS_DIR
from crm_platform.extensions import db
from crm_platform.identity import User

pytestmark = pytest.mark.once  # not repeated in the SQLite run (see the Makefile)

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = sorted(Path(TRANSLATIONS_DIR).glob("*/LC_MESSAGES/messages.po"))
OWNER = "owner@acme.example"
ZH = "zh_Hans_CN"


def _key(message: Any) -> tuple[str | None, str]:
    msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
    return message.context, msgid


def _entries(catalog: Any) -> dict[tuple[str | None, str], Any]:
    return {_key(m): m.string for m in catalog if m.id}


def _read_po(path: Path) -> Any:
    with path.open("rb") as f:
        return read_po(f, locale=path.parent.parent.name)


# --------------------------------------------------------------------------- catalogs


def test_there_is_a_simplified_chinese_catalog() -> None:
    assert [p.parent.parent.name for p in CATALOGS] == [ZH]


@pytest.mark.parametrize("po_path", CATALOGS, ids=lambda p: p.parent.parent.name)
def test_catalog_is_translated_and_its_mo_is_compiled(po_path: Path) -> None:
    catalog = _read_po(po_path)
    assert not catalog.fuzzy, f"{po_path}: the catalog header is marked fuzzy"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    empty = [m.id for m in catalog if m.id and not all(_strings(m.string))]
    assert not fuzzy, f"fuzzy entries in {po_path} (review them, drop the flag): {fuzzy}"
    assert not empty, f"untranslated entries in {po_path}: {empty}"
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert not problems, f"placeholders differ from the English in {po_path}: {problems}"

    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    mo_path = po_path.with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path} is missing: run `make translations`"
    with mo_path.open("rb") as f:
        committed = read_mo(f)
    assert _entries(committed) == _entries(read_mo(compiled)), (
        f"{mo_path} is out of date with {po_path.name}: run `make translations`"
    )


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


def test_every_message_of_the_source_is_in_every_catalog() -> None:
    """A new ``_('...')`` in code or templates fails here until `make translations` runs."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {
        **DEFAULT_KEYWORDS,
        "_l": None,
        "lazy_gettext": None,
        "lazy_pgettext": ((1, "c"), 2),
    }
    source = {
        (context, msgid[0] if isinstance(msgid, tuple) else msgid)
        for _file, _line, msgid, _comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=keywords
        )
    }
    assert {("company", "Name"), ("role", "Owner"), (None, "Sign in")} <= source
    for po_path in CATALOGS:
        missing = source - set(_entries(_read_po(po_path)))
        assert not missing, f"not in {po_path} yet (run `make translations`): {sorted(missing)}"


# --------------------------------------------------------------------------- pages


def _h(page: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}>([^<]*)</{tag}>", page)


def _html_lang(page: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', page)
    assert match
    return match.group(1)


def _set_locale(app: Any, email: str, locale: str | None) -> None:
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == email)).scalar_one()
        user.locale = locale
        db.session.commit()


def _locale_of(app: Any, email: str) -> str | None:
    with app.app_context():
        return db.session.execute(select(User.locale).where(User.email == email)).scalar_one()


def test_a_chinese_user_sees_chinese_navigation_and_headings(app: Any, factory: Any) -> None:
    factory.tenant("acme", owner_email=OWNER, name="Acme Works")
    _set_locale(app, OWNER, ZH)
    client = app.test_client()
    assert login(client, OWNER).status_code == 302

    home = client.get("/t/acme/", headers={"Accept-Language": "en"})  # the user's choice wins
    assert home.status_code == 200
    assert _html_lang(home.text) == "zh-Hans-CN"
    nav = re.search(r'<nav class="mainnav wide">(.*?)</nav>', home.text, re.S)
    assert nav
    for label in ("首页", "客户", "联系人", "成员", "设置", "审计日志"):
        assert f">{label}</a>" in nav.group(1)
    assert "Home" not in nav.group(1)
    assert _h(home.text, "h2") == ["最新客户", "最近动态"]
    assert "个人资料" in home.text and "退出登录" in home.text

    members = client.get("/t/acme/members")
    assert _h(members.text, "h1") == ["成员"]
    assert "邀请成员" in _h(members.text, "h2")
    assert "所有者" in members.text  # role labels too
    settings = client.get("/t/acme/settings")
    assert _h(settings.text, "h1") == ["工作区设置"]
    assert '<label for="timezone">时区</label>' in settings.text

    _set_locale(app, OWNER, "en")
    english = client.get("/t/acme/")
    assert _html_lang(english.text) == "en" and _h(english.text, "h2")[0] == "Latest accounts"


@pytest.mark.parametrize("header", ["zh", "zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans-CN", "zh-TW"])
def test_accept_language_zh_gives_a_chinese_sign_in_page(client: Any, header: str) -> None:
    page = client.get("/login", headers={"Accept-Language": header})
    assert page.status_code == 200
    assert _html_lang(page.text) == "zh-Hans-CN"
    assert _h(page.text, "h1") == ["登录"]
    assert '<label for="email">邮箱</label>' in page.text
    assert '<label for="password">密码</label>' in page.text
    assert "忘记密码？" in page.text


@pytest.mark.parametrize("header", [None, "en-US,en;q=0.9", "fr-FR,fr;q=0.9", "en;q=0.5,zh;q=0.4"])
def test_english_is_the_default(client: Any, header: str | None) -> None:
    page = client.get("/login", headers={"Accept-Language": header} if header else {})
    assert _html_lang(page.text) == "en"
    assert _h(page.text, "h1") == ["Sign in"]


def test_chinese_validation_messages_on_the_sign_in_page(client: Any) -> None:
    page = post_form(client, "/login", {"email": "", "password": ""})
    assert field_error(page.text, "email") == "This field is required."
    page = client.post(
        "/login",
        data={"csrf_token": _csrf(client, "/login?lang=zh_Hans_CN"), "email": "a@b.example"},
    )
    assert field_error(page.text, "password") == "该字段是必填字段。"  # WTForms' own catalog


def _csrf(client: Any, url: str) -> str:
    from conftest import csrf_token_from

    return csrf_token_from(client.get(url).text)


def test_a_visitor_picks_a_language_on_the_sign_in_page_and_keeps_it(
    app: Any, client: Any, factory: Any
) -> None:
    factory.tenant("acme", owner_email=OWNER, name="Acme Works")
    page = client.get("/login?next=/t/acme/", headers={"Accept-Language": "en"})
    links = [h for h in hrefs(page.text) if "lang=" in h]
    assert "/login?next=%2Ft%2Facme%2F&lang=zh_Hans_CN" in links
    assert "/login?next=%2Ft%2Facme%2F&lang=en" in links

    chinese = client.get("/login?lang=zh_Hans_CN", headers={"Accept-Language": "en"})
    assert _h(chinese.text, "h1") == ["登录"]
    again = client.get("/login", headers={"Accept-Language": "en"})
    assert _h(again.text, "h1") == ["登录"]  # remembered in the session
    assert client.get("/login?lang=xx").status_code == 200  # unknown: ignored
    assert _h(client.get("/login").text, "h1") == ["登录"]

    assert login(client, OWNER).status_code == 302  # a fresh session keeps the choice
    assert _h(client.get("/t/acme/").text, "h2")[0] == "最新客户"
    assert _locale_of(app, OWNER) is None  # the account itself is unchanged

    client.get("/login?lang=en")
    assert _h(client.get("/t/acme/").text, "h2")[0] == "Latest accounts"


def test_signed_out_pages_offer_the_language_switch_and_signed_in_pages_the_profile(
    app: Any, client: Any, factory: Any
) -> None:
    factory.tenant("acme", owner_email=OWNER)
    page = client.get("/login").text
    assert 'lang="zh-Hans-CN"' in page and ">简体中文</a>" in page
    assert "/profile" not in hrefs(page)
    login(client, OWNER)
    home = client.get("/t/acme/").text
    assert "/profile" in hrefs(home)
    assert ">简体中文</a>" not in home


# --------------------------------------------------------------------------- profile


def test_the_profile_form_changes_the_language(app: Any, client: Any, factory: Any) -> None:
    factory.tenant("acme", owner_email=OWNER, name="Acme Works")
    login(client, OWNER)
    page = client.get("/profile")
    assert page.status_code == 200 and _h(page.text, "h1") == ["Profile"]
    assert '<option selected value="">Same as my browser</option>' in page.text
    assert '<option value="zh_Hans_CN">简体中文</option>' in page.text

    saved = post_form(client, "/profile", {"name": "Wang Fang", "locale": ZH})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/profile")
    assert _locale_of(app, OWNER) == ZH
    after = client.get("/profile", headers={"Accept-Language": "en"})
    assert flashes(after.text, "success") == ["个人资料已保存。"]  # already in the new language
    assert _h(after.text, "h1") == ["个人资料"] and _html_lang(after.text) == "zh-Hans-CN"
    assert '<option selected value="zh_Hans_CN">简体中文</option>' in after.text
    assert 'value="Wang Fang"' in after.text

    post_form(client, "/profile", {"name": "Wang Fang", "locale": "en"})
    assert _locale_of(app, OWNER) == "en"
    assert _h(client.get("/profile").text, "h1") == ["Profile"]

    post_form(client, "/profile", {"name": "Wang Fang", "locale": ""})
    assert _locale_of(app, OWNER) is None  # follow the browser again
    browser = client.get("/profile", headers={"Accept-Language": "zh-CN"})
    assert _h(browser.text, "h1") == ["个人资料"]


def test_the_profile_form_rejects_an_unknown_language(app: Any, client: Any, factory: Any) -> None:
    factory.tenant("acme", owner_email=OWNER)
    _set_locale(app, OWNER, "en")
    login(client, OWNER)
    page = post_form(client, "/profile", {"name": "Someone", "locale": "xx"})
    assert page.status_code == 400
    assert field_error(page.text, "locale") == "Not a valid choice."
    assert _locale_of(app, OWNER) == "en"

    page = post_form(client, "/profile", {"name": "  ", "locale": ZH})
    assert page.status_code == 400 and field_error(page.text, "name")
    assert _locale_of(app, OWNER) == "en"


def test_profile_errors_speak_the_users_language(app: Any, client: Any, factory: Any) -> None:
    factory.tenant("acme", owner_email=OWNER)
    _set_locale(app, OWNER, ZH)
    login(client, OWNER)
    page = post_form(client, "/profile", {"name": "", "locale": "klingon"})
    assert page.status_code == 400
    assert field_error(page.text, "name") == "该字段是必填字段。"
    assert field_error(page.text, "locale") == "不是有效的选择。"


def test_the_profile_form_needs_csrf_and_a_signed_in_user(
    app: Any, client: Any, factory: Any
) -> None:
    factory.tenant("acme", owner_email=OWNER)
    response = client.get("/profile")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login(client, OWNER)
    response = client.post("/profile", data={"name": "Mallory", "locale": ZH})
    assert response.status_code == 400
    assert _locale_of(app, OWNER) is None


def test_renaming_oneself_is_audited(app: Any, client: Any, factory: Any) -> None:
    from helpers_web import events

    acme = factory.tenant("acme", owner_email=OWNER)
    login(client, OWNER)
    post_form(client, "/profile", {"name": "New Name", "locale": ""})
    renamed = events(app, acme, "user.renamed")
    assert len(renamed) == 1 and renamed[0].details["to"] == "New Name"
    post_form(client, "/profile", {"name": "New Name", "locale": ZH})
    assert len(events(app, acme, "user.renamed")) == 1  # only the language changed
