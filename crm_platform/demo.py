"""The demo workspace: a tenant, its owner, a few colleagues and sample customers.

Besides accounts and contacts it shows the customer database off: two teams, custom fields on
both record types, tags, owners, activities (some tasks overdue), and a duplicate pair of
contacts and of accounts to merge. Then every installed module the plan allows is switched
on, and each adds its own sample data through the ``crm_demo_data`` hook.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from rich.progress import Progress
from sqlalchemy import select

from . import audit
from .customers import LIFECYCLE_STAGES, SIZES, SOURCES, Account, Contact
from .extensions import db
from .identity import Membership, Tenant
from .modules import enable_module, installed_modules
from .plugins import notify
from .provisioning import ValidationFailed, add_member, create_tenant, create_user, find_user
from .records.activities import Activity
from .records.custom_fields import CustomField
from .records.teams import Team, TeamMember
from .tenancy import tenant_context, utcnow

_COMPANIES = (
    "Northwind Traders",
    "Contoso Retail",
    "Fabrikam Telecom",
    "Globex Bank",
    "Initech Services",
    "Umbrella Logistics",
    "Stark Components",
    "Wayne Foods",
    "Tyrell Biotech",
    "Soylent Foods",
    "Hooli Cloud",
    "Vandelay Imports",
    "Wonka Confectionery",
    "Cyberdyne Systems",
    "Acme Tools",
)
_INDUSTRIES = ("retail", "telecom", "banking", "b2b_services", "manufacturing", "food")
_REGIONS = ("North", "South", "East", "West", "Shanghai", "Beijing", "Shenzhen")
_FIRST = ("Ada", "Grace", "Linus", "Wei", "Mei", "Jun", "Olga", "Pedro", "Amara", "Kenji")
_LAST = ("Lovelace", "Hopper", "Chen", "Wang", "Li", "Zhang", "Ivanova", "Silva", "Okafor", "Sato")
_TAGS = ("vip", "partner", "renewal 2026", "trial", "reference")
_SEGMENTS = ("SMB", "Mid-market", "Enterprise")
_SERVICES = ("Consulting", "Support", "Training", "Hosting")
_CHANNELS = ("Phone", "E-mail", "WeChat")
_FIELDS = (
    ("account", "annual_revenue", "Annual revenue (k¥)", "number", ()),
    ("account", "segment", "Segment", "choice", _SEGMENTS),
    ("account", "services", "Services bought", "multi_choice", _SERVICES),
    ("account", "renewal", "Contract renewal", "date", ()),
    ("contact", "channel", "Preferred channel", "choice", _CHANNELS),
    ("contact", "newsletter", "Newsletter", "checkbox", ()),
)
_COLLEAGUES = (
    ("manager@demo.example", "Morgan Manager", "manager"),
    ("rep@demo.example", "Riley Rep", "member"),
    ("viewer@demo.example", "Val Viewer", "readonly"),
)


def _custom_fields() -> None:
    for position, (entity, key, label, type_, choices) in enumerate(_FIELDS, start=1):
        db.session.add(
            CustomField(
                entity=entity,
                key=key,
                label=label,
                type=type_,
                choices=list(choices),
                position=position,
            )
        )


def _teams(users: dict[str, Any]) -> dict[str, Team]:
    teams = {"east": Team(name="Sales East"), "key": Team(name="Key accounts")}
    db.session.add_all(teams.values())
    db.session.flush()
    for team, emails in (
        ("east", ("manager@demo.example", "rep@demo.example")),
        ("key", ("owner@demo.example", "manager@demo.example")),
    ):
        for email in emails:
            if email in users:
                db.session.add(TeamMember(team_id=teams[team].id, user_id=users[email].id))
    return teams


def _account_custom(rng: random.Random) -> dict[str, Any]:
    values: dict[str, Any] = {
        "annual_revenue": rng.randrange(50, 50_000, 50),
        "segment": rng.choice(_SEGMENTS),
        "services": sorted(rng.sample(_SERVICES, rng.randint(1, 2)), key=_SERVICES.index),
    }
    if rng.random() < 0.6:
        values["renewal"] = (date(2026, 1, 1) + timedelta(days=rng.randint(0, 540))).isoformat()
    return values


def _activities(rng: random.Random, account: Account, contact: Contact, owner: Any) -> None:
    today = utcnow().date()
    db.session.add(
        Activity(
            kind="call",
            subject=f"Intro call with {contact.full_name}",
            body="Talked about their plans for next year.",
            done=True,
            done_at=utcnow(),
            owner_id=owner.id,
            created_by_id=owner.id,
            account_id=account.id,
            contact_id=contact.id,
        )
    )
    db.session.add(
        Activity(
            kind="task",
            subject=rng.choice(("Send the proposal", "Follow up on the quote", "Book a demo")),
            due_date=today + timedelta(days=rng.randint(-5, 20)),
            owner_id=owner.id,
            created_by_id=owner.id,
            account_id=account.id,
            contact_id=contact.id,
        )
    )


def create_demo(*, slug: str, email: str, password: str, accounts: int = 40) -> bool:
    """Create the demo tenant with sample data; False (and no change) if it already exists."""
    if db.session.execute(select(Tenant.id).where(Tenant.slug == slug)).first():
        return False
    rng = random.Random(2026)
    owner = find_user(email) or create_user(email, "Demo Owner", password)
    tenant = create_tenant("Acme Demo", slug, owner, industry="b2b_services")
    with tenant_context(tenant):
        users = {email: owner}
        for c_email, name, role in _COLLEAGUES:
            user = find_user(c_email) or create_user(c_email, name, password)
            add_member(tenant, user, role)
            users[c_email] = user
            audit.record("member.joined", target=c_email, actor=owner, details={"role": role})
        _custom_fields()
        teams = _teams(users)
        sellers = [owner, users["manager@demo.example"], users["rep@demo.example"]]
        n = 0
        with Progress(transient=True) as progress:
            task = progress.add_task("Sample customers", total=accounts)
            for i in range(accounts):
                base = _COMPANIES[i % len(_COMPANIES)]
                name = base if i < len(_COMPANIES) else f"{base} {i // len(_COMPANIES) + 1}"
                if i == accounts - 1 and accounts >= 3:
                    name = _COMPANIES[0].upper()  # a duplicate of the first account
                seller = rng.choice(sellers)
                account = Account(
                    name=name,
                    industry=rng.choice(_INDUSTRIES),
                    region=rng.choice(_REGIONS),
                    website=f"https://{name.lower().replace(' ', '-')}.example",
                    lifecycle_stage=rng.choice(LIFECYCLE_STAGES),
                    size=rng.choice(SIZES),
                    source=rng.choice(SOURCES),
                    owner_id=seller.id,
                    team_id=teams["east"].id if seller.email != email else teams["key"].id,
                    tags=rng.sample(_TAGS, rng.randint(0, 2)),
                    custom=_account_custom(rng),
                )
                db.session.add(account)
                db.session.flush()
                people = []
                for _ in range(2 if i == 0 else rng.randint(1, 3)):
                    # Walk through the name combinations, so only the planted pair repeats.
                    first, last = _FIRST[n % 10], _LAST[(n // 10 + n) % 10]
                    n += 1
                    person = Contact(
                        account_id=account.id,
                        first_name=first,
                        last_name=last,
                        email=f"{first}.{last}.{i}@{name.split()[0].lower()}.example".lower(),
                        phone=f"+862155555{rng.randint(1000, 9999)}",
                        title=rng.choice(("CEO", "CFO", "Buyer", "IT lead", "Office manager")),
                        lifecycle_stage=account.lifecycle_stage,
                        owner_id=seller.id,
                        team_id=account.team_id,
                        region=account.region,
                        birthday=date(
                            rng.randint(1960, 1995), rng.randint(1, 12), rng.randint(1, 28)
                        )
                        if rng.random() < 0.4
                        else None,
                        custom={"channel": rng.choice(_CHANNELS)}
                        | ({"newsletter": True} if rng.random() < 0.5 else {}),
                    )
                    db.session.add(person)
                    people.append(person)
                if i == 0:  # a duplicate pair: same person entered twice
                    twin = people[1]
                    twin.first_name, twin.last_name = people[0].first_name, people[0].last_name
                    twin.email = people[0].email
                db.session.flush()
                if i < 15:
                    _activities(rng, account, people[0], seller)
                progress.advance(task)
        db.session.flush()
        _modules_and_their_samples(tenant, owner)
    db.session.commit()
    return True


def _modules_and_their_samples(tenant: Tenant, owner: Any) -> None:
    """Switch on every module the plan allows (required ones first), then let each add its
    sample data through ``crm_demo_data``."""
    pending = dict(installed_modules())
    while pending:
        ready = [k for k, d in pending.items() if not set(d.requires) & set(pending)]
        if not ready:
            break
        for key in sorted(ready):
            del pending[key]
            try:
                enable_module(tenant, key, actor=owner)
            except ValidationFailed:
                continue
    db.session.flush()
    rows = db.session.scalars(select(Membership)).all()
    members = sorted(rows, key=lambda m: (m.user_id != owner.id, m.user.email))
    notify("crm_demo_data", tenant=tenant, members=members)


def create_demo_staff(email: str, password: str) -> bool:
    """The demo's provider console user (platform staff, admin); False if already staff."""
    from .provider.access import staff_record
    from .provider.staff import grant_staff

    user = find_user(email) or create_user(email, "Sam Staff", password)
    if staff_record(user.id) is not None:
        return False
    grant_staff(user, "admin", actor="demo")
    db.session.commit()
    return True
