"""What background jobs need from storage (storage/jobs/store.py); the
housekeeping schedule uses ``ExpiringItems`` and ``JobQueue`` (shared/ports.py)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from chalicelib.domain.jobs.service import BackgroundJob, Failure


class JobStore(Protocol):
    def create(self, job: BackgroundJob, expires_at: datetime) -> None: ...

    def get(self, tenant_id: str, job_id: str) -> BackgroundJob | None: ...

    def mark_started(self, tenant_id: str, job_id: str, at: datetime) -> None:
        """Stamps ``started_at`` once (a later call keeps the first stamp)."""
        ...

    def chunk_finished(self, tenant_id: str, job_id: str, chunk: int) -> bool: ...

    def chunk_progress(self, tenant_id: str, job_id: str, chunk: int) -> set[str]:
        """The keys of the chunk's items recorded as done so far."""
        ...

    def record_success(self, tenant_id: str, job_id: str, chunk: int, key: str, expires_at: datetime) -> None: ...

    def finish_chunk(
        self,
        tenant_id: str,
        job_id: str,
        chunk: int,
        *,
        succeeded: int,
        failures: list[Failure],
        at: datetime,
        expires_at: datetime,
    ) -> bool:
        """Count the chunk once; False when it had been counted before."""
        ...

    def finish_job(self, tenant_id: str, job_id: str, at: datetime) -> None:
        """Stamps ``finished_at`` once every chunk is counted (no-op before, and after)."""
        ...

    def failures(self, tenant_id: str, job_id: str, limit: int) -> list[Failure]:
        """The first ``limit`` failures, in chunk order."""
        ...

    def set_result(self, tenant_id: str, job_id: str, result: dict[str, Any]) -> None:
        """What a finished job made (an export's file), shown on its status."""
        ...
