"""Ticket attachments: size and type limits, storage in the tenant's rows.

Files are kept in ``service_attachments`` (tenant-scoped, under row-level security), so they
follow the tenant's isolation, backups and deletion, and a download is a ``get_or_404`` of
the current tenant's row. Only known document, image and archive types are accepted;
downloads are always sent as attachments with ``nosniff``.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

from flask_babel import gettext as _
from werkzeug.utils import secure_filename

from crm_platform.sdk import db

from .models import Attachment
from .settings import config

#: Extensions an attachment may have (lowercase, without the dot).
ALLOWED_EXTENSIONS = frozenset(
    {
        "txt",
        "log",
        "csv",
        "pdf",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "webp",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "ppt",
        "pptx",
        "odt",
        "ods",
        "rtf",
        "zip",
        "eml",
        "json",
        "xml",
        "mp3",
        "wav",
        "m4a",
    }
)


@dataclass(frozen=True)
class Upload:
    """A file on its way in: name, declared type, content."""

    filename: str
    content_type: str
    data: bytes


def safe_name(filename: str) -> str:
    """A file name without paths or odd characters (``attachment`` when nothing is left)."""
    name = secure_filename(filename or "")[:200]
    return name or "attachment"


def attachment_problem(upload: Upload) -> str | None:
    """Why ``upload`` is refused (too large, type not allowed), or ``None``."""
    limit = int(config("SERVICE_ATTACHMENT_MAX_BYTES"))
    name = safe_name(upload.filename)
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    if extension not in ALLOWED_EXTENSIONS:
        return _("%(name)s: files of this type are not accepted.", name=name)
    if len(upload.data) > limit:
        return _(
            "%(name)s: larger than %(limit)d MB.", name=name, limit=max(1, limit // 1024 // 1024)
        )
    if not upload.data:
        return _("%(name)s: the file is empty.", name=name)
    return None


def store(ticket_id: object, message_id: object, upload: Upload) -> Attachment:
    """Keep an accepted upload on a ticket (check it with :func:`attachment_problem` first)."""
    name = safe_name(upload.filename)
    guessed = mimetypes.guess_type(name)[0]
    attachment = Attachment(
        ticket_id=ticket_id,
        message_id=message_id,
        filename=name,
        content_type=(guessed or upload.content_type or "application/octet-stream")[:120],
        size=len(upload.data),
        data=upload.data,
    )
    db.session.add(attachment)
    return attachment


def store_all(ticket_id: object, message_id: object, uploads: list[Upload]) -> list[str]:
    """Keep every acceptable upload; returns the problems of those refused."""
    problems = []
    for upload in uploads:
        problem = attachment_problem(upload)
        if problem:
            problems.append(problem)
        else:
            store(ticket_id, message_id, upload)
    return problems
