"""ADM-1 over in-memory fakes: the export's rules (who may export what, one
CSV per source with a BOM, neutralised formulas), its checkpoints, and the
resumable ZIP stream; a source here is a fake, as a later feature's would be."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.exports.cells import neutralise, restore
from chalicelib.domain.exports.models import ExportRun, NewExport
from chalicelib.domain.exports.service import Exports
from chalicelib.domain.identity.models import Tenant, User
from chalicelib.domain.jobs.service import BackgroundJobs, time_limit
from chalicelib.domain.shared.errors import Forbidden, ValidationFailed
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.storage.memory.exports import MemoryExportFiles, MemoryExportStore

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ADMIN = Principal(tenant_id="t1", user_id="u1", role=Role.ADMIN)
USER = Principal(tenant_id="t1", user_id="u2", role=Role.USER)


class Numbers:
    """A source of ``count`` rows in pages of 3; the last cell looks like a formula."""

    filename = "numbers.csv"
    admin_only = False
    query = None

    def __init__(self, count: int):
        self.count = count

    def columns(self, principal: Principal) -> list[str]:
        return ["n", "square", "note"]

    def page(self, principal: Principal, filters: dict[str, Any], after: Any) -> tuple[list[list[str]], Any]:
        start = (after or {}).get("next", 0)
        rows = [[str(n), str(n * n), f"=A{n}"] for n in range(start, min(start + 3, self.count))]
        following = start + 3
        return rows, ({"next": following} if following < self.count else None)


class Secrets(Numbers):
    filename = "secrets.csv"
    admin_only = True


class Jobs:
    """The job status store, in memory (the part of it the export uses)."""

    def __init__(self) -> None:
        self.jobs: dict[str, Any] = {}
        self.chunks: set[tuple[str, int]] = set()

    def create(self, job: Any, expires_at: Any) -> None:
        self.jobs[job.id] = job

    def get(self, tenant_id: str, job_id: str) -> Any:
        return self.jobs.get(job_id)

    def mark_started(self, tenant_id: str, job_id: str, at: Any) -> None:
        self.jobs[job_id] = self.jobs[job_id].model_copy(update={"started_at": at})

    def chunk_finished(self, tenant_id: str, job_id: str, chunk: int) -> bool:
        return (job_id, chunk) in self.chunks

    def chunk_progress(self, tenant_id: str, job_id: str, chunk: int) -> set[str]:
        return set()

    def finish_chunk(self, tenant_id: str, job_id: str, chunk: int, *, succeeded: int, failures: Any, **_: Any) -> bool:
        if (job_id, chunk) in self.chunks:
            return False
        self.chunks.add((job_id, chunk))
        job = self.jobs[job_id]
        self.jobs[job_id] = job.model_copy(
            update={
                "chunks_done": job.chunks_done + 1,
                "succeeded": job.succeeded + succeeded,
                "failed": job.failed + len(failures),
            }
        )
        return True

    def finish_job(self, tenant_id: str, job_id: str, at: Any) -> None:
        return None

    def failures(self, tenant_id: str, job_id: str, limit: int) -> list[Any]:
        return []

    def set_result(self, tenant_id: str, job_id: str, result: dict[str, Any]) -> None:
        self.jobs[job_id] = self.jobs[job_id].model_copy(update={"result": result})


class Identity:
    def get_tenant(self, tenant_id: str) -> Tenant:
        return Tenant(id=tenant_id, name="Acme", created_at=NOW, updated_at=NOW)

    def get_user(self, tenant_id: str, user_id: str) -> User:
        role = Role.ADMIN if user_id == "u1" else Role.USER
        return User(id=user_id, tenant_id=tenant_id, email="x@y.z", name="x", role=role, created_at=NOW, updated_at=NOW)


class Queue:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: Any, *, delay_seconds: int = 0) -> None:
        self.sent.append(dict(message))


def world(count: int = 10) -> tuple[Exports, MemoryExportFiles, Queue, BackgroundJobs]:
    files, queue = MemoryExportFiles(), Queue()
    jobs = BackgroundJobs(Jobs(), downloads=lambda key, name: f"https://download/{key}?{name}")  # type: ignore[arg-type]
    sources = {"numbers": Numbers(count), "secrets": Secrets(2)}
    return Exports(jobs, MemoryExportStore(), files, queue, Identity(), sources), files, queue, jobs


def run_all(exports: Exports, queue: Queue) -> int:
    runs = 0
    while queue.sent:
        exports.run(ExportRun.model_validate(queue.sent.pop(0)))
        runs += 1
    return runs


def unzip(files: MemoryExportFiles) -> zipfile.ZipFile:
    (data,) = files.closed.values()
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    return archive


def test_one_csv_per_source_with_a_bom_and_neutralised_formulas() -> None:
    exports, files, queue, jobs = world()
    job = exports.start(ADMIN, NewExport())
    assert run_all(exports, queue) == 1
    archive = unzip(files)
    assert archive.namelist() == ["numbers.csv", "secrets.csv"]
    raw = archive.read("numbers.csv")
    assert raw.startswith(b"\xef\xbb\xbfn,square,note\r\n")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[1:3] == [["0", "0", "'=A0"], ["1", "1", "'=A1"]] and len(rows) == 11
    shown, _ = jobs.get(ADMIN, job.id)
    assert shown.status == "done" and shown.percent == 100
    assert set(shown.result) == {"filename", "size", "rows", "download_url"}  # not the object key
    assert shown.result["rows"] == {"numbers": 10, "secrets": 2}
    assert shown.result["filename"].startswith("crm-export-") and shown.result["filename"].endswith(".zip")
    assert shown.result["download_url"].startswith("https://download/exports/t/t1/")


def test_an_export_that_runs_out_of_time_after_every_page_makes_the_same_file() -> None:
    straight, files, queue, _ = world(20)
    straight.start(ADMIN, NewExport(entities=["numbers"]))
    run_all(straight, queue)
    expected = unzip(files).read("numbers.csv")
    interrupted, files, queue, jobs = world(20)
    job = interrupted.start(ADMIN, NewExport(entities=["numbers"]))
    ticks = {"n": 0}

    def seconds_left() -> float:
        ticks["n"] += 1
        return 0.0 if ticks["n"] % 2 else 60.0

    with time_limit(seconds_left):
        runs = run_all(interrupted, queue)
    assert runs > 3
    assert unzip(files).read("numbers.csv") == expected
    assert jobs.get(ADMIN, job.id)[0].succeeded == 1


def test_users_export_what_is_not_for_admins_only_and_requests_are_checked() -> None:
    exports, files, queue, _ = world()
    with pytest.raises(Forbidden):
        exports.start(USER, NewExport(entities=["secrets"]))
    exports.start(USER, NewExport())
    run_all(exports, queue)
    assert unzip(files).namelist() == ["numbers.csv"]
    for bad in (NewExport(entities=["nothing"]), NewExport(entities=["numbers"], filters={"numbers": {"a": 1}})):
        with pytest.raises(ValidationFailed):
            exports.start(ADMIN, bad)


@pytest.mark.parametrize(
    "value", ["=1+1", "+49 30", "-5", "@SUM(A1)", "\tx", "\rx", "'=x", "''+y", "plain", "'quoted", ""]
)
def test_neutralising_is_undone_exactly_by_the_import(value: str) -> None:
    written = neutralise(value)
    assert not written.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert restore(written) == value
