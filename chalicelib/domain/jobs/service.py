"""Background jobs with a status a client can poll (``GET /v1/jobs/{id}``):
group operations on contacts now; imports and tag renames reuse it.

A job is a status record plus chunks. The service that starts the work calls
``start`` (the record: kind, total, number of chunks) and queues one message
per chunk; each message's handler calls ``run_chunk`` with the chunk's item
keys and a function doing one item. ``run_chunk`` makes SQS redelivery safe:
- a chunk counts once: its completion is a conditional put, in the same
  transaction as the counters' atomic ADDs; a redelivered finished chunk
  changes nothing;
- a chunk that died half-way resumes: each success is recorded as it
  happens, and a redelivery skips those items (so a contact the first
  attempt deleted is not reported "not found" by the second);
- a chunk whose invocation runs out of time stops between two items, never
  inside one: the consumer sets ``time_limit`` (the Lambda context's
  remaining time; the local pump answers 0 once it is told to stop) and
  ``run_chunk`` raises ``ChunkInterrupted`` before starting an item with
  less than ``STOP_MARGIN_SECONDS`` left. The message fails, comes back,
  and resumes as above.

Status: ``queued`` until a chunk starts, ``running`` until every chunk has
finished, then ``done`` (with ``finished_at``). Failures are kept per chunk;
the status shows the first ``MAX_FAILURES_SHOWN`` in chunk order.

Who sees a job: its creator and admins; for everyone else it does not exist
(404). This is the access policy's private-list rule (a list holding only
the creator), so the decision stays in domain/shared/access.py.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict

from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import ListAccess, Operation
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import NotFound, TemporarilyUnavailable
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.principal import Principal

if TYPE_CHECKING:
    from chalicelib.domain.jobs.ports import JobStore

CHUNK_SIZE = 100
MAX_FAILURES_SHOWN = 100
JOB_DAYS = 30
# No item starts with less time left than this (one item takes well under a second).
STOP_MARGIN_SECONDS = 10.0

# One item's failure, e.g. {"id": "...", "status": 404, "reason": "not_found", "detail": "..."}.
Failure = dict[str, Any]
# Does one item; None when it succeeded, else its failure.
ItemWork = Callable[[str], "Failure | None"]


class ChunkInterrupted(TemporarilyUnavailable):
    """The chunk stopped between two items: its invocation is running out of
    time (or the local stack is stopping). Delivered again, it resumes."""


# Seconds the current invocation has left; None: no limit (tests, scripts).
_seconds_left: ContextVar[Callable[[], float] | None] = ContextVar("seconds_left", default=None)


@contextlib.contextmanager
def time_limit(seconds_left: Callable[[], float] | None) -> Iterator[None]:
    """Chunks run inside stop between items once ``seconds_left()`` falls
    under STOP_MARGIN_SECONDS (see the module docstring)."""
    token = _seconds_left.set(seconds_left)
    try:
        yield
    finally:
        _seconds_left.reset(token)


def _out_of_time() -> bool:
    seconds_left = _seconds_left.get()
    return seconds_left is not None and seconds_left() < STOP_MARGIN_SECONDS


def out_of_time() -> bool:
    """Whether work running inside ``time_limit`` should stop before its next
    item (an import chunk checkpoints and continues in a new message)."""
    return _out_of_time()


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class BackgroundJob(Model):
    model_config = ConfigDict(extra="ignore")

    id: str
    tenant_id: str
    kind: str
    created_by: str
    created_at: datetime
    total: int
    chunks: int
    chunks_done: int = 0
    succeeded: int = 0
    failed: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # What the job made, once done (an export: the object holding its file).
    result: dict[str, Any] | None = None

    @property
    def percent(self) -> int:
        if self.status == JobStatus.DONE:
            return 100
        return min(99, int(100 * (self.succeeded + self.failed) / self.total)) if self.total else 0

    @property
    def status(self) -> JobStatus:
        if self.chunks_done >= self.chunks:
            return JobStatus.DONE
        return JobStatus.RUNNING if self.started_at is not None else JobStatus.QUEUED

    def access_record(self) -> ListAccess:
        # Private to its creator (admins see everything): see the module docstring.
        return ListAccess(access_list=frozenset({self.created_by}), created_by=self.created_by)


# (object key, file name) -> a presigned download URL for a job's result.
Downloads = Callable[[str, str], str]


class BackgroundJobs:
    def __init__(self, store: JobStore, clock: Clock = utc_now, downloads: Downloads | None = None):
        self._store = store
        self._clock = clock
        self._downloads = downloads

    def start(self, principal: Principal, kind: str, total: int, *, chunk_size: int = CHUNK_SIZE) -> BackgroundJob:
        """The status record of a new job of ``total`` items in chunks of ``chunk_size``."""
        now = self._clock()
        job = BackgroundJob(
            id=new_id(),
            tenant_id=principal.tenant_id,
            kind=kind,
            created_by=principal.user_id,
            created_at=now,
            total=total,
            chunks=max(1, math.ceil(total / chunk_size)),
        )
        self._store.create(job, self._expiry(now))
        return job

    def get(self, principal: Principal, job_id: str) -> tuple[BackgroundJob, list[Failure]]:
        job = self._store.get(principal.tenant_id, job_id)
        if job is None:
            raise NotFound("The job does not exist.")
        access.require(principal, Operation.READ, job.access_record(), what="job")
        failures = self._store.failures(principal.tenant_id, job_id, MAX_FAILURES_SHOWN) if job.failed else []
        return self._presented(job), failures

    def find(self, tenant_id: str, job_id: str) -> BackgroundJob | None:
        """For the job's own handlers (no caller to check)."""
        return self._store.get(tenant_id, job_id)

    def set_result(self, tenant_id: str, job_id: str, result: dict[str, Any]) -> None:
        """What the job made; ``object_key`` (with ``filename``) is answered as a presigned ``download_url``."""
        self._store.set_result(tenant_id, job_id, result)

    def _presented(self, job: BackgroundJob) -> BackgroundJob:
        result = job.result
        if not result or "object_key" not in result or self._downloads is None or job.status != JobStatus.DONE:
            return job if job.status == JobStatus.DONE else job.model_copy(update={"result": None})
        shown = {k: v for k, v in result.items() if k != "object_key"}
        shown["download_url"] = self._downloads(result["object_key"], str(result.get("filename") or "export.zip"))
        return job.model_copy(update={"result": shown})

    def run_chunk(
        self, tenant_id: str, job_id: str, chunk: int, keys: list[str], work: ItemWork, *, resumable: bool = True
    ) -> bool:
        """Do chunk ``chunk`` (its items ``keys``) once; False when there was
        nothing (left) to do: finished before, or the job is gone.

        ``resumable``: record each success as it happens, so that a
        redelivery skips it. Needed when doing an item twice would answer
        differently (a deleted contact is "not found" the second time, a
        created record would be made twice); a caller whose ``work`` answers
        the same when repeated may pass False and save the writes. Failures
        are never recorded: they changed nothing, and a redelivery tries them
        again. ``ChunkInterrupted`` when the invocation runs out of time
        (``time_limit``): the items done so far stay done."""
        job = self._store.get(tenant_id, job_id)
        if job is None:
            return False  # expired, or never made: nothing to report into
        if self._store.chunk_finished(tenant_id, job_id, chunk):
            self._finish_if_complete(job)  # the first delivery may have died right after counting
            return False
        if job.started_at is None:
            self._store.mark_started(tenant_id, job_id, self._clock())
        done_before = self._store.chunk_progress(tenant_id, job_id, chunk) if resumable else set()
        outcomes: dict[str, Failure | None] = {}
        for key in dict.fromkeys(keys):
            if key in done_before:
                outcomes[key] = None
                continue
            if _out_of_time():
                raise ChunkInterrupted(f"Chunk {chunk} of job {job_id} stopped after {len(outcomes)} item(s).")
            outcomes[key] = work(key)
            if outcomes[key] is None and resumable:
                self._store.record_success(tenant_id, job_id, chunk, key, self._expiry(job.created_at))
        failures = [f for f in outcomes.values() if f is not None]
        counted = self._store.finish_chunk(
            tenant_id,
            job_id,
            chunk,
            succeeded=len(outcomes) - len(failures),
            failures=failures,
            at=self._clock(),
            expires_at=self._expiry(job.created_at),
        )
        self._finish_if_complete(job)
        return counted

    def _finish_if_complete(self, job: BackgroundJob) -> None:
        # Conditional in storage: only the chunk that completes the job (or a
        # rerun of it) stamps finished_at, once.
        self._store.finish_job(job.tenant_id, job.id, self._clock())

    @staticmethod
    def _expiry(created_at: datetime) -> datetime:
        return created_at + timedelta(days=JOB_DAYS)
