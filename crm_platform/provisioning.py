"""Creating tenants and users: one validated path shared by sign-up, the CLI and the demo."""

from __future__ import annotations

from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from . import audit
from .extensions import db
from .identity import ROLES, Membership, Tenant, User, slug_problem
from .passwords import hash_password, password_problem
from .tenancy import tenant_context, utcnow

INDUSTRIES = ("generic", "banking", "telecom", "retail", "b2b_services")


@dataclass
class ValidationFailed(Exception):
    """Input was refused; ``errors`` maps a field name to a message."""

    errors: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.errors.items())


def normalise_email(email: str) -> str:
    """Validate an address (syntax only) and return it normalised; raises ValidationFailed."""
    try:
        result = validate_email((email or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed({"email": _email_problem(exc)}) from exc
    return result.normalized.lower()


def _email_problem(exc: EmailNotValidError) -> str:
    # email-validator explains in English only; other languages get a short message.
    locale = get_locale()
    if locale is None or locale.language == "en":
        return str(exc)
    return _("Enter a valid e-mail address.")


def find_user(email: str) -> User | None:
    """The user with this e-mail address (any case), or ``None``."""
    return db.session.execute(
        select(User).where(func.lower(User.email) == email.strip().lower())
    ).scalar_one_or_none()


def slug_taken(slug: str) -> bool:
    """True when a tenant already uses ``slug``."""
    return db.session.execute(select(Tenant.id).where(Tenant.slug == slug)).first() is not None


def check_new_tenant(name: str, slug: str, industry: str = "generic") -> dict[str, str]:
    """Field errors for a new tenant's name, slug and industry (empty when all is well)."""
    errors: dict[str, str] = {}
    if not (name or "").strip():
        errors["name"] = _("Enter the company name.")
    elif len(name.strip()) > 200:
        errors["name"] = _("Use at most %(num)d characters.", num=200)
    problem = slug_problem(slug)
    if problem:
        errors["slug"] = problem
    elif slug_taken(slug):
        errors["slug"] = _("This address is already taken.")
    if industry not in INDUSTRIES:
        errors["industry"] = _("Choose one of: %(choices)s.", choices=", ".join(INDUSTRIES))
    return errors


def check_new_user(email: str, name: str, password: str | None) -> tuple[str, dict[str, str]]:
    """Normalised e-mail and field errors for a new user (the e-mail must be unused).

    ``password`` is ``None`` when it was checked earlier and only its hash is at hand.
    """
    errors: dict[str, str] = {}
    try:
        email = normalise_email(email)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    else:
        if find_user(email):
            errors["email"] = _("An account with this e-mail address already exists.")
    if not (name or "").strip():
        errors["name"] = _("Enter your name.")
    problem = None if password is None else password_problem(password, email=email, name=name)
    if problem:
        errors["password"] = problem
    return email, errors


def create_user(
    email: str, name: str, password: str | None = None, *, password_hash: str | None = None
) -> User:
    """Validate and add a user (not committed); raises :class:`ValidationFailed`.

    Pass ``password`` (checked for strength), or ``password_hash`` of one checked earlier.
    """
    if password is None and not password_hash:
        raise ValidationFailed({"password": _("Enter a password.")})
    email, errors = check_new_user(email, name, password)
    if errors:
        raise ValidationFailed(errors)
    user = User(
        email=email,
        name=name.strip(),
        password_hash=password_hash if password is None else hash_password(password),
    )
    db.session.add(user)
    db.session.flush()
    return user


def add_member(tenant: Tenant, user: User, role: str) -> Membership:
    """Add ``user`` to ``tenant`` with ``role`` (the caller is inside the tenant's context).

    Raises ``ValidationFailed`` for an unknown role, or (field ``seats``) when the plan's
    seats are all taken.
    """
    if role not in ROLES:
        raise ValidationFailed({"role": _("Choose one of: %(choices)s.", choices=", ".join(ROLES))})
    from .policy import check_seats

    check_seats()
    membership = Membership(user_id=user.id, role=role)
    db.session.add(membership)
    return membership


def create_tenant(name: str, slug: str, owner: User, *, industry: str = "generic") -> Tenant:
    """Validate and add a tenant with ``owner`` as its owner (not committed)."""
    slug = (slug or "").strip().lower()
    errors = check_new_tenant(name, slug, industry)
    if errors:
        raise ValidationFailed(errors)
    tenant = Tenant(name=name.strip(), slug=slug, industry=industry)
    db.session.add(tenant)
    db.session.flush()
    with tenant_context(tenant):
        add_member(tenant, owner, "owner")
        audit.record("tenant.created", target=slug, actor=owner, details={"name": tenant.name})
        db.session.flush()
        from .modules import enable_default_modules
        from .plugins import notify

        # Before the default modules: billing starts the trial that allows them.
        notify("crm_tenant_created", tenant=tenant, owner=owner)
        enable_default_modules(tenant)
        db.session.flush()
    return tenant


def set_tenant_status(tenant: Tenant, status: str, *, actor_label: str) -> None:
    """Suspend or resume a tenant (audited in that tenant's log)."""
    if status not in ("active", "suspended"):
        raise ValidationFailed({"status": _("Use active or suspended.")})
    if tenant.status == status:
        return
    tenant.status = status
    tenant.suspended_at = utcnow() if status == "suspended" else None
    with tenant_context(tenant):
        action = "tenant.suspended" if status == "suspended" else "tenant.resumed"
        audit.record(action, target=tenant.slug, actor_label=actor_label)
        db.session.flush()
