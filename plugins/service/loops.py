"""Mail loops: automatic replies are filed but never answered.

A message is automatic when its headers say so (RFC 3834 ``Auto-Submitted``, the common
``X-Autoreply``/``X-Autorespond``, ``Precedence: bulk|junk|list|auto_reply``, Microsoft's
``X-Auto-Response-Suppress``), when it comes from a robot address (mailer-daemon,
postmaster, no-reply ...) or when one sender writes more than the hourly limit (two
auto-responders answering each other).
"""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage

from flask_babel import gettext as _
from sqlalchemy import func, select

from crm_platform.sdk import db, utcnow

from .models import Message
from .settings import config

_ROBOT = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|auto-?reply|daemon)"
    r"([+\-.@]|$)",
    re.I,
)
_PRECEDENCE = {"bulk", "junk", "list", "auto_reply", "auto-reply"}


def auto_reply_reason(message: EmailMessage, sender: str) -> str | None:
    """Why ``message`` looks automatic, or ``None`` for a person's mail."""
    submitted = (message.get("Auto-Submitted") or "").strip().lower()
    if submitted and submitted != "no":
        return _("Auto-Submitted: %(value)s", value=submitted)
    for header in ("X-Autoreply", "X-Autorespond", "X-Autoresponse"):
        if message.get(header) is not None:
            return _("%(header)s header", header=header)
    precedence = (message.get("Precedence") or "").strip().lower()
    if precedence in _PRECEDENCE:
        return _("Precedence: %(value)s", value=precedence)
    suppress = (message.get("X-Auto-Response-Suppress") or "").lower()
    if any(word in suppress for word in ("all", "oof", "autoreply")):
        return _("X-Auto-Response-Suppress: %(value)s", value=suppress)
    if message.get("X-Loop") is not None or message.get("List-Id") is not None:
        return _("mailing list or loop header")
    if _ROBOT.match(sender or ""):
        return _("sent by a robot address")
    return None


def sender_over_limit(sender: str) -> bool:
    """True when ``sender`` has written more than the hourly limit to this workspace."""
    limit = int(config("SERVICE_SENDER_LIMIT_PER_HOUR"))
    since = utcnow() - timedelta(hours=1)
    count = db.session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.from_address == sender, Message.created_at >= since)
    )
    return (count or 0) >= limit
