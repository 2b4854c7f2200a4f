"""The bounds of imports and exports (``CRM_IMPORT_MAX_BYTES`` and friends, see config)."""

from __future__ import annotations

from flask import current_app

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ROWS = 200_000
DEFAULT_XLSX_EXPORT_ROWS = 100_000
#: Room for the multipart envelope and the other form fields around an uploaded file.
FORM_OVERHEAD = 64 * 1024


def max_bytes() -> int:
    """The largest file an import accepts, in bytes."""
    return int(current_app.config.get("IMPORT_MAX_BYTES") or DEFAULT_MAX_BYTES)


def max_rows() -> int:
    """The most data rows an import accepts."""
    return int(current_app.config.get("IMPORT_MAX_ROWS") or DEFAULT_MAX_ROWS)


def xlsx_export_rows() -> int:
    """The most rows an Excel export writes (CSV exports stream and have no bound)."""
    return int(current_app.config.get("EXPORT_XLSX_MAX_ROWS") or DEFAULT_XLSX_EXPORT_ROWS)


def size_label(size: int) -> str:
    """``size`` bytes for people: ``20 MB``, ``1.5 MB``, ``16 KB``."""
    if size >= 1024 * 1024:
        value = size / (1024 * 1024)
        return f"{value:.0f} MB" if value >= 10 or value == int(value) else f"{value:.1f} MB"
    return f"{max(size // 1024, 1)} KB"
