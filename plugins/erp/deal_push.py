"""Queue the push of a won deal to the connections that send quotations."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from crm_platform.sdk import db

from .models import Connection
from .push import quote_object
from .registry import get_connector, objects_of


def queue_deal_push(deal_id: uuid.UUID) -> int:
    """Queue ``push_deal_job`` (after commit) for each enabled connection whose connector
    has a quote/sale object going out; the number queued."""
    from .jobs import push_deal_job

    queued = 0
    for connection in db.session.scalars(select(Connection).where(Connection.enabled.is_(True))):
        connector = get_connector(connection.connector_key)
        if connector is None or quote_object(objects_of(connection, connector)) is None:
            continue
        push_deal_job.enqueue_after_commit(str(connection.id), str(deal_id))
        queued += 1
    return queued
