"""The pydantic models of the jobs API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from chalicelib.domain.jobs.service import MAX_FAILURES_SHOWN, BackgroundJob, Failure, JobStatus
from chalicelib.domain.shared.model import Model


class JobView(Model):
    id: str
    kind: str
    status: JobStatus
    total: int
    succeeded: int
    failed: int
    failures: list[dict[str, Any]] = Field(
        description=f"The first {MAX_FAILURES_SHOWN} failed items, e.g. {{id, status, reason, detail}}"
    )
    created_at: datetime
    created_by: str
    started_at: datetime | None
    finished_at: datetime | None
    percent: int = Field(default=0, description="Share of the items done (an export: of its files)")
    result: dict[str, Any] | None = Field(
        default=None, description="Once done, what the job made, e.g. an export's download_url (valid 5 minutes)"
    )

    @classmethod
    def of(cls, job: BackgroundJob, failures: list[Failure]) -> "JobView":
        return cls(
            id=job.id,
            kind=job.kind,
            status=job.status,
            total=job.total,
            succeeded=job.succeeded,
            failed=job.failed,
            failures=failures,
            created_at=job.created_at,
            created_by=job.created_by,
            started_at=job.started_at,
            finished_at=job.finished_at,
            percent=job.percent,
            result=job.result,
        )
