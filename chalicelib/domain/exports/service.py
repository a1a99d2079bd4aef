"""Exports (ADM-1): the CRM's data as a ZIP of CSV files, built in the background.

``POST /v1/exports`` starts a background job (``GET /v1/jobs/{id}``): admins
may export everything, every user what they can see (each source reads
through its feature's list, so access decides the file's rows), filtered by
the filters of that list. One CSV per entity: UTF-8 with a byte order mark
(Excel reads the umlauts), formula-like cells neutralised (cells.py).

The job runs as ``exports.run`` messages on the jobs queue. Each reads the
sources a page at a time, writes the rows into a streamed ZIP
(zipstream.py) whose bytes go straight into an S3 multipart upload, and
holds at most one page and one upload part in memory. Before its
invocation's time runs out it saves its checkpoint (source, list position,
ZIP state, upload state) and queues itself again. A redelivered message
resumes from the last checkpoint: parts written after it are written again
under the same numbers, so the file comes out the same. The job counts one
item per file; its result, once the ZIP is complete, names the object, and
``GET /v1/jobs/{id}`` answers a presigned ``download_url`` for it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from chalicelib.domain.exports.cells import neutralise
from chalicelib.domain.exports.models import ExportRun, NewExport
from chalicelib.domain.exports.ports import ExportFiles, ExportStore
from chalicelib.domain.exports.sources import Source
from chalicelib.domain.exports.zipstream import ZipStream
from chalicelib.domain.identity.models import UserStatus
from chalicelib.domain.identity.module_access import ensure_module_access
from chalicelib.domain.jobs.service import JOB_DAYS, BackgroundJob, BackgroundJobs, out_of_time, time_limit
from chalicelib.domain.shared.clock import Clock, utc_now
from chalicelib.domain.shared.errors import FieldError, Forbidden, ValidationFailed
from chalicelib.domain.shared.ports import JobQueue
from chalicelib.domain.shared.principal import Principal

JOB_KIND = "exports"
BOM = b"\xef\xbb\xbf"


def csv_lines(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue().encode("utf-8")


class Exports:
    def __init__(
        self,
        jobs: BackgroundJobs,
        store: ExportStore,
        files: ExportFiles,
        queue: JobQueue,
        identity: Any,
        sources: Mapping[str, Source],
        notifier: Any = None,
        clock: Clock = utc_now,
    ):
        self._jobs = jobs
        self._store = store
        self._files = files
        self._queue = queue
        self._identity = identity
        self._sources = sources
        self._notifier = notifier
        self._clock = clock

    def start(self, principal: Principal, request: NewExport) -> BackgroundJob:
        entities = list(dict.fromkeys(request.entities or self._allowed(principal)))
        errors = []
        for name in entities:
            source = self._sources.get(name)
            if source is None:
                errors.append(FieldError("entities", f"{name}: one of " + ", ".join(self._sources)))
            elif source.admin_only and not principal.is_admin:
                raise Forbidden(f"Only admins export {name}.")
        for name, filters in request.filters.items():
            source = self._sources.get(name)
            if name not in entities or source is None:
                errors.append(FieldError(f"filters.{name}", "filters only an exported entity"))
            elif source.query is None:
                errors.append(FieldError(f"filters.{name}", f"{name} takes no filters"))
            else:
                try:
                    source.query.model_validate(filters)
                except ValidationError as err:
                    for item in err.errors(include_url=False, include_input=False):
                        where = ".".join(str(p) for p in item.get("loc", ()))
                        errors.append(FieldError(f"filters.{name}.{where}".rstrip("."), str(item.get("msg"))))
        if errors:
            raise ValidationFailed("The export request is invalid.", errors=errors)
        job = self._jobs.start(principal, JOB_KIND, len(entities), chunk_size=1)
        state = {
            "user_id": principal.user_id,
            "entities": entities,
            "filters": request.filters,
            "index": 0,
            "after": None,
            "rows": {},
            "zip": None,
            "upload": None,
            "key": self._files.object_key(principal.tenant_id, job.id),
        }
        self._store.save(principal.tenant_id, job.id, state, self._expiry(job))
        self._queue.send(ExportRun(tenant_id=principal.tenant_id, job_id=job.id).model_dump())
        return job

    def _allowed(self, principal: Principal) -> list[str]:
        return [name for name, s in self._sources.items() if principal.is_admin or not s.admin_only]

    def run(self, message: ExportRun) -> None:
        state = self._store.get(message.tenant_id, message.job_id)
        job = self._jobs.find(message.tenant_id, message.job_id)
        if state is None or job is None or state.get("finished"):
            return
        principal, refusal = self._exporter(message.tenant_id, state["user_id"])
        entities: list[str] = state["entities"]
        if refusal is not None:
            for index in range(state["index"], len(entities)):
                self._count(job, index, entities[index], {"reason": "forbidden", "detail": refusal})
            return
        filename = f"crm-export-{job.created_at.strftime('%Y%m%d-%H%M%S')}.zip"
        writer = self._files.writer(state["key"], state["upload"], filename)
        archive = ZipStream(writer.write, state["zip"], now=job.created_at.timestamp())
        while state["index"] < len(entities):
            name = entities[state["index"]]
            source = self._sources[name]
            if archive.current is None:
                archive.start(source.filename)
                archive.write(BOM + csv_lines([source.columns(principal)]))
            while True:
                rows, state["after"] = source.page(principal, state["filters"].get(name, {}), state["after"])
                archive.write(csv_lines(rows))
                state["rows"][name] = state["rows"].get(name, 0) + len(rows)
                if state["after"] is None:
                    break
                if out_of_time():
                    self._suspend(message, state, archive, writer)
                    return
            archive.end()
            state["after"] = None
            if state["index"] == len(entities) - 1:
                archive.close()
                size = writer.close()
                state["finished"] = True
                result = {"object_key": state["key"], "filename": filename, "size": size, "rows": state["rows"]}
                self._jobs.set_result(message.tenant_id, job.id, result)
                self._store.save(message.tenant_id, job.id, state, self._expiry(job))
            self._count(job, state["index"], name, None)
            state["index"] += 1
            if state["index"] < len(entities) and out_of_time():
                self._suspend(message, state, archive, writer)
                return
        self._tell(job, state)

    def _suspend(self, message: ExportRun, state: dict[str, Any], archive: ZipStream, writer: Any) -> None:
        state["zip"] = archive.state()
        state["upload"] = writer.suspend()
        job = self._jobs.find(message.tenant_id, message.job_id)
        self._store.save(message.tenant_id, message.job_id, state, self._expiry(job) if job else self._clock())
        self._queue.send(message.model_dump())

    def _count(self, job: BackgroundJob, index: int, name: str, failure: dict[str, Any] | None) -> None:
        """One file of the ZIP done: the job's chunk ``index`` (counted once however often it runs)."""
        with time_limit(None):  # the file is written; counting it must not be cut short
            self._jobs.run_chunk(
                job.tenant_id,
                job.id,
                index,
                [name],
                lambda key: None if failure is None else {"id": key, "status": 403, **failure},
                resumable=False,
            )

    def _tell(self, job: BackgroundJob, state: dict[str, Any]) -> None:
        if self._notifier is None:
            return
        rows = ", ".join(f"{count} {name}" for name, count in state["rows"].items())
        link = f"/v1/jobs/{job.id}"
        self._notifier.notify(
            job.tenant_id,
            [job.created_by],
            "export.ready",
            f"Your export is ready ({rows}): download it from the job's result",
            link,
            once_key=link,
            once_at=job.created_at,
        )

    def _exporter(self, tenant_id: str, user_id: str) -> tuple[Principal, str | None]:
        tenant = self._identity.get_tenant(tenant_id)
        user = self._identity.get_user(tenant_id, user_id)
        if tenant is None or user is None or user.status != UserStatus.ACTIVE:
            return Principal(tenant_id=tenant_id, user_id=user_id, role=_user()), "The user is no longer active."
        principal = Principal(tenant_id=tenant_id, user_id=user.id, role=user.role, group_ids=frozenset(user.group_ids))
        try:
            ensure_module_access(principal, tenant)
        except Forbidden as err:
            return principal, err.detail
        return principal, None

    @staticmethod
    def _expiry(job: BackgroundJob) -> Any:
        return job.created_at + timedelta(days=JOB_DAYS)


def _user() -> Any:
    from chalicelib.domain.shared.principal import Role

    return Role.USER
