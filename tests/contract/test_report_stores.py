"""The reports ports' contract, asserted of the in-memory twins and the
DynamoDB/S3 adapters alike (storage/reports.py vs storage/memory/reports.py):
records conditioned on the version read, creator-only lists in pages, one
report per schedule slot, the sweeps' due and expired items, parked rows and
files under the tenant, and the row sources giving the same rows for the same
records (deals, contacts, tasks, calls) and the same linked access."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.reports.models import Every, Period, Report, ReportSchedule, ReportSettings, ReportType
from chalicelib.domain.shared.errors import PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest
from tests.report_helpers import CALLS, CONTACTS, DEALS, INVOICES, TASKS, _call, _contact, _deal, _invoice, _task

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    if request.param == "memory":
        from chalicelib.storage.memory import reports as memory

        yield {
            "reports": memory.MemoryReportStore(),
            "schedules": memory.MemoryScheduleStore(),
            "files": memory.MemoryReportFiles(),
            "settings": memory.MemoryReportSettings(),
        }
    else:
        request.getfixturevalue("aws")
        from chalicelib.storage import reports as dynamo

        yield {
            "reports": dynamo.DynamoReportStore(),
            "schedules": dynamo.DynamoScheduleStore(),
            "files": dynamo.S3ReportFiles(),
            "settings": dynamo.DynamoReportSettings(),
        }


def report(report_id: str, *, tenant: str = "t1", by: str = "anna", **changes: Any) -> Report:
    return Report(
        id=report_id,
        tenant_id=tenant,
        type=ReportType.SUMMARY_NOW,
        period=Period(preset="this_month"),
        created_at=NOW,
        created_by=by,
        updated_at=NOW,
        **changes,
    )


def schedule(schedule_id: str, next_run_at: datetime, *, tenant: str = "t1", by: str = "anna") -> ReportSchedule:
    return ReportSchedule(
        id=schedule_id,
        tenant_id=tenant,
        type=ReportType.SALES_FUNNEL,
        period=Period(preset="last_week"),
        every=Every.WEEK,
        next_run_at=next_run_at,
        created_at=NOW,
        created_by=by,
        updated_at=NOW,
    )


def test_reports_are_versioned_and_listed_to_their_creator_in_pages(stores):
    store = stores["reports"]
    for n in range(3):
        store.create(report(f"r{n}"), by="anna")
    store.create(report("r9", by="ben"), by="ben")
    store.create(report("r8", tenant="t2"), by="anna")
    first = store.list_mine("t1", "anna", PageRequest(limit=2))
    assert [r.id for r in first.items] == ["r2", "r1"] and first.after is not None
    rest = store.list_mine("t1", "anna", PageRequest(limit=2, after=first.after))
    assert [r.id for r in rest.items] == ["r0"] and rest.after is None
    assert store.get("t2", "r0") is None
    before = store.get("t1", "r0")
    after = store.update(before, before.model_copy(update={"percent": 50}), by=None)
    assert after.version == 2 and store.get("t1", "r0").percent == 50
    with pytest.raises(PreconditionFailed):
        store.update(before, before.model_copy(update={"percent": 60}), by=None)
    with pytest.raises(PreconditionFailed):
        store.delete(before, by="anna", at=NOW)
    store.delete(after, by="anna", at=NOW)
    assert store.get("t1", "r0") is None
    assert [r.id for r in store.list_mine("t1", "anna", PageRequest()).items] == ["r2", "r1"]


def test_a_schedule_slot_gets_one_report(stores):
    store = stores["reports"]
    created, first = store.create_for_slot(report("r1"), "s1", "W2026-11-23")
    assert created and first.id == "r1"
    created, again = store.create_for_slot(report("r2"), "s1", "W2026-11-23")
    assert not created and again.id == "r1"
    assert store.get("t1", "r2") is None
    assert store.create_for_slot(report("r3"), "s1", "W2026-11-30")[0]
    assert store.create_for_slot(report("r4", tenant="t2"), "s1", "W2026-11-23")[0]  # another tenant's slot


def test_finished_reports_are_found_by_their_expiry(stores):
    store = stores["reports"]
    made = store.create(report("r1"), by="anna")
    store.create(report("r2"), by="anna")
    store.update(made, made.model_copy(update={"expires_at": NOW + timedelta(days=2)}), by=None)
    assert store.expired(NOW, NOW + timedelta(days=1)) == []
    assert store.expired(NOW + timedelta(days=1), NOW + timedelta(days=2, minutes=1)) == [("t1", "r1")]
    assert store.last_sweep() is None
    store.record_sweep(NOW)
    assert store.last_sweep() == NOW


def test_due_schedules_are_found_by_their_next_run(stores):
    store = stores["schedules"]
    first = store.create(schedule("s1", NOW + timedelta(hours=2)), by="anna")
    store.create(schedule("s2", NOW + timedelta(days=3), tenant="t2"), by="anna")
    assert store.due(NOW, NOW + timedelta(hours=1)) == []
    assert store.due(NOW, NOW + timedelta(hours=2)) == [("t1", "s1")]
    moved = store.update(first, first.model_copy(update={"next_run_at": NOW + timedelta(days=7)}), by=None)
    assert store.due(NOW, NOW + timedelta(hours=3)) == []
    assert store.due(NOW + timedelta(days=7), NOW + timedelta(days=7)) == [("t1", "s1")]
    assert [s.id for s in store.list_mine("t1", "anna", PageRequest()).items] == ["s1"]
    store.delete(moved, by="anna", at=NOW)
    assert store.get("t1", "s1") is None


def test_files_and_parked_rows_live_under_the_tenant_and_go_together(stores):
    files = stores["files"]
    key = files.put("t1", "r1", b"PK-workbook")
    assert key == "t/t1/reports/r1/report.xlsx"
    files.park("t1", "r1", "deals", b"[]")
    assert files.parked("t1", "r1", "deals") == b"[]"
    assert files.parked("t1", "r1", "calls") is None
    assert files.parked("t2", "r1", "deals") is None
    assert "report.xlsx" in files.download_url(key, filename="x.xlsx", seconds=60)
    files.delete_all("t1", "r1")
    assert files.parked("t1", "r1", "deals") is None


def test_retention_defaults_to_30_days_per_tenant(stores):
    settings = stores["settings"]
    assert settings.get("t1").retention_days == 30
    settings.put("t1", ReportSettings(retention_days=7))
    assert settings.get("t1").retention_days == 7 and settings.get("t2").retention_days == 30


# ---- row sources: the adapters over the table and the twin over the same records ----


def _seed(store: Any, records: list[Any]) -> None:
    """The items and index entries the store writes for each record (without
    the side effects on lists and counters, which reports never read)."""
    puts = [item for r in records for item in [store.item(r), *store.index_entries(r).values()]]
    store._table.write_batch(puts)


@pytest.fixture(params=["memory", "dynamodb"])
def sources(request: pytest.FixtureRequest) -> Iterator[Any]:
    records = {
        "deal": [_deal(s, "t1") for s in DEALS],
        "contact": [_contact(s, "t1") for s in CONTACTS],
        "task": [_task(s, "t1") for s in TASKS],
        "call": [_call(s, "t1") for s in CALLS],
        "invoice": [_invoice(s, "t1") for s in INVOICES],
    }
    if request.param == "memory":
        from chalicelib.storage.memory.reports import MemoryRows

        rows = MemoryRows(
            deal_records={"t1": records["deal"]},
            contact_records={"t1": records["contact"]},
            task_records={"t1": records["task"]},
            call_records={"t1": records["call"]},
            invoice_records={"t1": records["invoice"]},
        )
        yield rows, rows, rows, rows, rows, rows
        return
    request.getfixturevalue("aws")
    from chalicelib.storage.contacts.store import ContactStore
    from chalicelib.storage.deals import DealStore
    from chalicelib.storage.invoices.store import InvoiceStore
    from chalicelib.storage.reports import (
        CallRowSource,
        ContactRowSource,
        DealRowSource,
        InvoiceRowSource,
        LinkedRecordAccess,
        TaskRowSource,
    )
    from chalicelib.storage.tasks.store import TaskStore
    from chalicelib.storage.voip import DynamoCallStore

    deal_store, contact_store, task_store, call_store = DealStore(), ContactStore(), TaskStore(), DynamoCallStore()
    invoice_store = InvoiceStore()
    for store, kind in (
        (deal_store, "deal"),
        (contact_store, "contact"),
        (task_store, "task"),
        (call_store, "call"),
        (invoice_store, "invoice"),
    ):
        _seed(store, records[kind])
    # Another tenant's records never appear.
    _seed(deal_store, [_deal(s, "t2") for s in DEALS[:2]])
    yield (
        DealRowSource(deal_store),
        ContactRowSource(contact_store),
        TaskRowSource(task_store),
        CallRowSource(call_store),
        LinkedRecordAccess({"contact": contact_store, "deal": deal_store}),
        InvoiceRowSource(invoice_store),
    )


def test_row_sources_give_every_record_of_the_tenant_once(sources):
    from chalicelib.domain.reports.rows import call_row, contact_row, deal_row, task_row

    deals, contacts, tasks, calls, _, _ = sources
    assert sorted(deals.deals("t1"), key=lambda r: r.id) == sorted(
        (deal_row(_deal(s, "t1")) for s in DEALS), key=lambda r: r.id
    )
    assert sorted(contacts.contacts("t1"), key=lambda r: r.id) == [contact_row(_contact(s, "t1")) for s in CONTACTS]
    assert sorted(tasks.tasks("t1"), key=lambda r: r.id) == [task_row(_task(s, "t1")) for s in TASKS]
    assert sorted(calls.calls("t1"), key=lambda r: r.id) == [call_row(_call(s, "t1")) for s in CALLS]
    assert list(contacts.contacts("t3")) == []


def test_linked_access_records_are_the_records_own(sources):
    *_, linked, _ = sources
    found = linked.access_records("t1", [("contact", "c4"), ("deal", "d8"), ("deal", "missing")])
    assert set(found) == {("contact", "c4"), ("deal", "d8")}
    assert found[("contact", "c4")] == _contact(CONTACTS[3], "t1").access_record()
    assert found[("deal", "d8")] == _deal(DEALS[7], "t1").access_record()
    assert linked.access_records("t2", [("contact", "c4")]) == {}


def test_invoice_rows_carry_the_invoices_own_total_and_their_currencies(sources):
    from decimal import Decimal

    from chalicelib.domain.reports.rows import invoice_row

    invoices = sources[5]
    rows = sorted(invoices.invoices("t1"), key=lambda r: r.id)
    assert rows == [invoice_row(_invoice(s, "t1")) for s in INVOICES]
    assert {r.id: r.total for r in rows}["i5"] == Decimal("200.00")
    assert invoices.currencies("t1") >= {"EUR", "USD", "GBP"}
    assert list(invoices.invoices("t2")) == []
