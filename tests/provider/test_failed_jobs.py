"""Failed jobs in the console: tenant, function, error; retry and delete."""

from __future__ import annotations

from typing import Any

import jobfuncs
from conftest import in_tenant, run_jobs
from rq.job import JobStatus
from rq.registry import FailedJobRegistry

from crm_platform.jobs import get_queue

from .helpers import post_form, staff_actions


def _failed_job(app: Any, tenant: Any) -> str:
    with in_tenant(app, tenant):
        job = jobfuncs.always_fails.enqueue(f"test-{tenant.slug}-{id(app)}")
    run_jobs(app)
    with app.app_context():
        assert job.id in FailedJobRegistry(queue=get_queue(app))
    return job.id


def test_failed_jobs_are_listed_with_tenant_function_and_error(
    app: Any, support: Any, world: dict
) -> None:
    job_id = _failed_job(app, world["alpha"])
    page = support.client.get("/provider/jobs").text
    row = page.split(f'id="job-{job_id}"', 1)[1].split("</tr>", 1)[0]
    assert "Alpha Traders" in row
    assert "jobfuncs:always_fails" in row
    assert "RuntimeError: attempt 3 fails on purpose" in row
    assert "Retry" in row and "Delete" not in row  # support may retry, not delete


def test_retry_queues_the_job_again(app: Any, support: Any, world: dict) -> None:
    job_id = _failed_job(app, world["alpha"])
    response = post_form(support.client, "/provider/jobs", f"/provider/jobs/{job_id}/retry", {})
    assert response.status_code == 302
    with app.app_context():
        queue = get_queue(app)
        assert job_id not in FailedJobRegistry(queue=queue)
        assert job_id in queue.job_ids
        assert queue.fetch_job(job_id).get_status() == JobStatus.QUEUED
        queue.empty()
    [action] = staff_actions(app, "job.retried")
    assert action.target == job_id and action.target_tenant_id == world["alpha"].id
    assert action.details == {"func": "jobfuncs:always_fails"}


def test_delete_removes_the_job(app: Any, admin: Any, world: dict) -> None:
    job_id = _failed_job(app, world["bravo"])
    response = post_form(admin.client, "/provider/jobs", f"/provider/jobs/{job_id}/delete", {})
    assert response.status_code == 302
    with app.app_context():
        assert job_id not in FailedJobRegistry(queue=get_queue(app))
        assert get_queue(app).fetch_job(job_id) is None
    assert "No failed jobs." in admin.client.get("/provider/jobs").text
    assert [a.action for a in staff_actions(app, "job.deleted")] == ["job.deleted"]


def test_support_cannot_delete_and_unknown_jobs_are_404(
    app: Any, support: Any, world: dict
) -> None:
    job_id = _failed_job(app, world["alpha"])
    assert (
        post_form(
            support.client, "/provider/jobs", f"/provider/jobs/{job_id}/delete", {}
        ).status_code
        == 403
    )
    assert (
        post_form(
            support.client, "/provider/jobs", "/provider/jobs/not-a-job/retry", {}
        ).status_code
        == 404
    )
