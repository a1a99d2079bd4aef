"""IMP-2, IMP-3: the import's run over in-memory fakes: chunks that
checkpoint their byte position, retries that write nothing twice, time
running out, cancellation, the errors report, notifications and access.
(The rows themselves are written by a fake writer here; tests/jobs runs the
real ones through the Contacts service.)"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.identity.models import Tenant, User, UserStatus
from chalicelib.domain.imports import service as import_service
from chalicelib.domain.imports.models import (
    ImportChunk,
    ImportEntity,
    ImportStatus,
    NewImport,
    PreviewOptions,
    StartImport,
)
from chalicelib.domain.imports.ports import Outcome, Row, WriterContext
from chalicelib.domain.imports.service import Imports, derived_id
from chalicelib.domain.jobs.service import ChunkInterrupted, time_limit
from chalicelib.domain.shared.errors import Conflict, NotFound, ValidationFailed
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.storage.memory.imports import MemoryImportFiles, MemoryImportStore

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
OWNER = Principal(tenant_id="t1", user_id="u1", role=Role.USER)
MAPPING = {"mapping": [{"column": 0, "field": "email"}, {"column": 1, "field": "first_name"}]}


class Queue:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: Any, *, delay_seconds: int = 0) -> None:
        self.sent.append(dict(message))

    def send_many(self, messages: Any) -> None:
        self.sent += [dict(m) for m in messages]

    def take(self) -> ImportChunk:
        return ImportChunk.model_validate(self.sent.pop(0))


class Identity:
    def __init__(self) -> None:
        self.status = UserStatus.ACTIVE

    def get_tenant(self, tenant_id: str) -> Tenant:
        return Tenant(id=tenant_id, name="Acme", created_at=NOW, updated_at=NOW)

    def get_user(self, tenant_id: str, user_id: str) -> User:
        return User(
            id=user_id,
            tenant_id=tenant_id,
            email=f"{user_id}@acme.example",
            name=user_id,
            role=Role.USER,
            status=self.status,
            created_at=NOW,
            updated_at=NOW,
        )


class Notifier:
    def __init__(self) -> None:
        self.sent: dict[str, tuple[list[str], str]] = {}

    def notify(self, tenant_id: str, user_ids: list[str], kind: str, subject: str, link: str, **once: Any) -> list[Any]:
        key = once.get("once_key", "") + kind
        if key not in self.sent:  # once_key: the same notification is stored once
            self.sent[key] = (list(user_ids), subject)
        return []


@dataclass
class Writer:
    """Rows keyed by their e-mail cell: created once, later rows with the same
    key are duplicates; "bad..." rows fail. Commits its marker like a record's
    transaction would; ``crash_after`` raises right after a write (the worst moment)."""

    context: WriterContext
    store: MemoryImportStore
    db: dict[str, str]
    writes: list[int]
    crash_after: int | None = None
    managed_users: dict[str, int] = field(default_factory=dict)

    def write(self, row: Row) -> Outcome:
        key = row.cells[0].strip().lower()
        if key.startswith("bad"):
            return Outcome("failed", reason=f"row {key} is bad")
        if key in self.db:
            return Outcome("skipped", self.db[key])
        record_id = derived_id(self.context.record.created_at, f"{self.context.record.id}:{row.offset}")
        self.store.write_ops([self.context.marker(row.offset, "created", record_id)])
        self.db[key] = record_id
        self.writes.append(row.line)
        self.managed_users["u2"] = self.managed_users.get("u2", 0) + 1
        if self.crash_after is not None and len(self.writes) == self.crash_after:
            raise RuntimeError("the invocation died")
        return Outcome("created", record_id)

    def managed(self) -> dict[str, int]:
        return dict(self.managed_users)


class World:
    def __init__(self, *, block_size: int = 7):
        self.store = MemoryImportStore()
        self.files = MemoryImportFiles(block_size=block_size)
        self.queue = Queue()
        self.identity = Identity()
        self.notifier = Notifier()
        self.db: dict[str, str] = {}
        self.writes: list[int] = []
        self.crash_after: int | None = None
        self.imports = Imports(
            self.store,
            self.files,
            self.queue,
            self.identity,
            self.notifier,
            writers=self.writer,
            clock=lambda: NOW,
        )

    def writer(self, context: WriterContext) -> Writer:
        return Writer(context, self.store, self.db, self.writes, self.crash_after)

    def started(self, data: bytes, **options: Any) -> str:
        upload = self.imports.create(OWNER, NewImport(entity=ImportEntity.CONTACTS, filename="people.csv"))
        self.files.upload("t1", upload.record.id, data)
        self.imports.preview(OWNER, upload.record.id, PreviewOptions())
        self.imports.start(
            OWNER, self.identity.get_tenant("t1"), upload.record.id, StartImport(**{**MAPPING, **options})
        )
        return upload.record.id

    def drain(self, limit: int = 1000) -> int:
        runs = 0
        while self.queue.sent and runs < limit:
            self.imports.run(self.queue.take())
            runs += 1
        return runs


def people(count: int, *, bad: tuple[int, ...] = (), duplicate: tuple[int, ...] = ()) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["E-Mail", "Vorname"])
    for n in range(count):
        email = f"bad{n}@x.de" if n in bad else f"p{0 if n in duplicate else n}@x.de"
        writer.writerow([email, f"Person {n}\nzweite Zeile" if n % 10 == 3 else f"Person {n}"])
    return buffer.getvalue().encode("utf-8")


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_service, "CHUNK_ROWS", 100)


def test_a_file_runs_in_chunks_from_its_checkpoints_to_the_end() -> None:
    world = World()
    import_id = world.started(people(1234))
    runs = world.drain()
    record = world.imports.get(OWNER, import_id)
    assert runs == 13
    assert (record.status, record.percent, record.rows, record.counts.created) == (ImportStatus.DONE, 100, 1234, 1234)
    assert world.writes == sorted(set(world.writes)) and len(world.writes) == 1234
    # Each chunk read the file once, from where the previous one stopped.
    assert world.files.ranged_reads == sorted(world.files.ranged_reads) and len(world.files.ranged_reads) == 13
    assert world.files.ranged_reads[0] == record.detection.data_start  # type: ignore[union-attr]


def test_a_chunk_that_dies_half_way_is_redone_without_writing_any_row_twice() -> None:
    world = World()
    import_id = world.started(people(250))
    world.crash_after = 130  # in the second chunk
    world.imports.run(world.queue.take())
    message = world.queue.take()
    with pytest.raises(RuntimeError):
        world.imports.run(message)
    assert len(world.writes) == 130
    world.crash_after = None
    world.imports.run(message)  # SQS delivers it again
    world.drain()
    record = world.imports.get(OWNER, import_id)
    assert len(world.writes) == 250 and len(set(world.writes)) == 250
    assert (record.counts.created, record.counts.skipped, record.rows) == (250, 0, 250)


def test_a_chunk_delivered_twice_counts_once_and_the_lost_next_message_is_sent_again() -> None:
    world = World()
    import_id = world.started(people(150))
    message = world.queue.take()
    world.imports.run(message)
    assert world.queue.sent[0]["seq"] == 1
    world.queue.sent.clear()  # the next chunk's message was lost ...
    world.store.records[("t1", import_id)] = world.store.records[("t1", import_id)].model_copy(
        update={"enqueued_seq": 0}
    )  # ... because the first delivery died right after its checkpoint
    world.imports.run(message)  # the redelivery of chunk 0 counts nothing and queues chunk 1
    assert [m["seq"] for m in world.queue.sent] == [1]
    world.drain()
    assert world.imports.get(OWNER, import_id).counts.created == 150


def test_a_chunk_running_out_of_time_checkpoints_between_rows_and_goes_on_in_a_new_message() -> None:
    world = World()
    import_id = world.started(people(60))
    rows: list[int] = []
    world.crash_after = None

    def seconds_left() -> float:
        return 0.0 if len(world.writes) >= 25 and len(rows) == 0 else 60.0

    with time_limit(seconds_left):
        world.imports.run(world.queue.take())
    record = world.imports.get(OWNER, import_id)
    assert (record.rows, record.seq, record.status) == (25, 1, ImportStatus.RUNNING)
    rows.append(1)
    with time_limit(lambda: 60.0):
        world.drain()
    assert world.imports.get(OWNER, import_id).counts.created == 60


def test_a_chunk_without_time_to_start_is_left_for_redelivery() -> None:
    world = World()
    world.started(people(5))
    message = world.queue.take()
    with time_limit(lambda: 0.0), pytest.raises(ChunkInterrupted):
        world.imports.run(message)
    assert world.writes == []
    world.imports.run(message)
    assert len(world.writes) == 5


def test_rows_matching_earlier_rows_of_the_file_are_duplicates() -> None:
    world = World()
    import_id = world.started(people(120, duplicate=(0, 50, 110)))
    world.drain()
    counts = world.imports.get(OWNER, import_id).counts
    assert (counts.created, counts.skipped) == (118, 2)


def test_failed_rows_go_to_the_errors_report_with_their_line_reason_and_cells() -> None:
    world = World()
    data = people(12, bad=(2, 11)) + b'=HYPERLINK("http://evil"),x\r\n'
    import_id = world.started(data)
    world.drain()
    record = world.imports.get(OWNER, import_id)
    assert (record.counts.failed, record.error_rows, record.errors_ready) == (2, 2, True)
    report = world.files.reports[("t1", import_id)]
    assert report.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(report.decode("utf-8-sig"))))
    assert lines[0] == ["line", "reason", "E-Mail", "Vorname"]
    assert lines[1] == ["4", "row bad2@x.de is bad", "bad2@x.de", "Person 2"]
    assert lines[2][0] == "14"  # line numbers count the multi-line rows' lines
    assert world.imports.errors_url(OWNER, import_id).endswith("people-errors.csv")


def test_formula_cells_are_neutralised_in_the_report() -> None:
    world = World()

    def failing(context: WriterContext) -> Any:
        class Fails:
            def write(self, row: Row) -> Outcome:
                return Outcome("failed", reason="=1+1")

            def managed(self) -> dict[str, int]:
                return {}

        return Fails()

    world.imports._writers = failing
    import_id = world.started(b'E-Mail,Vorname\r\n=HYPERLINK("http://x"),@SUM(1)\r\n')
    world.drain()
    lines = list(csv.reader(io.StringIO(world.files.reports[("t1", import_id)].decode("utf-8-sig"))))
    assert lines[1] == ["2", "'=1+1", '\'=HYPERLINK("http://x")', "'@SUM(1)"]


def test_assembling_a_long_report_stops_and_goes_on_when_time_runs_out() -> None:
    world = World()
    import_id = world.started(people(450, bad=tuple(range(0, 450, 2))))
    for _ in range(5):
        world.imports.run(world.queue.take())
    assert world.imports.get(OWNER, import_id).offset == world.imports.get(OWNER, import_id).size
    calls = {"n": 0}

    def seconds_left() -> float:
        calls["n"] += 1
        return 0.0 if calls["n"] % 2 else 60.0

    with time_limit(seconds_left):
        world.drain()
    report = world.files.reports[("t1", import_id)].decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(report)))) == 1 + 225
    assert world.imports.get(OWNER, import_id).status == ImportStatus.DONE


def test_cancelling_stops_at_the_next_chunk_and_keeps_what_was_written() -> None:
    world = World()
    import_id = world.started(people(500))
    world.imports.run(world.queue.take())
    world.imports.run(world.queue.take())
    cancelled = world.imports.cancel(OWNER, import_id)
    assert cancelled.status == ImportStatus.CANCELLED
    world.drain()
    record = world.imports.get(OWNER, import_id)
    assert (record.status, record.counts.created, record.errors_ready) == (ImportStatus.CANCELLED, 200, True)
    assert len(world.writes) == 200
    assert world.imports.cancel(OWNER, import_id).status == ImportStatus.CANCELLED  # again: the same answer
    subject = world.notifier.sent[f"/v1/imports/{import_id}import.finished"][1]
    assert "was cancelled" in subject and "200 created" in subject


def test_cancelling_a_finished_import_is_a_conflict() -> None:
    world = World()
    import_id = world.started(people(3))
    world.drain()
    with pytest.raises(Conflict):
        world.imports.cancel(OWNER, import_id)


def test_the_importer_and_new_managers_are_told_once_at_the_end() -> None:
    world = World()
    import_id = world.started(people(150))
    world.drain()
    world.imports._finish(world.store.get("t1", import_id))  # type: ignore[arg-type]  (a repeated finish)
    finished = world.notifier.sent[f"/v1/imports/{import_id}import.finished"]
    assert finished[0] == ["u1"] and "150 created" in finished[1]
    managers = world.notifier.sent[f"/v1/imports/{import_id}#managerscontact.manager"]
    assert managers == (["u2"], "You are now a manager of 150 contacts imported from people.csv")


def test_an_importer_who_was_deactivated_fails_the_import_with_the_reason() -> None:
    world = World()
    import_id = world.started(people(10))
    world.identity.status = UserStatus.DEACTIVATED
    world.drain()
    record = world.imports.get(OWNER, import_id)
    assert record.status == ImportStatus.FAILED and "no longer active" in (record.failure or "")
    assert world.writes == []


def test_starting_needs_the_upload_a_fitting_mapping_and_happens_once() -> None:
    world = World()
    tenant = world.identity.get_tenant("t1")
    upload = world.imports.create(OWNER, NewImport(entity=ImportEntity.CONTACTS, filename="a.csv"))
    import_id = upload.record.id
    assert upload.headers == {"Content-Type": "text/csv"}
    with pytest.raises(Conflict):
        world.imports.preview(OWNER, import_id, PreviewOptions())
    world.files.upload("t1", import_id, b"")
    with pytest.raises(ValidationFailed, match="empty"):
        world.imports.preview(OWNER, import_id, PreviewOptions())
    world.files.upload("t1", import_id, people(3))
    bad = [
        {"mapping": [{"column": 5, "field": "email"}]},
        {"mapping": [{"column": 0, "field": "shoe_size"}]},
        {"mapping": [{"column": 1, "field": "job_title"}]},
        {"mapping": [{"column": 0, "field": "email", "category": "fax"}]},
        {"mapping": [{"column": 0, "field": "email"}], "match_on": ["title"]},
    ]
    for request in bad:
        with pytest.raises(ValidationFailed):
            world.imports.start(OWNER, tenant, import_id, StartImport(**request))
    world.imports.start(OWNER, tenant, import_id, StartImport(**MAPPING))
    with pytest.raises(Conflict):
        world.imports.start(OWNER, tenant, import_id, StartImport(**MAPPING))


def test_only_its_creator_and_admins_see_an_import() -> None:
    world = World()
    import_id = world.started(people(1))
    other = Principal(tenant_id="t1", user_id="u9", role=Role.USER)
    admin = Principal(tenant_id="t1", user_id="u8", role=Role.ADMIN)
    stranger = Principal(tenant_id="t2", user_id="u1", role=Role.OWNER)
    for who in (other, stranger):
        with pytest.raises(NotFound):
            world.imports.get(who, import_id)
        with pytest.raises(NotFound):
            world.imports.cancel(who, import_id)
    assert world.imports.get(admin, import_id).id == import_id


def test_the_preview_warns_of_formulas_and_ragged_rows() -> None:
    world = World()
    upload = world.imports.create(OWNER, NewImport(entity=ImportEntity.CONTACTS, filename="a.csv"))
    world.files.upload("t1", upload.record.id, b"Name,E-Mail\r\n=cmd|' /C calc'!A0,a@x.de\r\nBob,b@x.de,extra\r\n")
    preview = world.imports.preview(OWNER, upload.record.id, PreviewOptions())
    assert any("formulas (Name)" in w for w in preview.warnings)
    assert any("do not have 2 cells" in w for w in preview.warnings)
    assert [c.header for c in preview.columns] == ["Name", "E-Mail", "Column 3"]


def test_derived_ids_are_ulids_of_the_import_time_and_stable() -> None:
    first = derived_id(NOW, "import:120")
    assert first == derived_id(NOW, "import:120") != derived_id(NOW, "import:121")
    assert len(first) == 26 and first[:10] == derived_id(NOW, "other")[:10]
