"""In-memory twin of the GDPR job store (tests), held to
tests/contract/test_gdpr_stores.py with storage/gdpr.py."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.gdpr.service import GdprJob, GdprStatus


class MemoryGdprJobs:
    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], GdprJob] = {}

    def create(self, job: GdprJob) -> None:
        if (job.tenant_id, job.id) in self.jobs:
            raise ValueError("the job exists")
        self.jobs[(job.tenant_id, job.id)] = job

    def get(self, tenant_id: str, job_id: str) -> GdprJob | None:
        return self.jobs.get((tenant_id, job_id))

    def step_done(self, tenant_id: str, job_id: str, step: str, at: datetime) -> None:
        job = self.jobs[(tenant_id, job_id)]
        steps = sorted({*job.steps_done, step})
        self.jobs[(tenant_id, job_id)] = job.model_copy(update={"steps_done": steps, "status": GdprStatus.RUNNING})

    def finish(self, tenant_id: str, job_id: str, at: datetime, result_key: str | None) -> None:
        job = self.jobs[(tenant_id, job_id)]
        self.jobs[(tenant_id, job_id)] = job.model_copy(
            update={"status": GdprStatus.DONE, "finished_at": at, "result_key": result_key}
        )
