"""The pydantic models of the gdpr API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from chalicelib.domain.gdpr.service import GdprJob
from chalicelib.domain.shared.model import Model


class GdprStarted(Model):
    job_id: str
    status_url: str


class GdprJobView(Model):
    id: str
    kind: str
    contact_id: str
    status: str = Field(description="queued, running, done")
    steps_done: list[str] = Field(description="Erasure: the features done so far")
    created_at: datetime
    created_by: str
    finished_at: datetime | None
    result: dict[str, str] | None = Field(description="A finished export: {download_url} (valid 5 minutes)")

    @classmethod
    def of(cls, job: GdprJob, url: str | None) -> "GdprJobView":
        return cls(
            **job.model_dump(exclude={"tenant_id", "result_key", "status", "kind"}),
            kind=job.kind.value,
            status=job.status.value,
            result={"download_url": url} if url else None,
        )
