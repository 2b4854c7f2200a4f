"""Sample data for the demo workspace: a file connection with a small accounting export,
synced once, so the connection, its run, the ledger, the orders and the payment panel have
something to show."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from crm_platform.sdk import db

from . import file_connector
from .engine import execute_run
from .models import Connection, SyncRun

#: (external id, name, region, industry)
PARTIES = (
    ("P-1001", "Harbour Logistics Ltd", "Shanghai", "logistics"),
    ("P-1002", "Blue Harbor Foods", "North", "retail"),
    ("P-1003", "Golden Lotus Tea Co.", "Hangzhou", "retail"),
)


def _records(today: date) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = [
        {
            "object": "party",
            "external_id": ext,
            "data": {"name": name, "region": region, "industry": industry},
        }
        for ext, name, region, industry in PARTIES
    ]
    for n in range(6):
        party = PARTIES[n % len(PARTIES)][0]
        total = f"{(n + 2) * 450}.00"
        records.append(
            {
                "object": "sale",
                "external_id": f"SO-{2001 + n}",
                "data": {
                    "number": f"SO-{2001 + n}",
                    "party": party,
                    "date": (today - timedelta(days=12 * n + 3)).isoformat(),
                    "status": "completed" if n > 1 else "pending",
                    "currency": "USD",
                    "total": total,
                    "lines": [
                        {"name": "Service plan", "quantity": "1", "unit_price": total},
                    ],
                },
            }
        )
    for n, (state, due_in, amount_due) in enumerate(
        (("paid", -20, "0"), ("open", 14, None), ("open", -9, None))
    ):
        sale = f"SO-{2001 + n}"
        total = f"{(n + 2) * 450}.00"
        records.append(
            {
                "object": "invoice",
                "external_id": f"INV-{3001 + n}",
                "data": {
                    "number": f"INV-{3001 + n}",
                    "party": PARTIES[n % len(PARTIES)][0],
                    "sale": sale,
                    "date": (today - timedelta(days=30)).isoformat(),
                    "due_date": (today + timedelta(days=due_in)).isoformat(),
                    "state": state,
                    "currency": "USD",
                    "total": total,
                    "amount_due": amount_due if amount_due is not None else total,
                },
            }
        )
    return records


def create_demo_data() -> None:
    """The demo's ERP connection ("Accounting export (demo)"), with one sync run done."""
    if db.session.query(Connection.id).first() is not None:
        return
    connection = Connection(
        name="Accounting export (demo)", connector_key="file", settings={}, interval_minutes=0
    )
    db.session.add(connection)
    db.session.flush()
    drop = file_connector.read_json(json.dumps({"records": _records(date.today())}).encode())
    file_connector.store(connection.id, drop, "demo")
    # Run here, not queued: the demo is ready when `crm demo` ends.
    run = SyncRun(connection_id=connection.id, trigger="demo", status="queued", log=[])
    db.session.add(run)
    db.session.flush()
    execute_run(run)
