"""An in-process ERP for the framework's tests: a real ``Connector`` (no mock of our code)
backed by a dict, with parties and sales going both ways, a switch that takes it down and a
page after which it fails."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crm_platform.sdk import hookimpl
from plugins.erp.connector import (
    ConnectorError,
    ExternalRecord,
    FieldMap,
    Page,
    SettingField,
    SyncObject,
)


class MemoryErp:
    """A connector over :data:`STORE` (reset by the tests)."""

    key = "memory"
    name = "Memory ERP"
    description = "An ERP in a dict, for tests."
    objects = (
        SyncObject(
            "party",
            "Parties",
            "account",
            "both",
            (FieldMap("name", "name"), FieldMap("email", "email"), FieldMap("phone", "phone")),
        ),
        SyncObject(
            "sale",
            "Sales",
            "order",
            "both",
            (
                FieldMap("party", "account"),
                FieldMap("reference", "number"),
                FieldMap("state", "status"),
                FieldMap("currency", "currency"),
                FieldMap("lines", "lines"),
                FieldMap("description", "description"),
            ),
        ),
    )
    settings = (
        SettingField("url", "Server address"),
        SettingField("password", "Password", secret=True),
    )

    def check(self, settings: dict[str, str]) -> None:
        if STORE["down"]:
            raise ConnectorError("connection refused")
        if settings.get("password") != "s3cret":
            raise ConnectorError("wrong password", retryable=False)

    def pull(
        self, settings: dict[str, str], object_key: str, cursor: str | None, limit: int
    ) -> Page:
        if STORE["down"]:
            raise ConnectorError("timed out")
        STORE["pulls"] += 1
        if STORE["crash"]:
            raise RuntimeError("a bug in the connector")
        if STORE["fail_on_pull"] and STORE["pulls"] >= STORE["fail_on_pull"]:
            raise ConnectorError("timed out half way")
        after = int(cursor or 0)
        rows = sorted(
            (r for r in STORE["records"][object_key].values() if r["seq"] > after),
            key=lambda r: r["seq"],
        )
        page = rows[:limit]
        records = [
            ExternalRecord(
                r["id"],
                dict(r["data"]),
                r["updated_at"],
                r.get("deleted", False),
                {"system": "memory", "model": object_key},
            )
            for r in page
        ]
        return Page(records, str(page[-1]["seq"]) if page else cursor, len(rows) > limit)

    def push(
        self,
        settings: dict[str, str],
        object_key: str,
        external_id: str | None,
        data: dict[str, Any],
    ) -> str:
        if STORE["down"]:
            raise ConnectorError("timed out")
        STORE["pushes"].append((object_key, external_id, data))
        if object_key == "sale":
            data = {**data, "state": "quotation"}
        return put(object_key, data, external_id)


def _fresh() -> dict[str, Any]:
    return {
        "records": {"party": {}, "sale": {}},
        "seq": 0,
        "down": False,
        "fail_on_pull": 0,
        "crash": False,
        "pulls": 0,
        "pushes": [],
    }


STORE: dict[str, Any] = _fresh()


def reset() -> None:
    """Empty the ERP."""
    STORE.clear()
    STORE.update(_fresh())


def put(
    object_key: str,
    data: dict[str, Any],
    external_id: str | None = None,
    *,
    deleted: bool = False,
    when: datetime | None = None,
) -> str:
    """Create or change a record in the ERP (as a user of the ERP would); its id."""
    STORE["seq"] += 1
    ext = external_id or f"{object_key[0].upper()}{STORE['seq']}"
    STORE["records"][object_key][ext] = {
        "id": ext,
        "seq": STORE["seq"],
        "data": data,
        "deleted": deleted,
        "updated_at": when or datetime.now(UTC),
    }
    return ext


class MemoryErpPlugin:
    """Registers :class:`MemoryErp` through the ERP module's ``erp_connectors`` hook."""

    crm_plugin_name = "memory_erp"

    @hookimpl
    def erp_connectors(self) -> list[Any]:
        return [MemoryErp()]
