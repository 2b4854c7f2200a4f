"""The demo workspace: a tenant, its owner, a few colleagues and sample customers."""

from __future__ import annotations

import random

from rich.progress import Progress
from sqlalchemy import select

from . import audit
from .customers import LIFECYCLE_STAGES, Account, Contact
from .extensions import db
from .identity import Tenant
from .provisioning import add_member, create_tenant, create_user, find_user
from .tenancy import tenant_context

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
_COLLEAGUES = (
    ("manager@demo.example", "Morgan Manager", "manager"),
    ("rep@demo.example", "Riley Rep", "member"),
    ("viewer@demo.example", "Val Viewer", "readonly"),
)


def create_demo(*, slug: str, email: str, password: str, accounts: int = 40) -> bool:
    """Create the demo tenant with sample data; False (and no change) if it already exists."""
    if db.session.execute(select(Tenant.id).where(Tenant.slug == slug)).first():
        return False
    rng = random.Random(2026)
    owner = find_user(email) or create_user(email, "Demo Owner", password)
    tenant = create_tenant("Acme Demo", slug, owner, industry="b2b_services")
    with tenant_context(tenant):
        for c_email, name, role in _COLLEAGUES:
            user = find_user(c_email) or create_user(c_email, name, password)
            add_member(tenant, user, role)
            audit.record("member.joined", target=c_email, actor=owner, details={"role": role})
        with Progress(transient=True) as progress:
            task = progress.add_task("Sample customers", total=accounts)
            for i in range(accounts):
                base = _COMPANIES[i % len(_COMPANIES)]
                name = base if i < len(_COMPANIES) else f"{base} {i // len(_COMPANIES) + 1}"
                account = Account(
                    name=name,
                    industry=rng.choice(_INDUSTRIES),
                    region=rng.choice(_REGIONS),
                    website=f"https://{name.lower().replace(' ', '-')}.example",
                    lifecycle_stage=rng.choice(LIFECYCLE_STAGES),
                )
                db.session.add(account)
                db.session.flush()
                for _ in range(rng.randint(1, 3)):
                    first, last = rng.choice(_FIRST), rng.choice(_LAST)
                    db.session.add(
                        Contact(
                            account_id=account.id,
                            first_name=first,
                            last_name=last,
                            email=f"{first}.{last}.{i}@{name.split()[0].lower()}.example".lower(),
                            phone=f"+86 21 5555 {rng.randint(1000, 9999)}",
                            title=rng.choice(("CEO", "CFO", "Buyer", "IT lead", "Office manager")),
                            lifecycle_stage=account.lifecycle_stage,
                        )
                    )
                progress.advance(task)
        db.session.flush()
    db.session.commit()
    return True
