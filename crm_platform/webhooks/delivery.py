"""Deliveries: one row per event and webhook, created in the event's transaction, and the
job that POSTs it (signed), records each attempt and retries with backoff.

* :func:`queue_for_event` runs inside ``crm_event``: a rolled-back change leaves no delivery
  and queues no job (``enqueue_after_commit``).
* :func:`deliver` claims the attempt with one conditional UPDATE (``status = pending`` and
  the expected attempt count), so a duplicate or stale job sends nothing and a delivered
  delivery is never sent again by a retry.
* A failed attempt is retried after ``WEBHOOKS_RETRY_INTERVALS`` until
  ``WEBHOOKS_MAX_ATTEMPTS``; then the delivery is ``failed``. A replay (an admin's explicit
  choice) is one more attempt of the same delivery, with the same id and body.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import UTC, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from ..extensions import db
from ..ids import uuid7
from ..jobs import enqueue_in, job
from ..metrics import count
from ..plugin_types import DomainEvent
from ..tenancy import require_tenant, utcnow
from .events import PING, matches
from .models import DELIVERED, FAILED, PENDING, SENDING, Webhook, WebhookAttempt, WebhookDelivery
from .netguard import UnsafeURL, check_url
from .sender import ERROR_CHARS, SendResult, post
from .signing import signature_header

log = logging.getLogger(__name__)

USER_AGENT = "CRM-Webhooks/1.0"
#: A delivery stuck in ``sending`` this long (its worker died) may be replayed.
STUCK_AFTER = timedelta(minutes=10)


def _iso(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def create_delivery(
    hook: Webhook,
    event_name: str,
    record_id: uuid.UUID | None,
    data: dict[str, Any],
    occurred_at: Any = None,
) -> WebhookDelivery:
    """Add a delivery of ``event_name`` to ``hook`` and queue it after commit."""
    delivery = WebhookDelivery(
        id=uuid7(),
        webhook_id=hook.id,
        event=event_name,
        record_id=record_id,
        status=PENDING,
        attempts=0,
    )
    body = {
        "id": str(delivery.id),
        "event": event_name,
        "tenant": require_tenant().slug,
        "occurred_at": _iso(occurred_at or utcnow()),
        "record_id": str(record_id) if record_id else None,
        "data": data,
    }
    delivery.payload = json.dumps(body, default=str, ensure_ascii=False, separators=(",", ":"))
    db.session.add(delivery)
    deliver.enqueue_after_commit(str(delivery.id), 1)
    return delivery


def queue_for_event(event: DomainEvent) -> list[WebhookDelivery]:
    """A delivery for every active webhook of the tenant in context that wants ``event``."""
    hooks = db.session.scalars(
        select(Webhook).where(Webhook.active.is_(True)).order_by(Webhook.id)
    ).all()
    wanted = [hook for hook in hooks if matches(hook.events, event.name)]
    if not wanted:
        return []
    occurred_at = utcnow()
    data = dict(event.data or {})
    return [create_delivery(h, event.name, event.record_id, data, occurred_at) for h in wanted]


def send_test(hook: Webhook, actor: Any = None) -> WebhookDelivery:
    """Queue a ``webhook.ping`` delivery to ``hook`` (whatever it subscribes to)."""
    data = {"message": "Test event from the CRM", "by": getattr(actor, "email", None)}
    return create_delivery(hook, PING, None, data)


def can_replay(delivery: WebhookDelivery) -> bool:
    """True when ``delivery`` is not waiting for or in the middle of an attempt."""
    if delivery.status in (DELIVERED, FAILED):
        return True
    if delivery.status == SENDING and delivery.last_attempt_at is not None:
        last = delivery.last_attempt_at
        if last.tzinfo is None:  # SQLite returns naive UTC
            last = last.replace(tzinfo=UTC)
        return utcnow() - last > STUCK_AFTER
    return False


def replay(delivery: WebhookDelivery) -> bool:
    """Queue one more attempt of ``delivery`` after commit; ``False`` when one is pending."""
    if not can_replay(delivery):
        return False
    delivery.status = PENDING
    delivery.next_attempt_at = None
    deliver.enqueue_after_commit(str(delivery.id), delivery.attempts + 1, replay=True)
    return True


def _intervals() -> list[int]:
    raw = str(current_app.config.get("WEBHOOKS_RETRY_INTERVALS") or "0")
    return [int(x) for x in raw.split(",") if x.strip()] or [0]


def retry_delay(attempt: int) -> int:
    """Seconds to wait after failed attempt number ``attempt`` (the last interval repeats)."""
    intervals = _intervals()
    return intervals[min(attempt, len(intervals)) - 1]


def _headers(hook: Webhook, delivery: WebhookDelivery, body: bytes, attempt: int) -> dict:
    timestamp = int(time.time())
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-CRM-Event": delivery.event,
        "X-CRM-Delivery": str(delivery.id),
        "X-CRM-Attempt": str(attempt),
        "X-CRM-Timestamp": str(timestamp),
        "X-CRM-Signature": signature_header(hook.secret, body, timestamp),
    }


def _send(hook: Webhook, delivery: WebhookDelivery, attempt: int) -> SendResult:
    """One attempt; every problem (refused URL, network, a bug) ends up in the result."""
    config = current_app.config
    body = delivery.payload.encode("utf-8")
    try:
        target = check_url(hook.url, allow_private=bool(config.get("WEBHOOKS_ALLOW_PRIVATE")))
        return post(
            target,
            body,
            _headers(hook, delivery, body, attempt),
            float(config.get("WEBHOOKS_TIMEOUT", 5)),
        )
    except UnsafeURL as exc:
        return SendResult(None, 0, f"refused: {exc}"[:ERROR_CHARS], "")
    except Exception as exc:  # a bug must not leave the delivery in "sending"
        log.exception("webhook delivery %s failed unexpectedly", delivery.id)
        return SendResult(None, 0, f"internal error: {type(exc).__name__}"[:ERROR_CHARS], "")


def _claim(delivery_id: uuid.UUID, attempt: int) -> bool:
    result = db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == PENDING,
            WebhookDelivery.attempts == attempt - 1,
        )
        .values(status=SENDING, attempts=attempt, last_attempt_at=utcnow(), next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


@job(retries=0, timeout=120)
def deliver(delivery_id: str, attempt: int, replay: bool = False) -> dict[str, Any]:
    """Make attempt number ``attempt`` of delivery ``delivery_id`` (a job; see the module)."""
    did = uuid.UUID(delivery_id)
    if not _claim(did, attempt):
        return {"skipped": "not pending, or another attempt ran"}
    delivery = db.session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.id == did)
    ).one_or_none()
    hook = (
        db.session.scalars(select(Webhook).where(Webhook.id == delivery.webhook_id)).one_or_none()
        if delivery
        else None
    )
    if delivery is None or hook is None:
        return {"skipped": "the webhook was deleted"}
    retryable = hook.active
    if hook.active:
        result = _send(hook, delivery, attempt)
    else:
        result = SendResult(None, 0, "the webhook is disabled", "")
    now = utcnow()
    db.session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=attempt,
            replay=replay,
            at=now,
            delivered=result.ok,
            response_code=result.status,
            response_ms=result.duration_ms,
            error=result.error,
            response_excerpt=result.excerpt,
        )
    )
    delivery.response_code = result.status
    delivery.response_ms = result.duration_ms
    delivery.error = result.error
    delivery.response_excerpt = result.excerpt
    delay: int | None = None
    max_attempts = int(current_app.config.get("WEBHOOKS_MAX_ATTEMPTS", 6))
    if result.ok:
        delivery.status, delivery.delivered_at = DELIVERED, now
    elif retryable and not replay and attempt < max_attempts:
        delay = retry_delay(attempt)
        delivery.status, delivery.next_attempt_at = PENDING, now + timedelta(seconds=delay)
    else:
        delivery.status = FAILED
    db.session.commit()
    if delivery.status == FAILED:
        count("webhook_failures")
    if delay is not None:
        enqueue_in(delay, deliver, delivery_id, attempt + 1)
    return {"status": delivery.status, "code": result.status, "attempt": attempt}
