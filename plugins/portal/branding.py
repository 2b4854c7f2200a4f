"""The portal's settings per workspace: branding (title, welcome text, colour, logo) and
whether customers may sign up by themselves. Stored in the module's settings; the logo in
``portal_logos``."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm_platform.sdk import ValidationFailed, db, module_settings, save_module_settings

from .models import PortalLogo

KEY = "portal"
MAX_LOGO_BYTES = 256 * 1024
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
#: Accepted logo formats by their first bytes (no SVG: it can carry scripts).
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass
class Branding:
    """What a workspace chooses for its portal."""

    title: str = ""
    welcome: str = ""
    colour: str = "#2563eb"
    allow_signup: bool = False
    logo_version: int = 0

    @classmethod
    def load(cls) -> Branding:
        """The workspace's settings (defaults for anything not saved)."""
        stored = module_settings(KEY)
        return cls(**{k: stored[k] for k in asdict(cls()) if k in stored})

    def save(self) -> None:
        """Store them; caller commits."""
        save_module_settings(KEY, {**module_settings(KEY), **asdict(self)})


def clean(data: Any) -> dict[str, Any]:
    """Checked branding values from a form; raises ``ValidationFailed``."""
    errors: dict[str, str] = {}
    title = " ".join(str(data.get("title") or "").split())
    welcome = str(data.get("welcome") or "").replace("\r\n", "\n").strip()
    colour = str(data.get("colour") or "").strip()
    if len(title) > 80:
        errors["title"] = _("Use at most %(num)d characters.", num=80)
    if len(welcome) > 1000:
        errors["welcome"] = _("Use at most %(num)d characters.", num=1000)
    if not _COLOUR.match(colour):
        errors["colour"] = _("Give a colour like #2563eb.")
    if errors:
        raise ValidationFailed(errors)
    return {
        "title": title,
        "welcome": welcome,
        "colour": colour.lower(),
        "allow_signup": str(data.get("allow_signup") or "") in ("1", "y", "on", "true"),
    }


def logo_type(data: bytes) -> str:
    """The MIME type of an acceptable logo; raises ``ValidationFailed`` (field ``logo``)."""
    if not data:
        raise ValidationFailed({"logo": _("Choose an image file.")})
    if len(data) > MAX_LOGO_BYTES:
        raise ValidationFailed({"logo": _("The logo may be at most 256 KB.")})
    for magic, mimetype in _MAGIC:
        if data.startswith(magic):
            return mimetype
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise ValidationFailed({"logo": _("Use a PNG, JPEG, GIF or WebP image.")})


def logo() -> PortalLogo | None:
    """The workspace's logo."""
    return db.session.scalars(select(PortalLogo)).first()


def save_logo(data: bytes) -> None:
    """Check and store a new logo. Caller commits."""
    mimetype = logo_type(data)
    row = logo()
    if row is None:
        row = PortalLogo(mimetype=mimetype, data=data)
        db.session.add(row)
    else:
        row.mimetype, row.data = mimetype, data
    settings = Branding.load()
    settings.logo_version += 1
    settings.save()
    db.session.flush()


def remove_logo() -> None:
    """Drop the logo. Caller commits."""
    row = logo()
    if row is not None:
        db.session.delete(row)
    settings = Branding.load()
    settings.logo_version = 0
    settings.save()
    db.session.flush()
