"""Twins of the jobs queue (storage/queues.py), the background job store
(storage/jobs/store.py) and the expiring items housekeeping purges
(storage/jobs/expiry.py).

Expiry: a twin that writes a row which expires (a token, a login throttle,
a job) registers it with ``expire``, as the DynamoDB adapters add
``keys.expiry_attributes``; ``MemoryExpiringItems.delete_expired`` then
deletes what expired within an hour, as housekeeping does on the table.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.jobs.service import BackgroundJob, Failure
from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.errors import Conflict
from chalicelib.storage.memory.db import GLOBAL, MemoryDb, frozen, stored_moment, thawed

EXPIRY = "expiry"  # GLOBAL: (tenant, table, row key) -> (expiry instant iso, ttl seconds)
JOB_STATE = "job_state"  # GLOBAL: schedule checkpoints by job name
JOBS, CHUNKS, PROGRESS = "jobs", "job_chunks", "job_progress"


def expire(db: MemoryDb, tenant_id: str, table: str, key: Hashable, at: datetime) -> None:
    """Row ``key`` of ``table`` expires at ``at`` (registering again moves the expiry)."""
    db.table(GLOBAL, EXPIRY)[(tenant_id, table, key)] = (iso(at), int(at.timestamp()))


class MemoryQueue:
    """The jobs queue: messages are kept, as JSON would carry them, until taken."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send(self, message: Mapping[str, Any], *, delay_seconds: int = 0) -> None:
        self.messages.append(json.loads(json.dumps(message, default=str)))

    def send_many(self, messages: Iterable[Mapping[str, Any]]) -> None:
        for message in messages:
            self.send(message)

    def take(self) -> list[dict[str, Any]]:
        """Every message queued so far, oldest first; the queue is empty afterwards."""
        taken, self.messages = self.messages, []
        return taken


class MemoryBackgroundJobStore:
    def __init__(self, db: MemoryDb | None = None):
        self._db = db or MemoryDb()

    def create(self, job: BackgroundJob, expires_at: datetime) -> None:
        jobs = self._db.table(job.tenant_id, JOBS)
        if job.id in jobs:
            raise Conflict("The record already exists.")
        jobs[job.id] = frozen(job)
        expire(self._db, job.tenant_id, JOBS, job.id, expires_at)

    def get(self, tenant_id: str, job_id: str) -> BackgroundJob | None:
        text = self._db.table(tenant_id, JOBS).get(job_id)
        return thawed(BackgroundJob, text) if text else None

    def _save(self, job: BackgroundJob) -> None:
        self._db.table(job.tenant_id, JOBS)[job.id] = frozen(job)

    def set_result(self, tenant_id: str, job_id: str, result: dict[str, Any]) -> None:
        job = self.get(tenant_id, job_id)
        if job is not None:
            self._save(job.model_copy(update={"result": result}))

    def mark_started(self, tenant_id: str, job_id: str, at: datetime) -> None:
        job = self.get(tenant_id, job_id)
        if job is not None and job.started_at is None:
            self._save(job.model_copy(update={"started_at": stored_moment(at)}))

    def chunk_finished(self, tenant_id: str, job_id: str, chunk: int) -> bool:
        return (job_id, chunk) in self._db.table(tenant_id, CHUNKS)

    def chunk_progress(self, tenant_id: str, job_id: str, chunk: int) -> set[str]:
        done: tuple[str, ...] = self._db.table(tenant_id, PROGRESS).get((job_id, chunk), ())
        return set(done)

    def record_success(self, tenant_id: str, job_id: str, chunk: int, key: str, expires_at: datetime) -> None:
        progress = self._db.table(tenant_id, PROGRESS)
        done: tuple[str, ...] = progress.get((job_id, chunk), ())
        if key not in done:
            progress[(job_id, chunk)] = (*done, key)
        expire(self._db, tenant_id, PROGRESS, (job_id, chunk), expires_at)

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
        chunks = self._db.table(tenant_id, CHUNKS)
        if (job_id, chunk) in chunks:
            return False
        with self._db.transaction():
            job = self.get(tenant_id, job_id)
            if job is None:  # the counters' update needs the job (DynamoDB: a failed condition)
                raise Conflict("The record changed meanwhile.")
            chunks[(job_id, chunk)] = json.dumps({"failures": failures, "finished_at": iso(at)}, default=str)
            expire(self._db, tenant_id, CHUNKS, (job_id, chunk), expires_at)
            self._save(
                job.model_copy(
                    update={
                        "chunks_done": job.chunks_done + 1,
                        "succeeded": job.succeeded + succeeded,
                        "failed": job.failed + len(failures),
                    }
                )
            )
        return True

    def finish_job(self, tenant_id: str, job_id: str, at: datetime) -> None:
        job = self.get(tenant_id, job_id)
        if job is not None and job.chunks_done >= job.chunks and job.finished_at is None:
            self._save(job.model_copy(update={"finished_at": stored_moment(at)}))

    def failures(self, tenant_id: str, job_id: str, limit: int) -> list[Failure]:
        chunks = self._db.table(tenant_id, CHUNKS)
        found: list[Failure] = []
        for key in sorted(k for k in chunks if k[0] == job_id):
            found += json.loads(chunks[key])["failures"]
        return found[:limit]


class MemoryExpiringItems:
    """Housekeeping over the twins' rows that carry an expiry (see ``expire``)."""

    _JOB = "housekeeping"

    def __init__(self, db: MemoryDb | None = None):
        self._db = db or MemoryDb()

    def last_sweep(self) -> datetime | None:
        swept: str | None = self._db.table(GLOBAL, JOB_STATE).get(self._JOB)
        return datetime.fromisoformat(swept) if swept else None

    def record_sweep(self, until: datetime) -> None:
        self._db.table(GLOBAL, JOB_STATE)[self._JOB] = iso(until)

    def delete_expired(self, hour: datetime, now: datetime) -> int:
        """Rows expiring within ``hour`` that are expired at ``now`` go; one whose
        expiry moved meanwhile stays."""
        start = hour.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        end = start + timedelta(hours=1)
        registry = self._db.table(GLOBAL, EXPIRY)
        deleted = 0
        for (tenant_id, table, key), (instant, ttl) in list(registry.items()):
            moment = datetime.fromisoformat(instant)
            if not (start <= moment < end and instant <= iso(now) and ttl <= int(now.timestamp())):
                continue
            rows = self._db.table(tenant_id, table)
            if key in rows:
                del rows[key]
                deleted += 1
            del registry[(tenant_id, table, key)]
        return deleted
