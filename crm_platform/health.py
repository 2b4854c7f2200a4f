"""Health endpoints: ``/healthz`` (the process answers) and ``/readyz`` (DB and Redis)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import text

from .extensions import db
from .redis_conn import get_redis

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    """The process is up."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Any:
    """Ready to serve: the database and Redis both answer (503 naming what failed)."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("select 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report, never raise
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
