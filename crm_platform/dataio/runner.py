"""The import job: read the stored file, check and write every row in one transaction.

``run_import`` is an RQ job (``@job``) queued when a member starts an import. It marks the
import ``running`` (committed at once, so the page can tell), then, in the importer's
language, feeds every row through the target's batch importer (:func:`.engine.run_rows`),
reporting progress with ``set_progress`` after each chunk, and commits the records, the
outcome, an audit entry and one ``<target>.imported`` domain event together. Any failure
rolls all of it back and ends the import ``failed`` with the error: nothing half-imported.
Running it again for a finished import does nothing.
"""

from __future__ import annotations

import gc
import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from rq import get_current_job
from sqlalchemy import select

from .. import audit
from ..extensions import db
from ..identity import Membership, User
from ..jobs import job, set_progress
from ..modules import emit_event
from ..plugin_types import ImportTarget
from ..plugins import collect
from ..tenancy import utcnow
from .engine import ImportProblem, Outcome, make_importer, run_rows
from .limits import max_rows
from .models import FINAL, ImportJob
from .reading import FileProblem, Sheet, open_sheet

log = logging.getLogger(__name__)


def import_targets() -> dict[str, ImportTarget]:
    """The import targets of the tenant in context, by key (core and plugins alike)."""
    out: dict[str, ImportTarget] = {}
    for target in collect("crm_import_targets"):
        if isinstance(target, ImportTarget):
            out.setdefault(target.key, target)
    return out


def open_stored(imp: ImportJob) -> Sheet:
    """The stored file of ``imp``, opened as it was read at upload."""
    if imp.content is None:
        raise ImportProblem(_("The uploaded file is no longer stored: upload it again."))
    return open_sheet(imp.content, imp.format, encoding=imp.encoding, delimiter=imp.delimiter)


def _progress_message(done: int, total: int) -> str:
    return _("%(done)s of %(total)s rows checked", done=f"{done:,}", total=f"{max(total, done):,}")


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (back on, as it was, afterwards).

    Checking a row makes a dozen small lists, dicts and tuples that refer to nothing that
    refers back to them: reference counting frees them, and the collector's passes over the
    objects the import keeps (the remembered checks, the dedupe keys, the rows of the chunk
    in flight) found nothing and cost about a sixth of the job's CPU. A cycle made inside
    the block waits for the first collection after it. (With no collection at all, freezing
    the older objects, ``jobs.frozen_heap``, would save nothing more.)
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def prompt_thread_switches(seconds: float = 0.0005) -> Iterator[None]:
    """Hand the GIL over after ``seconds`` (not Python's 5 ms) inside the block.

    The writer thread waits for the database several times a chunk, and after each wait it
    needs the GIL back from the thread checking the next chunk, which by default keeps it up
    to 5 ms: at 50 chunks, about a second of the database's time lost on the critical path.
    """
    before = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def execute(imp: ImportJob) -> Outcome:
    """Import every row of ``imp`` in the current transaction (the caller commits)."""
    target = import_targets().get(imp.target)
    if target is None:
        raise ImportProblem(
            _("There is no import target “%(target)s” in this workspace.", target=imp.target)
        )
    membership = db.session.scalar(
        select(Membership).where(Membership.user_id == imp.created_by_id)
    )
    if membership is None or not membership.can(target.permission):
        raise ImportProblem(_("The member who started this import may no longer import."))
    actor = membership.user
    try:
        sheet = open_stored(imp)
    except FileProblem as exc:
        raise ImportProblem(str(exc)) from exc
    if sheet.headers != imp.headers:
        raise ImportProblem(_("The stored file does not match its mapping: upload it again."))
    importer = make_importer(target, dedupe=imp.dedupe, membership=membership, actor=actor)
    total = imp.total_rows
    set_progress(0, total, _progress_message(0, total))

    def progress(done: int) -> None:
        set_progress(min(done, max(total, done)), max(total, done), _progress_message(done, total))

    try:
        with cycle_collection_paused(), prompt_thread_switches():
            outcome = run_rows(
                sheet.rows,
                headers=sheet.headers,
                mapping=imp.mapping,
                padded=sheet.padded,
                importer=importer,
                labels=target.fields,
                max_rows=max_rows(),
                progress=progress,
            )
    except FileProblem as exc:
        raise ImportProblem(str(exc)) from exc
    imp.status = "done"
    imp.created_count, imp.updated_count = outcome.created, outcome.updated
    imp.skipped_count, imp.rejected_count = outcome.skipped, outcome.rejected
    imp.rejections, imp.report = outcome.rejections, outcome.report
    imp.total_rows = outcome.rows
    imp.finished_at = utcnow()
    imp.content = None  # the records hold the data now
    counts = {
        "import_id": str(imp.id),
        "created": outcome.created,
        "updated": outcome.updated,
        "skipped": outcome.skipped,
        "rejected": outcome.rejected,
    }
    audit.record(
        "data.imported",
        target=target.key,
        details={**counts, "file": imp.filename},
        actor=actor,
        actor_label=actor.email,
    )
    emit_event(f"{target.key}.imported", data=counts, actor=actor)
    set_progress(outcome.rows, outcome.rows, _("Done"))
    return outcome


def _fail(import_id: uuid.UUID, message: str) -> None:
    db.session.rollback()
    imp = db.session.scalars(select(ImportJob).where(ImportJob.id == import_id)).one()
    imp.status, imp.error, imp.finished_at = "failed", message, utcnow()
    db.session.commit()


@job(retries=0, timeout=3600)
def run_import(import_id: str) -> dict[str, Any]:
    """Run the import ``import_id`` of the tenant in context (see the module docstring)."""
    iid = uuid.UUID(import_id)
    imp = db.session.scalar(select(ImportJob).where(ImportJob.id == iid))
    if imp is None or imp.status in FINAL or imp.status == "uploaded":
        return {"skipped": "not waiting to run"}
    current = get_current_job()
    imp.status, imp.started_at = "running", utcnow()
    imp.job_id = current.id if current is not None else None
    locale = imp.locale or "en"
    db.session.commit()
    with force_locale(locale):
        try:
            outcome = execute(imp)
            db.session.commit()
        except ImportProblem as exc:
            _fail(iid, str(exc))
            return {"failed": str(exc)}
        except Exception as exc:
            log.exception("import %s failed", import_id)
            message = _(
                "The import failed while writing (%(error)s); nothing was imported.",
                error=type(exc).__name__,
            )
            _fail(iid, message)
            return {"failed": message}
    return {"created": outcome.created, "updated": outcome.updated, "rejected": outcome.rejected}


def get_import(import_id: Any) -> ImportJob | None:
    """The import ``import_id`` of the tenant in context, or ``None``."""
    from ..ids import parse_uuid

    iid = parse_uuid(import_id)
    if iid is None:
        return None
    return db.session.scalar(select(ImportJob).where(ImportJob.id == iid))


def creator_email(imp: ImportJob) -> str:
    """Who started an import (for the history)."""
    user = imp.created_by if imp.created_by_id else None
    return user.email if isinstance(user, User) else ""
