"""The module's jobs: the shared pool's reclaim (scheduled hourly) and rescoring all leads.

Both run in the tenant's context, are idempotent (running again changes nothing more) and are
skipped by the core while the module is off for the tenant.
"""

from __future__ import annotations

from crm_platform.sdk import audit_record, job, set_progress

from .leads import reclaim_stale_leads
from .scoring import rescore_all
from .settings import sales_settings


@job(retries=3)
def reclaim_leads() -> int:
    """Send leads nobody worked for the setting's days back to the pool; how many went."""
    days = sales_settings().pool_days
    count = reclaim_stale_leads(days)
    if count:
        audit_record("sfa.leads.reclaimed", target=str(count), details={"days": days})
    return count


@job(retries=3)
def rescore_leads() -> int:
    """Recompute every open lead's score (after the rules changed); how many changed."""
    return rescore_all(progress=lambda done, total: set_progress(done, total, "scoring leads"))
