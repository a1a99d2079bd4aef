"""Reports in the single table and S3 (REP-4), and the row sources that read
deals, contacts, tasks, invoices and calls for them.

- A report and a schedule are IndexedStore records with one index entry
  each, under their creator (``mine#<uid>``): the list is the creator's own.
- A finished report carries ``sched_pk``/``sched_sk`` in the cross-tenant
  ``schedule`` index (hour of its expiry); a schedule carries the hour of its
  next run. The scheduled function Queries those hours only.
- A schedule slot's report is created in one transaction with a marker
  ``RSCHED#<id>`` / ``SLOT#<slot>`` put under attribute_not_exists: two
  overlapping runs make one report.
- Workbooks and parked rows live under ``t/<tenant>/reports/<id>/``; clients
  get a presigned URL of a few minutes.
- Row sources read every record of the tenant through the ``all`` facet of
  its index (a Query per 200 entries, a BatchGetItem per 100 records): a
  background job's read, never a request's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from chalicelib.domain.reports.models import (
    CallRow,
    ContactRow,
    DealRow,
    InvoiceRow,
    Report,
    ReportSchedule,
    ReportSettings,
    TaskRow,
)
from chalicelib.domain.reports.rows import call_row, contact_row, deal_row, invoice_row, task_row
from chalicelib.domain.shared.access import AccessRecord
from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.errors import Conflict
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.storage.blobs import BlobStore, tenant_object_key
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.indexed_store import EntryKey, IndexedStore, Item
from chalicelib.storage.dynamo.table import Put, SortKey, Table
from chalicelib.storage.dynamo.table_spec import SCHEDULE_INDEX

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_BATCH = 100


class _SlotTaken(Conflict):
    """The slot has its report already."""


def _swept(table: Table, job: str) -> datetime | None:
    state = table.get(keys.job_state(job))
    return datetime.fromisoformat(state["swept_until"]) if state else None


def _record_sweep(table: Table, job: str, until: datetime) -> None:
    table.update(keys.job_state(job), set={"swept_until": iso(until)}, bump_version=False, must_exist=False)


def _bucket_items(table: Table, buckets: Iterable[str], until: datetime) -> list[Item]:
    found: list[Item] = []
    for bucket in buckets:
        after = None
        while True:
            page = table.query(
                bucket,
                index=SCHEDULE_INDEX,
                sort=SortKey.at_most(iso(until) + "~"),
                page=PageRequest(limit=200, after=after),
            )
            found += page.items
            if page.after is None:
                break
            after = page.after
    return found


class DynamoReportStore(IndexedStore[Report]):
    kind = "report"
    model = Report

    def record_key(self, tenant_id: str, record_id: str) -> dict[str, str]:
        return keys.report(tenant_id, record_id)

    def facet(self, tenant_id: str, name: str) -> str:
        return keys.report_facet(tenant_id, name)

    def item(self, record: Report) -> Item:
        item = super().item(record)
        if record.expires_at is not None:
            item.update(keys.report_expiry_index(record.expires_at, record.id))
        return item

    def index_entries(self, record: Report) -> dict[EntryKey, Item]:
        pk = self.facet(record.tenant_id, f"mine#{record.created_by}")
        return {(pk, record.id): {"pk": pk, "sk": record.id, "rid": record.id}}

    def create(self, record: Report, *, by: str | None, extra: Iterable[Any] = ()) -> Report:
        return super().create(record, by=by, extra=extra)

    def create_for_slot(self, report: Report, schedule_id: str, slot: str) -> tuple[bool, Report]:
        marker = {**keys.report_slot(report.tenant_id, schedule_id, slot), "report_id": report.id}
        try:
            self.create(report, by=None, extra=[Put(marker, on_conflict=_SlotTaken("The slot has its report."))])
            return True, report
        except _SlotTaken:
            found = self._table.get(keys.report_slot(report.tenant_id, schedule_id, slot), consistent=True)
            existing = self.get(report.tenant_id, found["report_id"]) if found else None
            return False, existing or report

    def list_mine(self, tenant_id: str, user_id: str, page: PageRequest) -> Slice[Report]:
        return self.query(tenant_id, f"mine#{user_id}", page, visible=lambda _: True)

    def expired(self, since: datetime, until: datetime) -> list[tuple[str, str]]:
        items = _bucket_items(
            self._table, [keys.report_expiry_bucket(h) for h in keys.report_hours(since, until)], until
        )
        return [(i["tenant_id"], i["id"]) for i in items]

    def last_sweep(self) -> datetime | None:
        return _swept(self._table, "reports.expiry")

    def record_sweep(self, until: datetime) -> None:
        _record_sweep(self._table, "reports.expiry", until)


class DynamoScheduleStore(IndexedStore[ReportSchedule]):
    kind = "report schedule"
    model = ReportSchedule

    def record_key(self, tenant_id: str, record_id: str) -> dict[str, str]:
        return keys.report_schedule(tenant_id, record_id)

    def facet(self, tenant_id: str, name: str) -> str:
        return keys.report_schedule_facet(tenant_id, name)

    def item(self, record: ReportSchedule) -> Item:
        return {**super().item(record), **keys.report_due_index(record.next_run_at, record.id)}

    def index_entries(self, record: ReportSchedule) -> dict[EntryKey, Item]:
        pk = self.facet(record.tenant_id, f"mine#{record.created_by}")
        return {(pk, record.id): {"pk": pk, "sk": record.id, "rid": record.id}}

    def list_mine(self, tenant_id: str, user_id: str, page: PageRequest) -> Slice[ReportSchedule]:
        return self.query(tenant_id, f"mine#{user_id}", page, visible=lambda _: True)

    def due(self, since: datetime, until: datetime) -> list[tuple[str, str]]:
        items = _bucket_items(self._table, [keys.report_due_bucket(h) for h in keys.report_hours(since, until)], until)
        return [(i["tenant_id"], i["id"]) for i in items]

    def last_sweep(self) -> datetime | None:
        return _swept(self._table, "reports.schedules")

    def record_sweep(self, until: datetime) -> None:
        _record_sweep(self._table, "reports.schedules", until)


class DynamoReportSettings:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def get(self, tenant_id: str) -> ReportSettings:
        item = self._table.get(keys.report_settings(tenant_id))
        return ReportSettings.model_validate(item) if item else ReportSettings()

    def put(self, tenant_id: str, settings: ReportSettings) -> ReportSettings:
        self._table.update(
            keys.report_settings(tenant_id), set=settings.model_dump(), bump_version=False, must_exist=False
        )
        return settings


class S3ReportFiles:
    def __init__(self, blobs: BlobStore | None = None):
        self._blobs = blobs or BlobStore()

    @staticmethod
    def _key(tenant_id: str, report_id: str, name: str) -> str:
        return tenant_object_key(tenant_id, "reports", report_id, name)

    def put(self, tenant_id: str, report_id: str, data: bytes) -> str:
        key = self._key(tenant_id, report_id, "report.xlsx")
        self._blobs.put(key, data, XLSX)
        return key

    def download_url(self, key: str, *, filename: str, seconds: int) -> str:
        return self._blobs.download_url(key, seconds=seconds, filename=filename)

    def delete_all(self, tenant_id: str, report_id: str) -> None:
        self._blobs.delete_prefix(tenant_object_key(tenant_id, "reports", report_id) + "/")

    def park(self, tenant_id: str, report_id: str, source: str, data: bytes) -> None:
        self._blobs.put(self._key(tenant_id, report_id, f"rows-{source}.json"), data, "application/json")

    def parked(self, tenant_id: str, report_id: str, source: str) -> bytes | None:
        from chalicelib.domain.shared.errors import NotFound

        try:
            return self._blobs.get(self._key(tenant_id, report_id, f"rows-{source}.json"))[0]
        except NotFound:
            return None


# ---- row sources ----


def _records(store: IndexedStore[Any], tenant_id: str, facet: str, sort: SortKey | None = None) -> Iterator[Any]:
    """Every record of a facet, a BatchGetItem per hundred index entries."""
    after = None
    pending: list[str] = []
    while True:
        page = store.query_entries(store.facet(tenant_id, facet), PageRequest(limit=200, after=after), sort=sort)
        pending += [e[store.entry_id] for e in page.items]
        while len(pending) >= _BATCH or (pending and page.after is None):
            batch, pending = pending[:_BATCH], pending[_BATCH:]
            yield from store.get_many(tenant_id, batch)
        if page.after is None:
            return
        after = page.after


class DealRowSource:
    def __init__(self, deal_store: Any):
        self._store = deal_store

    def deals(self, tenant_id: str) -> Iterator[DealRow]:
        return (deal_row(d) for d in _records(self._store, tenant_id, "all"))

    def currencies(self, tenant_id: str) -> set[str]:
        """From the pipeline aggregates (one Query): a currency whose count is above zero has deals."""
        return {
            str(i["sk"]).rsplit("#", 1)[-1] for i in self._store.aggregates(tenant_id) if int(i.get("count", 0)) > 0
        }


class ContactRowSource:
    def __init__(self, contact_store: Any):
        self._store = contact_store

    def contacts(self, tenant_id: str) -> Iterator[ContactRow]:
        creation = SortKey.begins_with(keys.contact_by_creation(""))
        return (contact_row(c) for c in _records(self._store, tenant_id, "all", creation))


class TaskRowSource:
    def __init__(self, task_store: Any):
        self._store = task_store

    def tasks(self, tenant_id: str) -> Iterator[TaskRow]:
        return (task_row(t) for t in _records(self._store, tenant_id, "all"))


class CallRowSource:
    def __init__(self, call_store: Any):
        self._store = call_store

    def calls(self, tenant_id: str) -> Iterator[CallRow]:
        return (call_row(c) for c in _records(self._store, tenant_id, "all"))


class InvoiceRowSource:
    """Invoices (issue 11) as report rows: every invoice of the tenant through
    the ``all`` facet of its index; the total is the invoice's own (its lines,
    discounts and taxes: domain/invoices/service.totals_of), in its currency."""

    def __init__(self, invoice_store: Any):
        self._store = invoice_store

    def invoices(self, tenant_id: str) -> Iterator[InvoiceRow]:
        return (invoice_row(i) for i in _records(self._store, tenant_id, "all"))

    def currencies(self, tenant_id: str) -> set[str]:
        """The currencies of the tenant's invoices, from their index entries alone (no record is read)."""
        return {str(e["currency"]) for e in self._store.entries(tenant_id, "all")}


class LinkedRecordAccess:
    """Access records of a task's links and an invoice's client."""

    def __init__(self, stores: Mapping[str, Any]):
        self._stores = stores

    def access_records(self, tenant_id: str, refs: Iterable[tuple[str, str]]) -> Mapping[tuple[str, str], AccessRecord]:
        by_kind: dict[str, list[str]] = {}
        for kind, record_id in refs:
            by_kind.setdefault(kind, []).append(record_id)
        found: dict[tuple[str, str], AccessRecord] = {}
        for kind, ids in by_kind.items():
            store = self._stores.get(kind)
            if store is None:
                continue
            for start in range(0, len(ids), _BATCH):
                for record in store.get_many(tenant_id, ids[start : start + _BATCH]):
                    found[(kind, record.id)] = record.access_record()
        return found
