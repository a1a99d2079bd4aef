"""GDPR export and erasure of one person (issue 18, points 7 and 8).

Both are background jobs with a status record (``GdprJob``) and one
jobs-queue message, run step by step over *every feature* named in one table
(bootstrap/gdpr.py): an exporter per feature gives the ZIP's files, an eraser
per feature removes (or, for invoices, anonymises) what it holds about the
person. A test fails when a feature package exists that the table neither
lists nor exempts with a reason, so a new feature cannot forget erasure.

Why an orchestrated job rather than one subscriber per feature on a
``ContactErased`` event: erasure has an order (invoices are anonymised while
the contact still names them; calls, tasks and history go before the contact
record, whose change log is rewritten last), it must report *done* to whoever
answers the person's request (one status, not N independent messages), and a
step that fails must be retried without re-running the ones before it: each
finished step is recorded on the job, a redelivery skips it, and a failing
step fails the message so SQS retries it (and the DLQ names the job).

Access: admins only, for both. An export holds everything about a person;
answering a subject access request is an administrator's task.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import ConfigDict, Field

from chalicelib.domain.shared.access import ContactAccess, Operation, allowed
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import Forbidden, NotFound
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.ports import JobQueue
from chalicelib.domain.shared.principal import Principal

# (tenant id, contact id) -> {path in the ZIP: bytes}
Exporter = Callable[[str, str], Mapping[str, bytes]]
# (tenant id, contact id, who asked) -> anything (counts, for the logs)
Eraser = Callable[[str, str, str], object]

DOWNLOAD_SECONDS = 300


class GdprKind(StrEnum):
    EXPORT = "export"
    ERASE = "erase"


class GdprStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class GdprJob(Model):
    model_config = ConfigDict(extra="ignore")

    id: str
    tenant_id: str
    kind: GdprKind
    contact_id: str
    created_by: str
    created_at: datetime
    status: GdprStatus = GdprStatus.QUEUED
    steps_done: list[str] = Field(default_factory=list)
    result_key: str | None = None
    finished_at: datetime | None = None


class GdprMessage(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["gdpr.export", "gdpr.erase"]
    tenant_id: str
    job_id: str


class GdprJobs(Protocol):
    def create(self, job: GdprJob) -> None: ...

    def get(self, tenant_id: str, job_id: str) -> GdprJob | None: ...

    def step_done(self, tenant_id: str, job_id: str, step: str, at: datetime) -> None: ...

    def finish(self, tenant_id: str, job_id: str, at: datetime, result_key: str | None) -> None: ...


class ExportFiles(Protocol):
    def put(self, tenant_id: str, contact_id: str, job_id: str, data: bytes) -> str: ...

    def download_url(self, key: str, seconds: int) -> str: ...


class PersonExists(Protocol):
    def access(self, tenant_id: str, contact_id: str) -> ContactAccess | None:
        """The contact's access fields (None: no such contact in the tenant)."""
        ...


class Gdpr:
    def __init__(
        self,
        jobs: GdprJobs,
        files: ExportFiles,
        people: PersonExists,
        queue: JobQueue,
        exporters: Mapping[str, Exporter],
        erasers: Mapping[str, Eraser],
        clock: Clock = utc_now,
    ):
        self._jobs = jobs
        self._files = files
        self._people = people
        self._queue = queue
        self._exporters = exporters
        self._erasers = erasers
        self._clock = clock

    def start(self, principal: Principal, kind: GdprKind, contact_id: str) -> GdprJob:
        # A contact the caller may not read is not found, for admins and users alike: a user who
        # is refused (403) a private contact would learn that it exists (issue 19, access matrix).
        record = self._people.access(principal.tenant_id, contact_id)
        if record is None or not allowed(principal, Operation.READ, record, tenant_id=principal.tenant_id):
            raise NotFound("The contact does not exist.")
        if not principal.is_admin:
            raise Forbidden(f"Only administrators {kind.value} a person's data.")
        job = GdprJob(
            id=new_id(),
            tenant_id=principal.tenant_id,
            kind=kind,
            contact_id=contact_id,
            created_by=principal.user_id,
            created_at=self._clock(),
        )
        self._jobs.create(job)
        message_kind: Literal["gdpr.export", "gdpr.erase"] = "gdpr.export" if kind == GdprKind.EXPORT else "gdpr.erase"
        self._queue.send(GdprMessage(kind=message_kind, tenant_id=job.tenant_id, job_id=job.id).model_dump())
        return job

    def get(self, principal: Principal, contact_id: str, kind: GdprKind, job_id: str) -> tuple[GdprJob, str | None]:
        """The job and, for a finished export, a short-lived download URL."""
        if not principal.is_admin:
            raise NotFound("The job does not exist.")
        job = self._jobs.get(principal.tenant_id, job_id)
        if job is None or job.contact_id != contact_id or job.kind != kind:
            raise NotFound("The job does not exist.")
        url = self._files.download_url(job.result_key, DOWNLOAD_SECONDS) if job.result_key else None
        return job, url

    def run(self, message: GdprMessage) -> None:
        job = self._jobs.get(message.tenant_id, message.job_id)
        if job is None or job.status == GdprStatus.DONE:
            return
        if job.kind == GdprKind.EXPORT:
            self._export(job)
        else:
            self._erase(job)

    def _export(self, job: GdprJob) -> None:
        import io
        import zipfile  # here: the API function never builds a ZIP (cold start)

        buffer = io.BytesIO()
        listing: dict[str, list[str]] = {}
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for feature, exporter in self._exporters.items():
                files = exporter(job.tenant_id, job.contact_id)
                listing[feature] = sorted(files)
                for path, data in files.items():
                    archive.writestr(f"{feature}/{path}", data)
            manifest = {"contact_id": job.contact_id, "exported_at": self._clock().isoformat(), "files": listing}
            archive.writestr("manifest.json", json.dumps(manifest, indent=2))
        key = self._files.put(job.tenant_id, job.contact_id, job.id, buffer.getvalue())
        self._jobs.finish(job.tenant_id, job.id, self._clock(), key)

    def _erase(self, job: GdprJob) -> None:
        for step, eraser in self._erasers.items():
            if step in job.steps_done:
                continue  # a redelivery: done before
            eraser(job.tenant_id, job.contact_id, job.created_by)  # raises: the message fails and comes back
            self._jobs.step_done(job.tenant_id, job.id, step, self._clock())
        self._jobs.finish(job.tenant_id, job.id, self._clock(), None)


def json_file(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str).encode()
