"""In-memory twins of the reports ports (domain/reports/ports.py), for unit
tests; the stores and row sources are held to the same contract tests as
their DynamoDB/S3 adapters (tests/contract/test_report_stores.py). The row
sources hold domain records and map them with domain/reports/rows.py, as
the adapters do."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

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
from chalicelib.domain.shared.errors import Conflict, PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice

R = TypeVar("R", Report, ReportSchedule)


def _hour(moment: datetime) -> datetime:
    """Sweeps read whole hours (the adapter's index buckets) from the hour of ``since``."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class _Records:
    """Versioned records by (tenant, id), listed newest first by creator."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], Any] = {}
        self.swept: datetime | None = None

    def get(self, tenant_id: str, record_id: str) -> Any:
        return self.records.get((tenant_id, record_id))

    def create(self, record: R, *, by: str | None) -> R:
        if (record.tenant_id, record.id) in self.records:
            raise Conflict("The record already exists.")
        self.records[(record.tenant_id, record.id)] = record
        return record

    def update(self, before: R, after: R, *, by: str | None) -> R:
        current = self.records.get((before.tenant_id, before.id))
        if current is None or current.version != before.version:
            raise PreconditionFailed("The record changed since it was read; reload it and apply the change again.")
        saved = after.model_copy(update={"version": before.version + 1})
        self.records[(after.tenant_id, after.id)] = saved
        return saved

    def delete(self, record: Any, *, by: str | None, at: datetime) -> None:
        current = self.records.get((record.tenant_id, record.id))
        if current is None or current.version != record.version:
            raise PreconditionFailed("The record changed since it was read; reload it and apply the change again.")
        del self.records[(record.tenant_id, record.id)]

    def list_mine(self, tenant_id: str, user_id: str, page: PageRequest) -> Slice[Any]:
        mine = sorted(
            (r for (t, _), r in self.records.items() if t == tenant_id and r.created_by == user_id),
            key=lambda r: r.id,
            reverse=True,
        )
        after = (page.after or {}).get("sk")
        if after:
            mine = [r for r in mine if r.id < after]
        items = mine[: page.limit]
        return Slice(items, {"sk": items[-1].id} if len(mine) > page.limit and items else None)

    def last_sweep(self) -> datetime | None:
        return self.swept

    def record_sweep(self, until: datetime) -> None:
        self.swept = until


class MemoryReportStore(_Records):
    def __init__(self) -> None:
        super().__init__()
        self.slots: dict[tuple[str, str, str], str] = {}

    def create_for_slot(self, report: Report, schedule_id: str, slot: str) -> tuple[bool, Report]:
        key = (report.tenant_id, schedule_id, slot)
        if key in self.slots:
            existing = self.get(report.tenant_id, self.slots[key])
            return False, existing or report
        self.create(report, by=None)
        self.slots[key] = report.id
        return True, report

    def expired(self, since: datetime, until: datetime) -> list[tuple[str, str]]:
        start = _hour(since)
        return [
            (t, r.id)
            for (t, _), r in sorted(self.records.items())
            if r.expires_at is not None and start <= r.expires_at <= until
        ]


class MemoryScheduleStore(_Records):
    def due(self, since: datetime, until: datetime) -> list[tuple[str, str]]:
        start = _hour(since)
        return [(t, s.id) for (t, _), s in sorted(self.records.items()) if start <= s.next_run_at <= until]


class MemoryReportSettings:
    def __init__(self) -> None:
        self.settings: dict[str, ReportSettings] = {}

    def get(self, tenant_id: str) -> ReportSettings:
        return self.settings.get(tenant_id, ReportSettings())

    def put(self, tenant_id: str, settings: ReportSettings) -> ReportSettings:
        self.settings[tenant_id] = settings
        return settings


class MemoryReportFiles:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, tenant_id: str, report_id: str, data: bytes) -> str:
        key = f"t/{tenant_id}/reports/{report_id}/report.xlsx"
        self.objects[key] = data
        return key

    def download_url(self, key: str, *, filename: str, seconds: int) -> str:
        return f"https://files.example/{key}?expires={seconds}&name={filename}"

    def delete_all(self, tenant_id: str, report_id: str) -> None:
        prefix = f"t/{tenant_id}/reports/{report_id}/"
        for key in [k for k in self.objects if k.startswith(prefix)]:
            del self.objects[key]

    def park(self, tenant_id: str, report_id: str, source: str, data: bytes) -> None:
        self.objects[f"t/{tenant_id}/reports/{report_id}/rows-{source}.json"] = data

    def parked(self, tenant_id: str, report_id: str, source: str) -> bytes | None:
        return self.objects.get(f"t/{tenant_id}/reports/{report_id}/rows-{source}.json")


@dataclass
class MemoryRows:
    """Every row source at once, over domain records by tenant."""

    deal_records: dict[str, list[Any]] = field(default_factory=dict)
    contact_records: dict[str, list[Any]] = field(default_factory=dict)
    task_records: dict[str, list[Any]] = field(default_factory=dict)
    invoice_records: dict[str, list[Any]] = field(default_factory=dict)
    call_records: dict[str, list[Any]] = field(default_factory=dict)
    case_records: dict[str, list[Any]] = field(default_factory=dict)

    def deals(self, tenant_id: str) -> Iterator[DealRow]:
        return (deal_row(d) for d in self.deal_records.get(tenant_id, []))

    def contacts(self, tenant_id: str) -> Iterator[ContactRow]:
        return (contact_row(c) for c in self.contact_records.get(tenant_id, []))

    def tasks(self, tenant_id: str) -> Iterator[TaskRow]:
        return (task_row(t) for t in self.task_records.get(tenant_id, []))

    def invoices(self, tenant_id: str) -> Iterator[InvoiceRow]:
        return (invoice_row(i) for i in self.invoice_records.get(tenant_id, []))

    def calls(self, tenant_id: str) -> Iterator[CallRow]:
        return (call_row(c) for c in self.call_records.get(tenant_id, []))

    def currencies(self, tenant_id: str) -> set[str]:
        """Deals' and invoices' currencies (the twin answers for both ports)."""
        return {r.currency for r in [*self.deal_records.get(tenant_id, []), *self.invoice_records.get(tenant_id, [])]}

    def access_records(self, tenant_id: str, refs: Iterable[tuple[str, str]]) -> Mapping[tuple[str, str], AccessRecord]:
        by_kind = {
            "contact": self.contact_records.get(tenant_id, []),
            "deal": self.deal_records.get(tenant_id, []),
            "case": self.case_records.get(tenant_id, []),
        }
        wanted = set(refs)
        return {
            (kind, r.id): r.access_record()
            for kind, records in by_kind.items()
            for r in records
            if (kind, r.id) in wanted
        }


class OnlyCurrencies:
    """One source's currencies out of a MemoryRows (deals or invoices)."""

    def __init__(self, rows: MemoryRows, kind: str):
        self._rows, self._kind = rows, kind

    def currencies(self, tenant_id: str) -> set[str]:
        records = self._rows.deal_records if self._kind == "deals" else self._rows.invoice_records
        return {r.currency for r in records.get(tenant_id, [])}

    def deals(self, tenant_id: str) -> Iterator[DealRow]:
        return self._rows.deals(tenant_id)

    def invoices(self, tenant_id: str) -> Iterator[InvoiceRow]:
        return self._rows.invoices(tenant_id)


class MemoryMailer:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def send(self, *, to: str, subject: str, text: str, **_: Any) -> None:
        self.sent.append({"to": to, "subject": subject, "text": text})


class MemoryQueue:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def send(self, message: Mapping[str, Any], *, delay_seconds: int = 0) -> None:
        self.messages.append(dict(message))

    def send_many(self, messages: Iterable[Mapping[str, Any]]) -> None:
        self.messages += [dict(m) for m in messages]

    def take(self) -> list[dict[str, Any]]:
        taken, self.messages = self.messages, []
        return taken


class MemoryDirectory:
    """Tenants, users and groups, as the identity store answers reports."""

    def __init__(self) -> None:
        self.tenants: dict[str, Any] = {}
        self.users: dict[tuple[str, str], Any] = {}
        self.groups: dict[tuple[str, str], Any] = {}

    def get_tenant(self, tenant_id: str) -> Any:
        return self.tenants.get(tenant_id)

    def get_user(self, tenant_id: str, user_id: str) -> Any:
        return self.users.get((tenant_id, user_id))

    def get_users(self, tenant_id: str, user_ids: Iterable[str]) -> list[Any]:
        return [self.users[(tenant_id, u)] for u in user_ids if (tenant_id, u) in self.users]

    def get_groups(self, tenant_id: str, group_ids: Iterable[str]) -> list[Any]:
        return [self.groups[(tenant_id, g)] for g in group_ids if (tenant_id, g) in self.groups]


class MemoryLists:
    """Settings lists (deal stages, contact types, temperatures, task categories) by tenant."""

    def __init__(self) -> None:
        self.lists: dict[tuple[str, str], list[Any]] = {}

    def list(self, principal: Any, list_name: str) -> list[Any]:
        return self.lists.get((principal.tenant_id, list_name), [])


class MemoryMoney:
    def __init__(self) -> None:
        self.settings: dict[str, Any] = {}

    def get(self, principal: Any) -> Any:
        return self.settings[principal.tenant_id]
