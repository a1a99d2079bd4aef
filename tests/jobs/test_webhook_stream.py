"""The table's stream as webhooks read it (issue 18, point 6), on moto with the
emulator's adaptation, as the tests and the local stack run it: a committed
write is in the stream once; a write that fails its condition, or a
transaction that is cancelled, is not. The stream handler reports a failed
record by its sequence number; the local pump retries from there."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.shared.errors import Conflict, PreconditionFailed


def _records() -> list[dict[str, Any]]:
    from chalicelib.storage.webhooks import StreamTail

    return StreamTail().read(1000)


def _record_changes(records: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    from chalicelib.storage.webhooks import change_of

    changes = [change_of(r) for r in records]
    return [(c.kind, c.record_id, (c.new or {}).get("title")) for c in changes if c is not None]


def _case(title: str, case_id: str = "01J0000000000000000000CASE") -> Any:
    from chalicelib.domain.cases.models import Case

    now = datetime(2030, 1, 1, tzinfo=UTC)
    return Case(
        id=case_id, tenant_id="t1", title=title, created_at=now, updated_at=now, created_by="u1", updated_by="u1"
    )


def test_committed_writes_are_in_the_stream_and_failed_or_cancelled_ones_are_not(aws):
    from chalicelib.storage.cases import CaseStore

    store = CaseStore()
    tail_start = len(_records())
    made = store.create(_case("First"), by="u1")
    with pytest.raises(Conflict):
        store.create(_case("Again"), by="u1")  # a cancelled transaction: the record exists
    changed = store.update(made, made.model_copy(update={"title": "Second"}), by="u1")
    with pytest.raises(PreconditionFailed):
        store.update(made, made.model_copy(update={"title": "Stale"}), by="u1")  # condition on version 1 fails
    store.delete(changed, by="u1", at=changed.updated_at)
    records = _records()
    assert tail_start == 0
    assert _record_changes(records) == [
        ("case", made.id, "First"),
        ("case", made.id, "Second"),
        ("case", made.id, None),
    ]


def test_only_a_records_own_item_is_a_change():
    from chalicelib.storage.dynamo import keys

    assert keys.record_item("T#t1#CONTACT#01ABC", "META") == ("t1", "contact", "01ABC")
    assert keys.record_item("T#t1#IMPORT#01ABC", "META") == ("t1", "import", "01ABC")
    assert keys.record_item("T#t1#CONTACT#01ABC", "HIST#2030") is None, "history lives beside the record"
    assert keys.record_item("T#t1#CX#all", "N#ann#01ABC") is None, "an index entry"
    assert keys.record_item("T#t1#TENANT", "META") is None
    assert keys.record_item("SYS#JOB#x", "STATE") is None
    assert keys.record_item("T#t1#CHANGES#contact#01ABC", "META") is None


def test_a_failing_record_is_reported_by_its_sequence_number(aws):
    from chalicelib.bootstrap import container
    from chalicelib.handlers.background.webhooks import process_stream_batch
    from chalicelib.storage.cases import CaseStore

    CaseStore().create(_case("Good"), by="u1")
    CaseStore().create(_case("Bad", case_id="01J00000000000000000000BAD"), by="u1")
    records = _records()
    bad = [r for r in records if r["dynamodb"].get("NewImage", {}).get("title", {}).get("S") == "Bad"]
    assert len(bad) == 1

    class Broken:
        def batch(self) -> Any:
            return contextlib.nullcontext()

        def on_changes(self, changes: Any) -> int:
            if any((c.new or {}).get("title") == "Bad" for c in changes):
                raise RuntimeError("the table is away")
            return 0

    container().override(webhook_dispatch=Broken())
    answer = process_stream_batch({"Records": records})
    assert answer["batchItemFailures"] == [{"itemIdentifier": bad[0]["dynamodb"]["SequenceNumber"]}]


def test_the_local_pump_retries_from_the_first_failed_record_then_goes_on():
    from infra.local.pump import FunctionLimits, StreamPoller

    def record(n: int) -> dict[str, Any]:
        return {"eventID": str(n), "dynamodb": {"SequenceNumber": str(n)}}

    class Tail:
        def __init__(self) -> None:
            self.batches = [[record(1), record(2), record(3)], [record(4)]]

        def read(self, limit: int) -> list[dict[str, Any]]:
            return self.batches.pop(0) if self.batches else []

    seen: list[list[str]] = []
    fail_once = {"2"}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        ids = [r["eventID"] for r in event["Records"]]
        seen.append(ids)
        failed = [i for i in ids if i in fail_once]
        fail_once.clear()
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

    poller = StreamPoller("webhook_events", tail=Tail())
    poller.RETRY_PAUSE = 0.0
    limits = FunctionLimits()
    for _ in range(4):
        poller.poll(handler, limits)
    assert seen == [["1", "2", "3"], ["2", "3"], ["4"]]


def test_an_imports_finish_is_one_import_finished_event_and_a_repeated_finish_none(aws):
    from datetime import timedelta

    from chalicelib.domain.imports.models import Import, ImportStatus
    from chalicelib.domain.webhooks.events import events_of
    from chalicelib.storage.imports import ImportStore
    from chalicelib.storage.webhooks import change_of

    now = datetime(2030, 1, 1, tzinfo=UTC)
    store = ImportStore()
    record = Import(
        id="01J000000000000000000IMPRT",
        tenant_id="t1",
        entity="contacts",
        filename="contacts.csv",
        status=ImportStatus.RUNNING,
        created_at=now,
        updated_at=now,
    )
    store.create(record, expires_at=now + timedelta(days=30))
    store.finish("t1", record.id, now + timedelta(minutes=5))
    store.finish("t1", record.id, now + timedelta(minutes=6))  # redelivered: its condition fails
    changes = [c for c in (change_of(r) for r in _records()) if c is not None]
    events = [e for c in changes for e in events_of(c)]
    assert [(e.type, e.record_id) for e in events] == [("import.finished", record.id)]
    assert events[0].new is not None and events[0].new["outcome"] == "finished"
    assert events[0].new["status"] == "done"
