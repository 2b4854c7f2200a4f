"""Outbound webhooks: tenants subscribe URLs to domain events; deliveries are signed POSTs.

* ``models``: subscriptions (``webhooks``), deliveries and attempts, all tenant tables.
* ``plugin``: the ``crm_event`` hook that queues deliveries, navigation, the blueprint.
* ``delivery``: the delivery job (claim, POST, record, retry with backoff) and replays.
* ``netguard``: the SSRF guard (public addresses only, connect to the checked address).
* ``sender``: one POST with a total time limit, no redirects, a bounded read.
* ``signing``: ``X-CRM-Signature`` and :func:`verify_signature` for receivers.

See ``docs/webhooks.md``.
"""

from __future__ import annotations

from .signing import compute_signature, signature_header, verify_signature

__all__ = ["compute_signature", "signature_header", "verify_signature"]
