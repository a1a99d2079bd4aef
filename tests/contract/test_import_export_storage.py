"""The in-memory twins of the import and export ports (storage/memory/) and
their DynamoDB/S3 adapters (storage/imports.py, storage/exports.py) behave
alike: the same assertions run against both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.imports.models import (
    Counts,
    Detection,
    Import,
    ImportEntity,
    ImportOutcome,
    ImportStatus,
    StartImport,
)
from chalicelib.domain.shared.errors import Conflict

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)
DETECTION = Detection(
    encoding="utf-8",
    codec="utf-8",
    delimiter=",",
    has_header=True,
    header=["E-Mail", "Name"],
    width=2,
    data_start=12,
    data_line=2,
)
START = StartImport(mapping=[{"column": 0, "field": "email"}])  # type: ignore[list-item]


@pytest.fixture(params=["memory", "aws"])
def storage(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    if request.param == "memory":
        from chalicelib.storage.memory.imports import MemoryImportFiles, MemoryImportStore

        files = MemoryImportFiles()
        yield MemoryImportStore(), files
        return
    request.getfixturevalue("aws")
    from chalicelib.storage.imports import ImportFiles, ImportStore

    yield ImportStore(), ImportFiles()


def record(import_id: str = "01IMPORT") -> Import:
    return Import(
        id=import_id,
        tenant_id="t1",
        entity=ImportEntity.CONTACTS,
        filename="a.csv",
        created_at=NOW,
        created_by="u1",
        updated_at=NOW,
    )


def put_upload(files: Any, data: bytes, import_id: str = "01IMPORT") -> None:
    if hasattr(files, "upload"):
        files.upload("t1", import_id, data)
        return
    from chalicelib.storage.dynamo.aws import client
    from chalicelib.storage.imports import upload_key

    client("s3").put_object(Bucket="crm-test-files", Key=upload_key("t1", import_id), Body=data)


def test_the_record_moves_from_created_to_queued_once(storage: tuple[Any, Any]) -> None:
    store, _ = storage
    store.create(record(), LATER)
    with pytest.raises(Conflict):
        store.create(record(), LATER)
    detected = store.save_detection(record(), DETECTION)
    assert detected.detection == DETECTION
    started = store.start(detected, START, DETECTION, 100, NOW)
    assert (started.status, started.offset, started.line, started.size) == (ImportStatus.QUEUED, 12, 2, 100)
    assert started.options is not None and started.options.mapping[0].field == "email"
    with pytest.raises(Conflict):
        store.start(detected, START, DETECTION, 100, NOW)
    with pytest.raises(Conflict):
        store.save_detection(record(), DETECTION)
    store.mark_running("t1", "01IMPORT", NOW)
    assert store.get("t1", "01IMPORT").status == ImportStatus.RUNNING
    assert store.get("t2", "01IMPORT") is None


def test_a_checkpoint_moves_once_per_chunk_and_adds_its_counts(storage: tuple[Any, Any]) -> None:
    store, _ = storage
    store.create(record(), LATER)
    started = store.start(store.save_detection(record(), DETECTION), START, DETECTION, 100, NOW)
    moved = store.checkpoint(
        started,
        offset=50,
        line=7,
        rows=5,
        counts=Counts(created=4, failed=1),
        error_rows=1,
        managed={"u2": 4},
        eof=False,
    )
    assert moved is not None
    assert (moved.seq, moved.offset, moved.line, moved.rows, moved.counts.created, moved.managed) == (
        1,
        50,
        7,
        5,
        4,
        {"u2": 4},
    )
    assert (
        store.checkpoint(started, offset=99, line=9, rows=1, counts=Counts(), error_rows=0, managed={}, eof=False)
        is None
    )
    again = store.checkpoint(
        moved, offset=100, line=9, rows=2, counts=Counts(created=2), error_rows=0, managed={"u2": 1}, eof=True
    )
    assert again is not None and (again.seq, again.counts.created, again.managed, again.rows) == (2, 6, {"u2": 5}, 7)
    assert store.claim("t1", "01IMPORT", 2) is False  # the first delivery of chunk 2
    assert store.claim("t1", "01IMPORT", 2) is True  # a redelivery
    assert store.claim("t1", "01IMPORT", 3) is False
    store.mark_enqueued("t1", "01IMPORT", 2)
    store.mark_enqueued("t1", "01IMPORT", 1)
    assert store.get("t1", "01IMPORT").enqueued_seq == 2


def test_status_changes_only_from_the_named_states_and_finish_keeps_a_cancellation(storage: tuple[Any, Any]) -> None:
    store, _ = storage
    store.create(record(), LATER)
    assert store.set_status("t1", "01IMPORT", ImportStatus.FAILED, NOW, only_from=(ImportStatus.RUNNING,)) is None
    cancelled = store.set_status("t1", "01IMPORT", ImportStatus.CANCELLED, NOW, only_from=(ImportStatus.CREATED,))
    assert cancelled is not None and cancelled.status == ImportStatus.CANCELLED
    store.save_assembly("t1", "01IMPORT", {"after": "x"})
    assert store.get("t1", "01IMPORT").errors_assembly == {"after": "x"}
    finished = store.finish("t1", "01IMPORT", NOW)
    assert (finished.status, finished.errors_ready, finished.errors_assembly) == (ImportStatus.CANCELLED, True, None)
    store.create(record("02IMPORT"), LATER)
    store.start(store.save_detection(record("02IMPORT"), DETECTION), START, DETECTION, 100, NOW)
    failed = store.set_status(
        "t1", "02IMPORT", ImportStatus.FAILED, NOW, only_from=(ImportStatus.QUEUED,), failure="gone"
    )
    assert failed is not None and failed.failure == "gone"
    assert failed.outcome is None and failed.finished_at is None  # decided, not finished: the run may go on


def test_one_write_ends_an_import_with_its_outcome_and_finished_at_and_a_second_changes_nothing(
    storage: tuple[Any, Any],
) -> None:
    store, _ = storage
    for import_id, status in (
        ("01DONE", None),
        ("02CANCELLED", ImportStatus.CANCELLED),
        ("03FAILED", ImportStatus.FAILED),
    ):
        store.create(record(import_id), LATER)
        store.start(store.save_detection(record(import_id), DETECTION), START, DETECTION, 100, NOW)
        if status is not None:
            store.set_status("t1", import_id, status, NOW, only_from=(ImportStatus.QUEUED,), failure="x")
        assert store.get("t1", import_id).outcome is None
        first = store.finish("t1", import_id, NOW + timedelta(minutes=1))
        again = store.finish("t1", import_id, NOW + timedelta(minutes=2))
        assert again.finished_at == first.finished_at == NOW + timedelta(minutes=1)
        assert again.version == first.version and again.errors_ready
    assert [store.get("t1", i).outcome for i in ("01DONE", "02CANCELLED", "03FAILED")] == [
        ImportOutcome.FINISHED,
        ImportOutcome.CANCELLED,
        ImportOutcome.FAILED,
    ]
    assert store.get("t1", "01DONE").status == ImportStatus.DONE


def test_row_markers_seen_keys_and_external_references(storage: tuple[Any, Any]) -> None:
    store, _ = storage
    store.write_ops([store.row_marker_op("t1", "01IMPORT", 120, "created", "C1", LATER)])
    store.write_ops([store.row_marker_op("t1", "01IMPORT", 9_000_000_000, "updated", "C2", LATER)])
    with pytest.raises(Conflict):
        store.write_ops([store.row_marker_op("t1", "01IMPORT", 120, "created", "C9", LATER)])
    assert store.done_rows("t1", "01IMPORT", 100, 200) == {120: ("created", "C1")}
    assert store.done_rows("t1", "01IMPORT", 0, 10**12) == {120: ("created", "C1"), 9_000_000_000: ("updated", "C2")}
    assert store.done_rows("t1", "OTHER", 0, 10**12) == {}
    store.remember("t1", "01IMPORT", {"email:a@x.de": (12, "C1")}, LATER)
    assert store.seen("t1", "01IMPORT", ["email:a@x.de", "email:b@x.de"]) == {"email:a@x.de": (12, "C1")}
    assert store.external_ref("t1", "contacts", "K-1") is None
    store.write_ops([store.external_ref_op("t1", "contacts", "K-1", "C1")])
    store.write_ops([store.external_ref_op("t1", "contacts", "K-1", "C3")])
    assert store.external_ref("t1", "contacts", "K-1") == "C3"
    assert store.external_ref("t2", "contacts", "K-1") is None


def test_files_read_from_any_offset_and_join_the_errors_parts_in_order(storage: tuple[Any, Any]) -> None:
    _, files = storage
    assert files.size("t1", "01IMPORT") is None
    data = b"E-Mail,Name\r\n" + b"".join(b"p%d@x.de,P %d\r\n" % (n, n) for n in range(500))
    put_upload(files, data)
    assert files.size("t1", "01IMPORT") == len(data)
    assert files.head("t1", "01IMPORT", 13) == data[:13]
    assert b"".join(files.blocks("t1", "01IMPORT", 100)) == data[100:]
    assert b"".join(files.blocks("t1", "01IMPORT", len(data))) == b""
    assert files.upload_url("t1", "01IMPORT", "text/csv", 60)
    for seq in (2, 0, 11):
        files.put_errors_part("t1", "01IMPORT", seq, b"part %d\r\n" % seq)
    ticks = iter([False, True, False, False, False])
    state = files.assemble_errors("t1", "01IMPORT", b"HEAD\r\n", None, lambda: next(ticks))
    assert not state.get("done")
    state = files.assemble_errors("t1", "01IMPORT", b"HEAD\r\n", state, lambda: False)
    assert state == {"done": True}
    assert read_report(files) == b"HEAD\r\npart 0\r\npart 2\r\npart 11\r\n"


def read_report(files: Any) -> bytes:
    if hasattr(files, "reports"):
        return bytes(files.reports[("t1", "01IMPORT")])
    from chalicelib.storage.dynamo.aws import client
    from chalicelib.storage.imports import errors_key

    return bytes(client("s3").get_object(Bucket="crm-test-files", Key=errors_key("t1", "01IMPORT"))["Body"].read())


@pytest.fixture(params=["memory", "aws"])
def export_storage(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    if request.param == "memory":
        from chalicelib.storage.memory.exports import MemoryExportFiles, MemoryExportStore

        yield MemoryExportStore(), MemoryExportFiles()
        return
    request.getfixturevalue("aws")
    import moto.s3.models

    from chalicelib.storage.exports import ExportFiles, ExportStore

    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 16)
    yield ExportStore(), ExportFiles(part_size=64)


def stored(files: Any, key: str) -> bytes:
    if hasattr(files, "closed"):
        return files.closed[key]
    from chalicelib.storage.dynamo.aws import client

    return bytes(client("s3").get_object(Bucket="crm-test-files", Key=key)["Body"].read())


def test_an_object_written_across_suspensions_is_whole(export_storage: tuple[Any, Any]) -> None:
    store, files = export_storage
    key = files.object_key("t1", "J1")
    assert key.startswith("exports/t/t1/")
    writer = files.writer(key, None, "e.zip")
    writer.write(b"a" * 100)
    state = writer.suspend()
    writer.write(b"lost" * 50)  # written after the checkpoint by an invocation that then died
    resumed = files.writer(key, state, "e.zip")
    resumed.write(b"b" * 150)
    state = resumed.suspend()
    resumed = files.writer(key, state, "e.zip")
    resumed.write(b"c" * 10)
    assert resumed.close() == 260
    assert stored(files, key) == b"a" * 100 + b"b" * 150 + b"c" * 10
    store.save("t1", "J1", {"index": 2, "after": {"pk": "x"}, "rows": {"contacts": 3}}, LATER)
    assert store.get("t1", "J1") == {"index": 2, "after": {"pk": "x"}, "rows": {"contacts": 3}}
    assert store.get("t2", "J1") is None
    assert files.download_url(key, "e.zip", 60)
